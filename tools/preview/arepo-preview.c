/* arepo-preview: PNG pictures of tensors (IRIS's top-down H2 map, slices),
 * datasets (a contact sheet) and snapshots (a face-on map with the
 * observers and their frusta). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cells.h"
#include "channels.h"
#include "cli.h"
#include "dataset.h"
#include "h5util.h"
#include "nearest.h"
#include "observed.h"
#include "picture.h"
#include "snapshot.h"
#include "tensor.h"
#include "viewcut.h"

static const char usage[] =
	"Usage: arepo-preview [OPTION]... -o OUT.png TENSOR|OBSERVED|DATASET|SNAPSHOT\n"
	"Draw a PNG picture: of a tensor file, IRIS's top-down H2 map (or a slice\n"
	"of a channel with --slice); of an observed file, its observed lon-velocity\n"
	"map (on --scale, default linear) beside its columnized map (log); of a\n"
	"dataset directory, a contact sheet of the H2 maps of its first --grid\n"
	"entries in shuffle order; of a snapshot, a face-on map of the H2 density\n"
	"with the observers and their frusta.\n"
	"\n"
	"  -o, --output FILE      the PNG file (required)\n"
	"      --slice AXIS=I     a slice of --channel at index I of r, lon or lat\n"
	"      --channel C        0 v_r, 1 density, 2 temperature, 3 x_H2, 4 x_CO,\n"
	"                         5 dust temperature (default 1)\n"
	"      --scale S          log (default; linear for an observed map) or linear\n"
	"      --range MIN:MAX    the colour bar's range (default: the data's)\n"
	"      --grid N           entries of a dataset's contact sheet (default 16)\n"
	"      --size N           grid points per side of a snapshot's map (default 128)\n"
	"      --width PC         width of a snapshot's map (default 2.4 x observer_radius)\n"
	CLI_COMMON_HELP
	"\n"
	"Values are drawn with viridis; NaN is magenta, infinities red. The colour\n"
	"bar shows the range and the units. See arepo-preview(1).\n";

enum { OPT_SLICE = CLI_OPT_FIRST_TOOL, OPT_CHANNEL, OPT_SCALE, OPT_RANGE, OPT_GRID, OPT_SIZE,
       OPT_WIDTH };

struct image {
	int w, h;
	float *v; /* row 0 at the top */
};

struct style {
	int log;
	int fixed_range;
	double lo, hi;
};

static const uint8_t white[3] = { 255, 255, 255 }, black[3] = { 0, 0, 0 };

/* Display units from processing units. */
static double channel_factor(int channel, const struct arepo_config *cfg, const char **units)
{
	const struct writer_hyper *w = &cfg->writer_hyper;
	switch (channel_table[channel].quantity) {
	case QUANTITY_VELOCITY: *units = "km/s"; return w->velocity_cm_per_s_per_processing / 1e5;
	case QUANTITY_DENSITY: *units = "g/cm3"; return w->mass_g_per_processing / pow(w->length_cm_per_processing, 3);
	case QUANTITY_TEMPERATURE: *units = "K"; return w->temperature_K_per_processing;
	default: *units = ""; return 1;
	}
}

static void range_of(const struct image *im, const struct style *st, double *lo, double *hi)
{
	*lo = INFINITY;
	*hi = -INFINITY;
	for (size_t i = 0; i < (size_t)im->w * (size_t)im->h; i++) {
		double v = im->v[i];
		if (!isfinite(v) || (st->log && !(v > 0)))
			continue;
		*lo = fmin(*lo, v);
		*hi = fmax(*hi, v);
	}
	if (!isfinite(*lo)) {
		*lo = st->log ? 1 : 0;
		*hi = st->log ? 10 : 1;
	}
	if (*hi == *lo)
		*hi = st->log ? *lo * 10 : *lo + 1;
}

