/* Test helper: runs the snapshot reader and writes every cell field as raw
 * float32 files, so that tests can check them against an independent
 * computation. Usage: dump-cells [--view K] [--chunk-cells N]
 * [--config C] [--set K=V]... SNAPSHOT OUTDIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cells.h"
#include "cli.h"
#include "snapshot.h"

static const char usage[] = "Usage: dump-cells [--view K] [--chunk-cells N] [--radius] [--config C] "
			    "[--set K=V]... SNAPSHOT OUTDIR\n";

enum { OPT_VIEW = CLI_OPT_FIRST_TOOL, OPT_CHUNK, OPT_MASS };

static void write_floats(const char *dir, const char *name, const float *v, uint64_t n)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s.f32", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(v, sizeof(float), n, f) != n || fclose(f) != 0)
		die(EXIT_RUNTIME, "%s: cannot write", path);
}

int main(int argc, char **argv)
{
	struct cli_common cli;
	cli_init(&cli, argv[0], usage);
	long long view = -1, chunk_cells = 0;
	int with_mass = 0;
	static const struct option longopts[] = {
		{ "view", required_argument, NULL, OPT_VIEW },
		{ "chunk-cells", required_argument, NULL, OPT_CHUNK },
		{ "radius", no_argument, NULL, OPT_MASS },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (cli_common_option(&cli, opt, optarg))
			continue;
		if (opt == OPT_VIEW)
			view = cli_parse_count("--view", optarg);
		else if (opt == OPT_CHUNK)
			chunk_cells = cli_parse_count("--chunk-cells", optarg);
		else if (opt == OPT_MASS)
			with_mass = 1;
		else
			cli_usage_error(NULL);
	}
	if (optind != argc - 2)
		cli_usage_error("expected SNAPSHOT OUTDIR");
	struct arepo_err err = { 0 };
	struct arepo_config cfg;
	struct snapshot snap;
	if (cli_load_config(&cli, &cfg, &err) || snap_open(&snap, argv[optind], &cfg, &err))
		die_err(&err);
	struct perturbation p;
	if (view >= 0)
		perturbation_draw(&cfg, snap.name, view, &p);
	else
		perturbation_none(&p);
	struct cell_units units;
	cell_units_init(&units, &snap.header, &cfg, &p);

	unsigned fields = SNAP_FIELDS_VIEW | (with_mass ? SNAP_MASS : 0);
	struct cells cells = { 0 };
	if (cells_load(&snap, &units, fields, (uint64_t)chunk_cells, &cells, &err))
		die_err(&err);
	size_t nchunks = 0;
	{
		struct snap_chunk *chunks;
		uint64_t per_chunk = chunk_cells ? (uint64_t)chunk_cells : snap_chunk_cells(&snap, fields, 0);
		if (snap_plan_chunks(&snap, per_chunk, &chunks, &nchunks, &err))
			die_err(&err);
		free(chunks);
	}
	const char *out = argv[optind + 1];
	write_floats(out, "position", cells.position, 3 * cells.n);
	write_floats(out, "velocity", cells.velocity, 3 * cells.n);
	write_floats(out, "density", cells.density, cells.n);
	write_floats(out, "temperature", cells.temperature, cells.n);
	write_floats(out, "x_h2", cells.x_h2, cells.n);
	write_floats(out, "x_co", cells.x_co, cells.n);
	write_floats(out, "dust", cells.dust, cells.n);
	if (with_mass)
		write_floats(out, "radius", cells.radius, cells.n);
	printf("name=%s\ncells=%llu\nchunks=%zu\nfiles=%d\n", snap.name,
	       (unsigned long long)cells.n, nchunks, snap.npieces);
	printf("has_scale=%d\nscale=%.17g\nhas_density=%d\ndensity=%.17g\n", p.has_scale, p.scale,
	       p.has_density, p.density);
	printf("has_skew=%d\nskew=%.17g\nskew_angle=%.17g\n", p.has_skew, p.skew, p.skew_angle);
	cells_free(&cells);
	snap_close(&snap);
	return 0;
}
