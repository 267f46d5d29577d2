/* Test and benchmark helper: cuts one view out of a snapshot in a single
 * process with the library's view cutting (what arepo-extract does per view)
 * and writes the view file. Usage: mkview [--view K] [--margin PC]
 * [--radius] [--config C] [--set K=V]... SNAPSHOT VIEW */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cells.h"
#include "cli.h"
#include "snapshot.h"
#include "view.h"
#include "viewcut.h"

static const char usage[] = "Usage: mkview [--view K] [--margin PC] [--radius] [--config C] "
			    "[--set K=V]... SNAPSHOT VIEW\n";

enum { OPT_VIEW = CLI_OPT_FIRST_TOOL, OPT_MARGIN, OPT_RADIUS };

int main(int argc, char **argv)
{
	struct cli_common cli;
	cli_init(&cli, argv[0], usage);
	long long k = 0;
	double margin_pc = 0;
	int with_radius = 0;
	static const struct option longopts[] = {
		{ "view", required_argument, NULL, OPT_VIEW },
		{ "margin", required_argument, NULL, OPT_MARGIN },
		{ "radius", no_argument, NULL, OPT_RADIUS },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (cli_common_option(&cli, opt, optarg))
			continue;
		if (opt == OPT_VIEW)
			k = cli_parse_count("--view", optarg);
		else if (opt == OPT_MARGIN)
			margin_pc = atof(optarg);
		else if (opt == OPT_RADIUS)
			with_radius = 1;
		else
			cli_usage_error(NULL);
	}
	if (optind != argc - 2)
		cli_usage_error("expected SNAPSHOT VIEW");
	struct arepo_err err = { 0 };
	struct arepo_config cfg;
	struct snapshot snap;
	if (cli_load_config(&cli, &cfg, &err) || config_require_grid(&cfg, &err) ||
	    snap_open(&snap, argv[optind], &cfg, &err))
		die_err(&err);

	struct view v = { 0 };
	view_meta_for(&cfg, snap.name, k, margin_pc / config_parsec_per_processing(&cfg), &v.meta);
	snprintf(v.meta.snapshot, sizeof v.meta.snapshot, "%s", snap.path);
	snprintf(v.meta.snapshot_name, sizeof v.meta.snapshot_name, "%s", snap.name);
	v.meta.config_json = config_to_json(&cfg);

	struct cell_units units;
	cell_units_init(&units, &snap.header, &cfg, &v.meta.perturbation);
	unsigned fields = SNAP_FIELDS_VIEW | (with_radius ? SNAP_MASS : 0);
	struct snap_chunk *chunks;
	size_t nchunks;
	if (snap_plan_chunks(&snap, snap_chunk_cells(&snap, fields, 0), &chunks, &nchunks, &err))
		die_err(&err);
	struct view_filter filter;
	view_filter_init(&filter, &v.meta, &units);
	struct snap_raw raw = { 0 };
	struct cells cells = { 0 };
	for (size_t c = 0; c < nchunks; c++) {
		if (snap_read_chunk(&snap, &chunks[c], fields, &raw, &err))
			die_err(&err);
		/* Without the filter, every cell: checks that the filter drops none. */
		if (getenv("MKVIEW_NO_FILTER")) {
			cells.n = 0;
			if (cells_append_chunk(&units, &raw, &cells) || view_add_cells(&v, &cells, with_radius))
				die(EXIT_RUNTIME, "out of memory");
		} else if (view_collect_chunk(&v, &filter, &units, &raw, NULL, &cells, with_radius)) {
			die(EXIT_RUNTIME, "out of memory");
		}
	}
	if (view_write(argv[optind + 1], &v, &err))
		die_err(&err);
	printf("%llu\n", (unsigned long long)v.n);
	free(chunks);
	snap_raw_free(&raw);
	cells_free(&cells);
	view_free(&v);
	snap_close(&snap);
	return 0;
}