static void colour_of(double v, const struct style *st, double lo, double hi, uint8_t rgb[3])
{
	if (isnan(v)) {
		memcpy(rgb, colour_nan, 3);
		return;
	}
	if (isinf(v)) {
		memcpy(rgb, colour_inf, 3);
		return;
	}
	double t = st->log ? (v > 0 ? (log10(v) - log10(lo)) / (log10(hi) - log10(lo)) : 0)
			   : (v - lo) / (hi - lo);
	viridis(t, rgb);
}

static void format_value(double v, char *buf, size_t size)
{
	snprintf(buf, size, "%.3g", v);
}

/* Marks drawn over a picture (the observers on a snapshot's map): the
 * canvas, the map's top-left corner and its zoom. */
typedef void marks_fn(struct canvas *c, int x0, int y0, int zoom, const void *ctx);

/* Pictures drawn with one colour scale and one colour bar, in a grid. */
struct panel_group {
	struct image *ims;
	int n, columns;
	struct style st;
	const char *units;
	const char *caption; /* under the pictures, or NULL */
};

/* Where a group goes: its zoom, the size of its grid and of the whole. */
struct group_layout {
	double lo, hi;
	int zoom, tw, th, mapw, maph, width;
	char top[64], bottom[64];
};

static void layout_group(const struct panel_group *g, struct group_layout *l)
{
	const int gap = 4;
	l->lo = g->st.lo;
	l->hi = g->st.hi;
	if (!g->st.fixed_range) {
		l->lo = INFINITY;
		l->hi = -INFINITY;
		for (int i = 0; i < g->n; i++) {
			double a, b;
			range_of(&g->ims[i], &g->st, &a, &b);
			l->lo = fmin(l->lo, a);
			l->hi = fmax(l->hi, b);
		}
	}
	int largest = 1;
	for (int i = 0; i < g->n; i++) {
		largest = g->ims[i].w > largest ? g->ims[i].w : largest;
		largest = g->ims[i].h > largest ? g->ims[i].h : largest;
	}
	l->zoom = largest < 256 ? 256 / largest : 1;
	if (g->n > 1 && l->zoom > 2)
		l->zoom /= 2;
	l->tw = g->ims[0].w * l->zoom;
	l->th = g->ims[0].h * l->zoom;
	int rows = (g->n + g->columns - 1) / g->columns;
	l->mapw = g->columns * l->tw + (g->columns - 1) * gap;
	l->maph = rows * l->th + (rows - 1) * gap;
	format_value(l->hi, l->top, sizeof l->top);
	format_value(l->lo, l->bottom, sizeof l->bottom);
	int label = text_width(l->top, 1);
	label = text_width(l->bottom, 1) > label ? text_width(l->bottom, 1) : label;
	label = text_width(g->units, 1) > label ? text_width(g->units, 1) : label;
	l->width = l->mapw + 12 + 16 + 6 + label;
	if (g->caption && text_width(g->caption, 1) > l->width)
		l->width = text_width(g->caption, 1);
}

static void draw_group(struct canvas *c, const struct panel_group *g, const struct group_layout *l,
		       int x0, int y0)
{
	const int gap = 4;
	for (int i = 0; i < g->n; i++) {
		int ox = x0 + (i % g->columns) * (l->tw + gap), oy = y0 + (i / g->columns) * (l->th + gap);
		const struct image *im = &g->ims[i];
		for (int y = 0; y < im->h; y++)
			for (int x = 0; x < im->w; x++) {
				uint8_t rgb[3];
				colour_of(im->v[(size_t)y * (size_t)im->w + (size_t)x], &g->st, l->lo, l->hi, rgb);
				for (int a = 0; a < l->zoom; a++)
					for (int b = 0; b < l->zoom; b++)
						canvas_set(c, ox + x * l->zoom + a, oy + y * l->zoom + b, rgb);
			}
	}
	/* The colour bar: the top of the range at the top. */
	int barx = x0 + l->mapw + 12, barh = l->maph;
	for (int y = 0; y < barh; y++) {
		uint8_t rgb[3];
		viridis(1.0 - (double)y / (barh > 1 ? barh - 1 : 1), rgb);
		for (int x = 0; x < 16; x++)
			canvas_set(c, barx + x, y0 + y, rgb);
	}
	canvas_text(c, barx + 22, y0, l->top, 1, white);
	canvas_text(c, barx + 22, y0 + barh - 7, l->bottom, 1, white);
	canvas_text(c, barx + 22, y0 + barh / 2 - 3, g->units, 1, white);
	if (g->caption)
		canvas_text(c, x0, y0 + l->maph + 4, g->caption, 1, white);
}

