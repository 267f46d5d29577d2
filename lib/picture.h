/* Pictures for previews: an RGB canvas, the viridis colour map, a small
 * built-in bitmap font, and PNG output with libpng. */
#ifndef AREPO_PICTURE_H
#define AREPO_PICTURE_H

#include <stdint.h>

#include "log.h"

struct canvas {
	int width, height;
	uint8_t *rgb; /* 3 bytes per pixel, rows from the top */
};

int canvas_init(struct canvas *c, int width, int height, const uint8_t background[3]);
void canvas_free(struct canvas *c);
void canvas_set(struct canvas *c, int x, int y, const uint8_t rgb[3]);
void canvas_line(struct canvas *c, int x0, int y0, int x1, int y1, const uint8_t rgb[3]);
/* Text in a 5x7 font scaled by scale; unknown characters are left blank.
 * Returns the width drawn. */
int canvas_text(struct canvas *c, int x, int y, const char *text, int scale, const uint8_t rgb[3]);
int text_width(const char *text, int scale);

/* Colour of t in [0, 1] on viridis (9 stops, linear between them). */
void viridis(double t, uint8_t rgb[3]);
/* The colours of values that are not finite. */
extern const uint8_t colour_nan[3], colour_inf[3];

/* Writes the canvas as an 8-bit RGB PNG, atomically. */
int png_write(const char *path, const struct canvas *c, struct arepo_err *err);

#endif
