/* arepo-info: what the snapshot reader computes from a snapshot: cells,
 * files, units, ranges of every field in processing units, cells above T_inf. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cells.h"
#include "cli.h"
#include "config.h"
#include "log.h"
#include "snapshot.h"

static const char usage[] =
	"Usage: arepo-info [OPTION]... SNAPSHOT\n"
	"Read an AREPO snapshot (a file, a multi-file snapshot directory or its\n"
	"piece 0) with the configured units and print what the reader computes:\n"
	"cells, files, units, the range of every field in processing units and how\n"
	"many cells are hotter than observer_hyper.T_inf.\n"
	"\n"
	"      --view K           apply the perturbations drawn for view K (scale,\n"
	"                         density, skew); by default none is applied\n"
	"      --chunk-mb M       read in IO chunks of at most M MiB (default 64)\n"
	CLI_COMMON_HELP
	"\n"
	"Exit status: 0 done, 1 I/O error, 2 usage or configuration, 3 bad snapshot.\n";

enum { OPT_VIEW = CLI_OPT_FIRST_TOOL, OPT_CHUNK_MB };

struct stat1 {
	double min, max, sum;
	uint64_t n;
};

static void stat_init(struct stat1 *s)
{
	s->min = INFINITY;
	s->max = -INFINITY;
	s->sum = 0;
	s->n = 0;
}

static void stat_add(struct stat1 *s, double v)
{
	if (!isfinite(v))
		return;
	if (v < s->min)
		s->min = v;
	if (v > s->max)
		s->max = v;
	s->sum += v;
	s->n++;
}

static void stat_print(const char *name, const struct stat1 *s)
{
	if (s->n == 0)
		printf("%-16s %15s %15s %15s\n", name, "-", "-", "-");
	else
		printf("%-16s %15.7g %15.7g %15.7g\n", name, s->min, s->max, s->sum / (double)s->n);
}

enum { F_X, F_Y, F_Z, F_VX, F_VY, F_VZ, F_RHO, F_T, F_H2, F_CO, F_DUST, NSTATS };

int main(int argc, char **argv)
{
	struct cli_common cli;
	cli_init(&cli, argv[0], usage);
	long long view = -1;
	size_t chunk_bytes = 0;
	static const struct option longopts[] = {
		{ "view", required_argument, NULL, OPT_VIEW },
		{ "chunk-mb", required_argument, NULL, OPT_CHUNK_MB },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (cli_common_option(&cli, opt, optarg))
			continue;
		switch (opt) {
		case OPT_VIEW: view = cli_parse_count("--view", optarg); break;
		case OPT_CHUNK_MB: {
			long long mb = cli_parse_count("--chunk-mb", optarg);
			if (mb < 1)
				cli_usage_error("--chunk-mb must be at least 1");
			chunk_bytes = (size_t)mb << 20;
			break;
		}
		default: cli_usage_error(NULL);
		}
	}
	if (optind != argc - 1)
		cli_usage_error(optind == argc ? "missing SNAPSHOT" : "too many operands");
	const char *path = argv[optind];

	struct arepo_err err = { 0 };
	struct arepo_config cfg;
	if (cli_load_config(&cli, &cfg, &err))
		die_err(&err);
	struct snapshot snap;
	if (snap_open(&snap, path, &cfg, &err))
		die_err(&err);

	struct perturbation pert;
	if (view >= 0)
		perturbation_draw(&cfg, snap.name, view, &pert);
	else
		perturbation_none(&pert);
	struct cell_units units;
	cell_units_init(&units, &snap.header, &cfg, &pert);

	unsigned fields = SNAP_FIELDS_VIEW;
	struct snap_chunk *chunks;
	size_t nchunks;
	if (snap_plan_chunks(&snap, snap_chunk_cells(&snap, fields, chunk_bytes), &chunks, &nchunks,
			     &err))
		die_err(&err);

	struct stat1 st[NSTATS];
	for (int i = 0; i < NSTATS; i++)
		stat_init(&st[i]);
	uint64_t too_hot = 0;
	struct snap_raw raw = { 0 };
	struct cells one = { 0 };
	if (cells_reserve(&one, 1))
		die(EXIT_RUNTIME, "out of memory");
	for (size_t c = 0; c < nchunks; c++) {
		if (snap_read_chunk(&snap, &chunks[c], fields, &raw, &err))
			die_err(&err);
		for (uint64_t i = 0; i < raw.n; i++) {
			cell_convert(&units, &raw, i, &one, 0);
			for (int k = 0; k < 3; k++) {
				stat_add(&st[F_X + k], one.position[k]);
				stat_add(&st[F_VX + k], one.velocity[k]);
			}
			stat_add(&st[F_RHO], one.density[0]);
			stat_add(&st[F_T], one.temperature[0]);
			stat_add(&st[F_H2], one.x_h2[0]);
			stat_add(&st[F_CO], one.x_co[0]);
			stat_add(&st[F_DUST], one.dust[0]);
			too_hot += isinf(one.temperature[0]) != 0;
		}
	}

	const struct snap_header *h = &snap.header;
	double pc_per_unit = config_parsec_per_processing(&cfg);
	printf("snapshot         %s\n", snap.path);
	printf("name             %s\n", snap.name);
	printf("files            %d\n", snap.npieces);
	printf("cells            %llu\n", (unsigned long long)snap.ncells);
	printf("precision        %s\n", snap.double_precision ? "float64" : "float32");
	printf("box size         %.10g (AREPO length units)\n", h->box_size);
	printf("time             %.10g\n", h->time);
	printf("AREPO units      length %.10g cm, mass %.10g g, velocity %.10g cm/s\n",
	       h->unit_length_cm, h->unit_mass_g, h->unit_velocity_cm_per_s);
	printf("processing units length %.10g cm (%.10g pc), mass %.10g g, velocity %.10g cm/s, "
	       "temperature %.10g K\n",
	       cfg.writer_hyper.length_cm_per_processing, pc_per_unit,
	       cfg.writer_hyper.mass_g_per_processing, cfg.writer_hyper.velocity_cm_per_s_per_processing,
	       cfg.writer_hyper.temperature_K_per_processing);
	printf("abundances       %s\n",
	       !snap.use_abundances ? "IRIS fallback (H2 0.5, H+ 0, CO 0)"
				    : "ChemicalAbundances");
	if (snap.has_dust)
		printf("dust temperature DustTemperature\n");
	else
		printf("dust temperature default %.10g K\n", cfg.dataset_hyper.default_dust_temperature.value);
	if (view >= 0)
		printf("perturbation     view %lld: scale %s%.10g, density %s%.10g, skew %s%.10g\n", view,
		       pert.has_scale ? "" : "none ", pert.scale, pert.has_density ? "" : "none ",
		       pert.density, pert.has_skew ? "" : "none ", pert.skew);
	else
		printf("perturbation     none\n");
	printf("%-16s %15s %15s %15s\n", "field", "min", "max", "mean");
	static const char *const names[NSTATS] = {
		"x", "y", "z", "v_x", "v_y", "v_z", "density", "temperature", "x_H2", "x_CO",
		"dust_temperature",
	};
	for (int i = 0; i < NSTATS; i++)
		stat_print(names[i], &st[i]);
	if (cfg.observer_hyper.T_inf.set)
		printf("above T_inf      %llu of %llu cells (T_inf %.10g K)\n",
		       (unsigned long long)too_hot, (unsigned long long)snap.ncells,
		       cfg.observer_hyper.T_inf.value);
	else
		printf("above T_inf      no T_inf configured\n");
	free(chunks);
	snap_raw_free(&raw);
	cells_free(&one);
	snap_close(&snap);
	return EXIT_OK;
}