/* Draws groups of pictures side by side, each with its colour bar. */
static int draw_groups(const struct panel_group *groups, int ngroups, const char *path,
		       marks_fn *marks, const void *ctx, struct arepo_err *err)
{
	struct group_layout l[4];
	int W = 10, H = 80, captions = 0;
	for (int i = 0; i < ngroups; i++) {
		layout_group(&groups[i], &l[i]);
		W += l[i].width + 10 + (i ? 10 : 0);
		H = l[i].maph + 20 + 12 > H ? l[i].maph + 20 + 12 : H;
		captions |= groups[i].caption != NULL;
	}
	H += captions ? 12 : 0;
	struct canvas c;
	if (canvas_init(&c, W, H, black))
		return err_set(err, EXIT_RUNTIME, "out of memory for a %dx%d picture", W, H);
	int x = 10;
	for (int i = 0; i < ngroups; i++) {
		draw_group(&c, &groups[i], &l[i], x, 10);
		x += l[i].width + 20;
	}
	canvas_text(&c, 10, H - 10, groups[0].st.log ? "log" : "linear", 1, white);
	if (marks)
		marks(&c, 10, 10, l[0].zoom, ctx);
	int rc = png_write(path, &c, err);
	canvas_free(&c);
	return rc;
}

/* Draws images side by side in a grid, with one colour bar for all. */
static int draw(struct image *ims, int n, int columns, const struct style *st, const char *units,
		const char *path, marks_fn *marks, const void *ctx, struct arepo_err *err)
{
	struct panel_group g = { ims, n, columns, *st, units, NULL };
	return draw_groups(&g, 1, path, marks, ctx, err);
}

static void scale_image(struct image *im, double factor)
{
	for (size_t i = 0; i < (size_t)im->w * (size_t)im->h; i++)
		im->v[i] = (float)(im->v[i] * factor);
}

/* The configuration a tensor records, over the defaults. */
static int tensor_config(hid_t file, const char *path, struct arepo_config *cfg, struct arepo_err *err)
{
	config_defaults(cfg);
	char *text = malloc(1 << 16);
	int rc = 0;
	if (text && h5_attr_string(file, "config", text, 1 << 16) == 0)
		rc = config_load_text(cfg, text, path, err);
	free(text);
	return rc;
}

/* IRIS's columnize_physical_tensor (top-down H2 map), or a slice. Image rows
 * run from the largest index of the vertical axis down. */
