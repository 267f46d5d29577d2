/* Pictures for previews: canvas, viridis, a 5x7 font, PNG via libpng. */
#include "picture.h"

#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"

const uint8_t colour_nan[3] = { 255, 0, 255 };
const uint8_t colour_inf[3] = { 255, 0, 0 };

/* viridis at 0, 1/8, ..., 1. */
static const uint8_t viridis_stops[9][3] = {
	{ 0x44, 0x01, 0x54 }, { 0x47, 0x2c, 0x7a }, { 0x3b, 0x51, 0x8b }, { 0x2c, 0x71, 0x8e },
	{ 0x21, 0x90, 0x8d }, { 0x27, 0xad, 0x81 }, { 0x5c, 0xc8, 0x63 }, { 0xaa, 0xdc, 0x32 },
	{ 0xfd, 0xe7, 0x25 },
};

void viridis(double t, uint8_t rgb[3])
{
	if (!(t > 0))
		t = 0;
	if (t > 1)
		t = 1;
	double x = t * 8;
	int i = (int)x;
	if (i > 7)
		i = 7;
	double f = x - i;
	for (int k = 0; k < 3; k++)
		rgb[k] = (uint8_t)lround(viridis_stops[i][k] + f * (viridis_stops[i + 1][k] - viridis_stops[i][k]));
}

int canvas_init(struct canvas *c, int width, int height, const uint8_t background[3])
{
	c->width = width;
	c->height = height;
	c->rgb = malloc((size_t)width * (size_t)height * 3);
	if (!c->rgb)
		return -1;
	for (size_t i = 0; i < (size_t)width * (size_t)height; i++)
		memcpy(c->rgb + 3 * i, background, 3);
	return 0;
}

void canvas_free(struct canvas *c)
{
	free(c->rgb);
	c->rgb = NULL;
}

void canvas_set(struct canvas *c, int x, int y, const uint8_t rgb[3])
{
	if (x >= 0 && y >= 0 && x < c->width && y < c->height)
		memcpy(c->rgb + 3 * ((size_t)y * (size_t)c->width + (size_t)x), rgb, 3);
}

void canvas_line(struct canvas *c, int x0, int y0, int x1, int y1, const uint8_t rgb[3])
{
	int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
	int e = dx + dy;
	for (;;) {
		canvas_set(c, x0, y0, rgb);
		if (x0 == x1 && y0 == y1)
			break;
		int e2 = 2 * e;
		if (e2 >= dy) {
			e += dy;
			x0 += sx;
		}
		if (e2 <= dx) {
			e += dx;
			y0 += sy;
		}
	}
}

/* 5x7 glyphs, one byte per row, bit 4 the leftmost column. */
static const struct { char ch; uint8_t rows[7]; } font[] = {
	{ '0', { 0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e } },
	{ '1', { 0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e } },
	{ '2', { 0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f } },
	{ '3', { 0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e } },
	{ '4', { 0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02 } },
	{ '5', { 0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e } },
	{ '6', { 0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e } },
	{ '7', { 0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08 } },
	{ '8', { 0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e } },
	{ '9', { 0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c } },
	{ '.', { 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c } },
	{ '-', { 0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00 } },
	{ '+', { 0x00, 0x04, 0x04, 0x1f, 0x04, 0x04, 0x00 } },
	{ '/', { 0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x10 } },
	{ '(', { 0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02 } },
	{ ')', { 0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08 } },
	{ 'e', { 0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e } },
	{ 'g', { 0x00, 0x0f, 0x11, 0x11, 0x0f, 0x01, 0x0e } },
	{ 'c', { 0x00, 0x00, 0x0e, 0x10, 0x10, 0x11, 0x0e } },
	{ 'm', { 0x00, 0x00, 0x1a, 0x15, 0x15, 0x11, 0x11 } },
	{ 's', { 0x00, 0x00, 0x0e, 0x10, 0x0e, 0x01, 0x1e } },
	{ 'k', { 0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12 } },
	{ 'K', { 0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11 } },
	{ 'l', { 0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e } },
	{ 'o', { 0x00, 0x00, 0x0e, 0x11, 0x11, 0x11, 0x0e } },
	{ 'n', { 0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11 } },
	{ 'i', { 0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e } },
	{ 'a', { 0x00, 0x00, 0x0e, 0x01, 0x0f, 0x11, 0x0f } },
	{ 'r', { 0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10 } },
	{ 'H', { 0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11 } },
	{ 'C', { 0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e } },
	{ 'O', { 0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e } },
	{ 'T', { 0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04 } },
	{ 'v', { 0x00, 0x00, 0x11, 0x11, 0x11, 0x0a, 0x04 } },
	{ 'd', { 0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f } },
	{ 'u', { 0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0d } },
	{ 't', { 0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06 } },
	{ ' ', { 0, 0, 0, 0, 0, 0, 0 } },
};

int text_width(const char *text, int scale)
{
	return (int)strlen(text) * 6 * scale;
}

int canvas_text(struct canvas *c, int x, int y, const char *text, int scale, const uint8_t rgb[3])
{
	int x0 = x;
	for (const char *p = text; *p; p++, x += 6 * scale) {
		for (size_t g = 0; g < sizeof font / sizeof font[0]; g++) {
			if (font[g].ch != *p)
				continue;
			for (int row = 0; row < 7; row++)
				for (int col = 0; col < 5; col++)
					if (font[g].rows[row] & (0x10 >> col))
						for (int a = 0; a < scale; a++)
							for (int b = 0; b < scale; b++)
								canvas_set(c, x + col * scale + a, y + row * scale + b, rgb);
			break;
		}
	}
	return x - x0;
}

int png_write(const char *path, const struct canvas *c, struct arepo_err *err)
{
	struct atomic_output out;
	int rc = atomic_begin(&out, path, err);
	if (rc)
		return rc;
	FILE *f = fopen(out.temp, "wb");
	if (!f) {
		atomic_abort(&out);
		return err_set(err, EXIT_RUNTIME, "%s: cannot create", path);
	}
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!png || !info || setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		fclose(f);
		atomic_abort(&out);
		return err_set(err, EXIT_RUNTIME, "%s: PNG write failed", path);
	}
	png_init_io(png, f);
	png_set_IHDR(png, info, (png_uint_32)c->width, (png_uint_32)c->height, 8, PNG_COLOR_TYPE_RGB,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (int y = 0; y < c->height; y++)
		png_write_row(png, c->rgb + 3 * (size_t)y * (size_t)c->width);
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	if (fclose(f) != 0) {
		atomic_abort(&out);
		return err_set(err, EXIT_RUNTIME, "%s: write failed", path);
	}
	return atomic_commit(&out, err);
}
