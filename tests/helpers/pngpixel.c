/* Test helper: decodes a PNG with libpng and prints its size, then the RGB
 * of each pixel asked for. Usage: pngpixel FILE [X Y]... */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	if (argc < 2 || argc % 2)
		return 2;
	FILE *f = fopen(argv[1], "rb");
	if (!f)
		return 1;
	png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);
	if (setjmp(png_jmpbuf(png))) {
		fprintf(stderr, "%s: not a valid PNG\n", argv[1]);
		return 1;
	}
	png_init_io(png, f);
	png_read_png(png, info, PNG_TRANSFORM_STRIP_16 | PNG_TRANSFORM_STRIP_ALPHA | PNG_TRANSFORM_EXPAND, NULL);
	png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
	png_bytepp rows = png_get_rows(png, info);
	int channels = png_get_channels(png, info);
	printf("%u %u\n", (unsigned)w, (unsigned)h);
	for (int a = 2; a < argc; a += 2) {
		unsigned x = (unsigned)atoi(argv[a]), y = (unsigned)atoi(argv[a + 1]);
		if (x >= w || y >= h) {
			printf("outside\n");
			continue;
		}
		png_bytep p = rows[y] + (size_t)x * (size_t)channels;
		printf("%u %u %u\n", p[0], p[1], p[2]);
	}
	png_destroy_read_struct(&png, &info, NULL);
	fclose(f);
	return 0;
}