static int tensor_image(const char *path, const char *slice_axis, long slice, int channel,
			struct image *im, struct arepo_config *cfg, struct arepo_err *err)
{
	hid_t file;
	int rc = h5_open_checked(path, &file, err);
	if (rc)
		return rc;
	char format[64] = "";
	h5_attr_string(file, "format", format, sizeof format);
	int rank;
	hsize_t d[4];
	if (strcmp(format, TENSOR_FORMAT) || h5_dataset_dims(file, "physical", &rank, d) || rank != 4 ||
	    d[0] != VIEW_CHANNELS) {
		H5Fclose(file);
		return err_set(err, EXIT_BADDATA, "%s: not a tensor file", path);
	}
	if ((rc = tensor_config(file, path, cfg, err))) {
		H5Fclose(file);
		return rc;
	}
	hid_t dset = H5Dopen2(file, "physical", H5P_DEFAULT);
	hid_t space = H5Dget_space(dset);
	size_t R = d[1], L = d[2], B = d[3];
	float *slab = malloc(VIEW_CHANNELS * L * B * sizeof(float));
	hsize_t count[4] = { VIEW_CHANNELS, 1, L, B };
	hid_t mspace = H5Screate_simple(4, count, NULL);
	const struct observer_hyper *o = &cfg->observer_hyper;
	const struct coordinate_hyper *ch = &cfg->coordinate_hyper;
	if (!slice_axis) {
		size_t r0 = (size_t)ch->r_crop_min_index, r1 = (size_t)ch->r_crop_max_index;
		if (r1 > R)
			r1 = R;
		if (r0 >= r1)
			r0 = 0, r1 = R;
		im->w = (int)L;
		im->h = (int)(r1 - r0);
		/* rho_H2 = rho * x_H2 * mw_H2 / (mw_H + x_He * mw_He), float32 as IRIS. */
		float mw = (float)o->mw_H2, denominator = (float)(o->mw_H + o->abundance_He * o->mw_He);
		im->v = malloc((size_t)im->w * (size_t)im->h * sizeof(float));
		for (size_t r = r0; r < r1 && !rc; r++) {
			hsize_t start[4] = { 0, r, 0, 0 };
			H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL);
			if (H5Dread(dset, H5T_NATIVE_FLOAT, mspace, space, H5P_DEFAULT, slab) < 0) {
				rc = err_set(err, EXIT_BADDATA, "%s: cannot read physical", path);
				break;
			}
			for (size_t j = 0; j < L; j++) {
				double sum = 0;
				for (size_t k = 0; k < B; k++) {
					float rho = slab[1 * L * B + j * B + k], x = slab[3 * L * B + j * B + k];
					sum += rho * x * mw / denominator;
				}
				im->v[(r1 - 1 - r) * L + j] = (float)(sum / (double)B);
			}
		}
	} else {
		int axis = strcmp(slice_axis, "r") == 0 ? 1 : strcmp(slice_axis, "lon") == 0 ? 2 : 3;
		size_t size[4] = { VIEW_CHANNELS, R, L, B };
		if (slice < 0 || (size_t)slice >= size[axis]) {
			rc = err_set(err, EXIT_USAGE, "--slice %s=%ld: index out of 0..%zu", slice_axis, slice,
				     size[axis] - 1);
		} else {
			/* Vertical: the first remaining axis; horizontal: the second. */
			int vert = axis == 1 ? 2 : 1, horiz = axis == 3 ? 2 : 3;
			im->w = (int)size[horiz];
			im->h = (int)size[vert];
			im->v = malloc((size_t)im->w * (size_t)im->h * sizeof(float));
			for (size_t r = 0; r < R && !rc; r++) {
				if (axis == 1 && r != (size_t)slice)
					continue;
				hsize_t start[4] = { 0, r, 0, 0 };
				H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL);
				if (H5Dread(dset, H5T_NATIVE_FLOAT, mspace, space, H5P_DEFAULT, slab) < 0) {
					rc = err_set(err, EXIT_BADDATA, "%s: cannot read physical", path);
					break;
				}
				for (size_t j = 0; j < L; j++)
					for (size_t k = 0; k < B; k++) {
						size_t idx[4] = { 0, r, j, k };
						if (idx[axis] != (size_t)slice)
							continue;
						size_t y = size[vert] - 1 - idx[vert], x = idx[horiz];
						im->v[y * (size_t)im->w + x] = slab[(size_t)channel * L * B + j * B + k];
					}
			}
		}
	}
	free(slab);
	H5Sclose(mspace);
	H5Sclose(space);
	H5Dclose(dset);
	H5Fclose(file);
	return rc;
}


/* An observed file's pair as two pictures: the observed lon-velocity map
 * (lon across, velocity up) and the columnized map (lon across, r up), with
 * their units; in IRIS units once arepo-normalize converted the pair. */
struct pair_images {
	struct image observed, columnized;
	char observed_units[16], columnized_units[16];
	double v[2];
};

static int pair_images(const char *path, struct pair_images *pi, struct arepo_err *err)
{
	memset(pi, 0, sizeof *pi);
	hid_t file;
	int rc = h5_open_checked(path, &file, err);
	if (rc)
		return rc;
	struct arepo_config cfg;
	int rank_o, rank_c;
	hsize_t od[4], cd[4];
	if (h5_dataset_dims(file, "observed", &rank_o, od) || rank_o != 3 ||
	    h5_dataset_dims(file, "columnized", &rank_c, cd) || rank_c != 3 || od[1] != cd[2] ||
	    h5_attr_doubles(file, "v_range_km_s", pi->v, 2)) {
		H5Fclose(file);
		return err_set(err, EXIT_BADDATA, "%s: not an observed file", path);
	}
	if ((rc = tensor_config(file, path, &cfg, err))) {
		H5Fclose(file);
		return rc;
	}
	const size_t L = od[1], V = od[2], Rc = cd[1];
	float *o = malloc(L * V * sizeof(float)), *c = malloc(Rc * L * sizeof(float));
	pi->observed = (struct image){ (int)L, (int)V, malloc(L * V * sizeof(float)) };
	pi->columnized = (struct image){ (int)L, (int)Rc, malloc(Rc * L * sizeof(float)) };
	hid_t d1 = H5Dopen2(file, "observed", H5P_DEFAULT), d2 = H5Dopen2(file, "columnized", H5P_DEFAULT);
	hsize_t one[3] = { 1, L, V }, start[3] = { 0, 0, 0 };
	hid_t fs = d1 >= 0 ? H5Dget_space(d1) : -1, ms = H5Screate_simple(3, one, NULL);
	if (fs >= 0)
		H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, one, NULL);
	if (!o || !c || !pi->observed.v || !pi->columnized.v)
		rc = err_set(err, EXIT_RUNTIME, "out of memory");
	else if (d1 < 0 || d2 < 0 || H5Dread(d1, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, o) < 0 ||
		 H5Dread(d2, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, c) < 0)
		rc = err_set(err, EXIT_BADDATA, "%s: cannot read the observed pair", path);
	if (fs >= 0)
		H5Sclose(fs);
	H5Sclose(ms);
	if (d1 >= 0)
		H5Dclose(d1);
	if (d2 >= 0)
		H5Dclose(d2);
	char units_attr[64] = "";
	h5_attr_string(file, "observed_units", units_attr, sizeof units_attr);
	double factors[2];
	int normalized = h5_attr_doubles(file, "iris_factors", factors, 2) == 0;
	H5Fclose(file);
	if (!rc) {
		for (size_t k = 0; k < V; k++)
			for (size_t l = 0; l < L; l++)
				pi->observed.v[(V - 1 - k) * L + l] = o[l * V + k];
		for (size_t r = 0; r < Rc; r++)
			for (size_t l = 0; l < L; l++)
				pi->columnized.v[(Rc - 1 - r) * L + l] = c[r * L + l];
		const char *density_units;
		double factor = channel_factor(CHANNEL_DENSITY, &cfg, &density_units);
		if (!normalized)
			scale_image(&pi->columnized, factor);
		snprintf(pi->columnized_units, sizeof pi->columnized_units, "%s",
			 normalized ? "IRIS" : density_units);
		snprintf(pi->observed_units, sizeof pi->observed_units, "%s",
			 normalized ? "IRIS" : !strncmp(units_attr, "K ", 2) ? "K" : "proc");
	}
	free(o);
	free(c);
	if (rc) {
		free(pi->observed.v);
		free(pi->columnized.v);
	}
	return rc;
}

/* An observed file's pair side by side, each with its colour bar: the
 * observed map on st's scale, the columnized one on a log scale. */
static int observed_picture(const char *path, const struct style *st, const char *out,
			    struct arepo_err *err)
{
	struct pair_images pi;
	int rc = pair_images(path, &pi, err);
	if (rc)
		return rc;
	char caption[96];
	snprintf(caption, sizeof caption, "lon across, v %g..%g km/s up", pi.v[0], pi.v[1]);
	struct panel_group groups[2] = {
		{ &pi.observed, 1, 1, *st, pi.observed_units, caption },
		{ &pi.columnized, 1, 1, { .log = 1 }, pi.columnized_units, "columnized: lon across, r up" },
	};
	rc = draw_groups(groups, 2, out, NULL, NULL, err);
	free(pi.observed.v);
	free(pi.columnized.v);
	return rc;
}

/* A dataset of pairs: the observed maps of its first n entries in shuffle
 * order beside their columnized maps, each sheet with its colour bar. */
static int pair_sheet(const char *dir, const struct dataset *ds, int n, const struct style *st,
		      const char *out, struct arepo_err *err)
{
	struct image *obs = calloc((size_t)n, sizeof *obs), *col = calloc((size_t)n, sizeof *col);
	struct pair_images pi = { 0 };
	int rc = obs && col ? 0 : err_set(err, EXIT_RUNTIME, "out of memory");
	for (int i = 0; i < n && !rc; i++) {
		char path[4400];
		snprintf(path, sizeof path, "%s/%s", dir, ds->entries[ds->shuffle[i]].tensor);
		if (!(rc = pair_images(path, &pi, err))) {
			obs[i] = pi.observed;
			col[i] = pi.columnized;
		}
	}
	if (!rc) {
		int columns = (int)ceil(sqrt((double)n));
		struct panel_group groups[2] = {
			{ obs, n, columns, *st, pi.observed_units, "observed: lon across, v up" },
			{ col, n, columns, { .log = 1 }, pi.columnized_units, "columnized: lon across, r up" },
		};
		rc = draw_groups(groups, 2, out, NULL, NULL, err);
	}
	for (int i = 0; i < n && obs && col; i++) {
		free(obs[i].v);
		free(col[i].v);
	}
	free(obs);
	free(col);
	return rc;
}

struct observers {
	const struct arepo_config *cfg;
	const char *snapshot_name;
	double width, step; /* of the map, processing units */
	int have_grid;
};

/* Each observer as a dot, its frustum's sides as lines to r_max. */
static void draw_observers(struct canvas *c, int x0, int y0, int zoom, const void *ctx)
{
	const struct observers *o = ctx;
	if (!o->have_grid)
		return;
	double pixel = o->step / zoom, half = o->width / 2;
#define PX(u) ((int)lround(x0 + ((u) + half) / pixel))
#define PY(u) ((int)lround(y0 + (half - (u)) / pixel))
	for (int64_t k = 0; k < o->cfg->writer_hyper.points_per_snapshot; k++) {
		struct view_meta m;
		memset(&m, 0, sizeof m);
		view_meta_for(o->cfg, o->snapshot_name, k, 0, &m);
		const struct view_geometry *g = &m.geometry;
		double ox = g->observer_radius * cos(g->theta), oy = g->observer_radius * sin(g->theta);
		const double lon[2] = { g->lon_min, g->lon_max };
		for (int e = 0; e < 2; e++) {
			double phi = M_PI + g->theta + lon[e];
			canvas_line(c, PX(ox), PY(oy), PX(ox + g->r_max * cos(phi)), PY(oy + g->r_max * sin(phi)),
				    white);
		}
		for (int a = -2; a <= 2; a++)
			for (int b = -2; b <= 2; b++)
				canvas_set(c, PX(ox) + a, PY(oy) + b, white);
	}
#undef PX
#undef PY
}

/* Face-on map: nearest cell on a cubic grid, H2 density averaged along z. */
static int snapshot_picture(const char *path, const struct arepo_config *cfg, int size, double width_pc,
			    const struct style *st, const char *out, struct arepo_err *err)
{
	struct snapshot snap;
	int rc = snap_open(&snap, path, cfg, err);
	if (rc)
		return rc;
	struct perturbation none;
	perturbation_none(&none);
	struct cell_units units;
	cell_units_init(&units, &snap.header, cfg, &none);
	struct cells cells = { 0 };
	rc = cells_load(&snap, &units, SNAP_FIELDS_VIEW, 0, &cells, err);
	if (rc || cells.n == 0) {
		cells_free(&cells);
		snap_close(&snap);
		return rc ? rc : err_set(err, EXIT_BADDATA, "%s: no gas cells", path);
	}
	struct kd_tree tree;
	if (kd_build(&tree, cells.position, (uint32_t)cells.n)) {
		cells_free(&cells);
		snap_close(&snap);
		return err_set(err, EXIT_RUNTIME, "out of memory for the index");
	}
	double lpp = config_parsec_per_processing(cfg);
	double width = (width_pc > 0 ? width_pc : 2.4 * cfg->coordinate_hyper.observer_radius) / lpp;
	double step = width / size;
	const struct observer_hyper *o = &cfg->observer_hyper;
	float mw = (float)o->mw_H2, denominator = (float)(o->mw_H + o->abundance_He * o->mw_He);
	struct image im = { size, size, malloc((size_t)size * (size_t)size * sizeof(float)) };
	uint32_t best = 0;
	for (int y = 0; y < size; y++)
		for (int x = 0; x < size; x++) {
			double qx = -width / 2 + (x + 0.5) * step, qy = width / 2 - (y + 0.5) * step, sum = 0;
			for (int z = 0; z < size; z++) {
				double qz = -width / 2 + (z + 0.5) * step;
				const float *p = cells.position + 3 * (size_t)best;
				double d2 = distance2(qx, qy, qz, p[0], p[1], p[2]);
				kd_nearest(&tree, qx, qy, qz, &best, &d2);
				sum += cells.density[best] * cells.x_h2[best] * mw / denominator;
			}
			im.v[(size_t)y * (size_t)size + (size_t)x] = (float)(sum / size);
		}
	const char *label;
	scale_image(&im, channel_factor(CHANNEL_DENSITY, cfg, &label));
	struct observers marks = { cfg, snap.name, width, step, config_require_grid(cfg, err) == 0 };
	err->code = 0; /* without grid bounds there are no frusta to draw, only the map */
	rc = draw(&im, 1, 1, st, label, out, draw_observers, &marks, err);
	free(im.v);
	kd_free(&tree);
	cells_free(&cells);
	snap_close(&snap);
	return rc;
}

static int is_directory(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int main(int argc, char **argv)
{
	struct cli_common cli;
	cli_init(&cli, argv[0], usage);
	const char *out = NULL, *slice_axis = NULL;
	long slice = 0;
	int channel = 1, grid = 16, size = 128;
	double width_pc = 0;
	struct style st = { .log = 1 };
	int scale_given = 0;
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "slice", required_argument, NULL, OPT_SLICE },
		{ "channel", required_argument, NULL, OPT_CHANNEL },
		{ "scale", required_argument, NULL, OPT_SCALE },
		{ "range", required_argument, NULL, OPT_RANGE },
		{ "grid", required_argument, NULL, OPT_GRID },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "width", required_argument, NULL, OPT_WIDTH },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	static char axis[8];
	while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		if (cli_common_option(&cli, opt, optarg))
			continue;
		switch (opt) {
		case 'o': out = optarg; break;
		case OPT_SLICE:
			if (sscanf(optarg, "%3[a-z]=%ld", axis, &slice) != 2 ||
			    (strcmp(axis, "r") && strcmp(axis, "lon") && strcmp(axis, "lat")))
				cli_usage_error("--slice %s: expected r=I, lon=I or lat=I", optarg);
			slice_axis = axis;
			break;
		case OPT_CHANNEL:
			channel = (int)cli_parse_count("--channel", optarg);
			if (channel > 5)
				cli_usage_error("--channel %s: expected 0 to 5", optarg);
			break;
		case OPT_SCALE:
			if (strcmp(optarg, "log") && strcmp(optarg, "linear"))
				cli_usage_error("--scale %s: expected log or linear", optarg);
			st.log = strcmp(optarg, "log") == 0;
			scale_given = 1;
			break;
		case OPT_RANGE:
			if (sscanf(optarg, "%lf:%lf", &st.lo, &st.hi) != 2 || !(st.lo < st.hi))
				cli_usage_error("--range %s: expected MIN:MAX with MIN < MAX", optarg);
			st.fixed_range = 1;
			break;
		case OPT_GRID:
			grid = (int)cli_parse_count("--grid", optarg);
			if (grid < 1 || grid > 1024)
				cli_usage_error("--grid %s: expected 1 to 1024", optarg);
			break;
		case OPT_SIZE:
			size = (int)cli_parse_count("--size", optarg);
			if (size < 2 || size > 2048)
				cli_usage_error("--size %s: expected 2 to 2048", optarg);
			break;
		case OPT_WIDTH: width_pc = atof(optarg); break;
		default: cli_usage_error(NULL);
		}
	}
	if (!out)
		cli_usage_error("-o OUT.png is required");
	if (optind != argc - 1)
		cli_usage_error(optind == argc ? "missing TENSOR, OBSERVED, DATASET or SNAPSHOT"
					       : "too many operands");
	const char *in = argv[optind];
	h5_quiet();
	if (!scale_given && h5_file_has_format(in, OBSERVED_FORMAT))
		st.log = 0; /* observed temperatures go below zero */
	if (st.log && st.fixed_range && !(st.lo > 0))
		cli_usage_error("--range: a log scale needs MIN > 0");
	struct arepo_err err = { 0 };
	struct arepo_config cfg;
	h5_quiet();
	char dsfile[4200];
	snprintf(dsfile, sizeof dsfile, "%s/" DATASET_FILE, in);
	if (is_directory(in) && access(dsfile, F_OK) == 0) {
		struct dataset ds;
		if (dataset_read(in, &ds, &err))
			die_err(&err);
		int n = (size_t)grid < ds.n ? grid : (int)ds.n;
		if (n == 0)
			die(EXIT_BADDATA, "%s: an empty dataset", in);
		if (ds.kind == DATASET_PAIRS) {
			if (!scale_given)
				st.log = 0;
			if (pair_sheet(in, &ds, n, &st, out, &err))
				die_err(&err);
			printf("%s\n", out);
			return EXIT_OK;
		}
		struct image *ims = calloc((size_t)n, sizeof *ims);
		const char *label = "";
		for (int i = 0; i < n; i++) {
			char path[4400];
			snprintf(path, sizeof path, "%s/%s", in, ds.entries[ds.shuffle[i]].tensor);
			if (tensor_image(path, NULL, 0, 1, &ims[i], &cfg, &err))
				die_err(&err);
			scale_image(&ims[i], channel_factor(CHANNEL_DENSITY, &cfg, &label));
		}
		int columns = (int)ceil(sqrt((double)n));
		if (draw(ims, n, columns, &st, label, out, NULL, NULL, &err))
			die_err(&err);
	} else if (h5_file_has_format(in, OBSERVED_FORMAT)) {
		if (observed_picture(in, &st, out, &err))
			die_err(&err);
	} else if (h5_file_has_format(in, TENSOR_FORMAT)) {
		struct image im = { 0 };
		if (tensor_image(in, slice_axis, slice, slice_axis ? channel : 1, &im, &cfg, &err))
			die_err(&err);
		const char *label;
		scale_image(&im, channel_factor(slice_axis ? channel : CHANNEL_DENSITY, &cfg, &label));
		if (draw(&im, 1, 1, &st, label, out, NULL, NULL, &err))
			die_err(&err);
		free(im.v);
	} else {
		if (cli_load_config(&cli, &cfg, &err))
			die_err(&err);
		if (snapshot_picture(in, &cfg, size, width_pc, &st, out, &err))
			die_err(&err);
	}
	printf("%s\n", out);
	return EXIT_OK;
}
