/* arepo-extract: cuts every observer's view out of AREPO snapshots, with MPI:
 * a snapshot is read once, its IO chunks spread over the ranks, and each
 * view's cells gathered, in cell order, to the rank that writes its file. */
#include <errno.h>
#include <fcntl.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "cells.h"
#include "cli.h"
#include "clock.h"
#include "h5util.h"
#include "snapshot.h"
#include "view.h"
#include "viewcut.h"

static const char usage[] =
	"Usage: arepo-extract [OPTION]... --out DIR SNAPSHOT...\n"
	"       mpirun -n N arepo-extract [OPTION]... --out DIR SNAPSHOT...\n"
	"Cut the view of each of the writer_hyper.points_per_snapshot observers out\n"
	"of every SNAPSHOT (a file, a snapdir or its piece 0) and write\n"
	"DIR/<snapshot-stem>/view_<k>.h5. Runs as one process, or under mpirun.\n"
	"\n"
	"  -o, --out DIR          output directory (required)\n"
	"      --margin PC        widen each pruning box by PC parsec (default 0,\n"
	"                         IRIS's box around the frustum's corners)\n"
	"      --radius           store each cell's radius (from Masses/Density)\n"
	"      --chunk-mb M       IO chunk size in MiB (default 64)\n"
	"      --print-dirs       print each snapshot's view directory, one per line\n"
	"      --stats            print timings and volumes as key=value lines\n"
	"      --force            rewrite views that exist\n"
	CLI_COMMON_HELP
	"\n"
	"Existing views are kept (a rerun does only what is missing). The output\n"
	"does not depend on the number of ranks. Exit status: 0 done, 1 I/O or\n"
	"MPI error, 2 usage or configuration, 3 bad snapshot. See arepo-extract(1).\n";

enum { OPT_MARGIN = CLI_OPT_FIRST_TOOL, OPT_RADIUS, OPT_CHUNK_MB, OPT_STATS, OPT_FORCE,
       OPT_PRINT_DIRS };

struct options {
	const char *out;
	double margin_pc;
	int with_radius;
	size_t chunk_bytes;
	int stats;
	int force;
	int print_dirs;
};

struct totals {
	double bytes_read, seconds_read, cells_read;
	long views_written, views_skipped;
};

static int rank, nranks;

/* Every rank of comm learns the worst error; the lowest rank that has one
 * prints it. Returns the agreed exit status (0: none). */
static int agree(MPI_Comm comm, struct arepo_err *err)
{
	int code = err->code, worst = 0, me, who;
	MPI_Comm_rank(comm, &me);
	int mine = code ? me : 1 << 30;
	MPI_Allreduce(&code, &worst, 1, MPI_INT, MPI_MAX, comm);
	MPI_Allreduce(&mine, &who, 1, MPI_INT, MPI_MIN, comm);
	if (code && who == me && err->msg[0]) {
		log_error("%s", err->msg);
		err->msg[0] = '\0'; /* said once; the code stays */
	}
	return worst;
}

static int mkdirs(const char *path, struct arepo_err *err)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;
			*p = '\0';
			if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
				return err_set(err, EXIT_RUNTIME, "%s: cannot create directory: %s", tmp,
					       strerror(errno));
			*p = saved;
			if (!saved)
				break;
		}
	}
	return 0;
}

/* Appends this round's cells of one view to its file, in chunk order: the
 * pieces of the ranks' chunks are gathered, in rank order (chunk t*n + r is
 * rank r's), to the writer, which appends them. */
static int append_round(MPI_Comm comm, int writer, const struct view *piece, int with_radius,
			struct view_stream *stream, struct arepo_err *err)
{
	int me, n;
	MPI_Comm_rank(comm, &me);
	MPI_Comm_size(comm, &n);
	if (n == 1)
		return err->code ? 0 : view_stream_append(stream, piece->position, piece->value,
							   piece->radius, piece->n, err);
	if (piece->n * VIEW_CHANNELS > (uint64_t)1 << 30)
		err_set(err, EXIT_RUNTIME, "an IO chunk holds too many cells of one view for one MPI "
			"message; lower --chunk-mb");
	int local = err->code ? 0 : (int)piece->n;
	int *count = NULL, *c3 = NULL, *d3 = NULL, *c6 = NULL, *d6 = NULL, *displ = NULL;
	float *pos = NULL, *val = NULL, *rad = NULL;
	uint64_t total = 0;
	if (me == writer) {
		count = calloc((size_t)n, sizeof *count);
		displ = calloc((size_t)n, sizeof *displ);
		c3 = calloc((size_t)n, sizeof *c3);
		d3 = calloc((size_t)n, sizeof *d3);
		c6 = calloc((size_t)n, sizeof *c6);
		d6 = calloc((size_t)n, sizeof *d6);
	}
	MPI_Gather(&local, 1, MPI_INT, count, 1, MPI_INT, writer, comm);
	if (me == writer) {
		for (int r = 0; r < n; r++) {
			displ[r] = (int)total;
			c3[r] = 3 * count[r];
			d3[r] = 3 * (int)total;
			c6[r] = VIEW_CHANNELS * count[r];
			d6[r] = VIEW_CHANNELS * (int)total;
			total += (uint64_t)count[r];
		}
		pos = malloc((total ? total : 1) * 3 * sizeof(float));
		val = malloc((total ? total : 1) * VIEW_CHANNELS * sizeof(float));
		rad = with_radius ? malloc((total ? total : 1) * sizeof(float)) : NULL;
	}
	MPI_Gatherv(piece->position, 3 * local, MPI_FLOAT, pos, c3, d3, MPI_FLOAT, writer, comm);
	MPI_Gatherv(piece->value, VIEW_CHANNELS * local, MPI_FLOAT, val, c6, d6, MPI_FLOAT, writer, comm);
	if (with_radius)
		MPI_Gatherv(piece->radius, local, MPI_FLOAT, rad, count, displ, MPI_FLOAT, writer, comm);
	int rc = 0;
	if (me == writer && !err->code) {
		if (!pos || !val || (with_radius && !rad))
			rc = err_set(err, EXIT_RUNTIME, "out of memory (lower --chunk-mb)");
		else
			rc = view_stream_append(stream, pos, val, rad, total, err);
	}
	free(count);
	free(displ);
	free(c3);
	free(d3);
	free(c6);
	free(d6);
	free(pos);
	free(val);
	free(rad);
	return rc;
}

/* Extracts the missing views of one snapshot with the ranks of comm. */
static int do_snapshot(MPI_Comm comm, const char *path, const struct arepo_config *cfg,
		       const struct options *o, struct totals *tot, struct arepo_err *err)
{
	int me, n, rc;
	MPI_Comm_rank(comm, &me);
	MPI_Comm_size(comm, &n);
	struct snapshot snap;
	snap_open(&snap, path, cfg, err);
	if ((rc = agree(comm, err)))
		return rc;

	char dir[PATH_MAX];
	if (snprintf(dir, sizeof dir, "%s/%s", o->out, snap.name) >= (int)sizeof dir)
		err_set(err, EXIT_USAGE, "%s: output path too long", o->out);
	else if (me == 0)
		mkdirs(dir, err);
	if ((rc = agree(comm, err))) {
		snap_close(&snap);
		return rc;
	}

	/* The views still to do (every rank decides the same, before any write). */
	int64_t points = cfg->writer_hyper.points_per_snapshot;
	int64_t *todo = malloc((size_t)points * sizeof *todo);
	int ntodo = 0;
	for (int64_t k = 0; k < points; k++) {
		char vpath[PATH_MAX + 64];
		snprintf(vpath, sizeof vpath, "%s/view_%lld.h5", dir, (long long)k);
		if (!o->force && h5_file_has_format(vpath, VIEW_FORMAT))
			tot->views_skipped += me == 0;
		else
			todo[ntodo++] = k;
	}
	MPI_Barrier(comm);
	if (ntodo == 0) {
		free(todo);
		snap_close(&snap);
		return 0;
	}

	unsigned fields = SNAP_FIELDS_VIEW | (o->with_radius ? SNAP_MASS : 0);
	struct snap_chunk *chunks = NULL;
	size_t nchunks = 0;
	snap_plan_chunks(&snap, snap_chunk_cells(&snap, fields, o->chunk_bytes), &chunks, &nchunks, err);
	char *config_json = config_to_json(cfg);
	double margin = o->margin_pc / config_parsec_per_processing(cfg);
	struct view_meta *metas = calloc((size_t)ntodo, sizeof *metas);
	struct view piece = { 0 }; /* one chunk's cells of one view at a time */
	struct cell_units *units = calloc((size_t)ntodo, sizeof *units);
	struct view_filter *filters = calloc((size_t)ntodo, sizeof *filters);
	struct view_stream *streams = calloc((size_t)ntodo, sizeof *streams);
	int *open = calloc((size_t)ntodo, sizeof *open);
	for (int b = 0; b < ntodo && !err->code; b++) {
		struct view_meta *m = &metas[b];
		view_meta_for(cfg, snap.name, todo[b], margin, m);
		snprintf(m->snapshot, sizeof m->snapshot, "%s", snap.path);
		snprintf(m->snapshot_name, sizeof m->snapshot_name, "%s", snap.name);
		m->config_json = config_json;
		cell_units_init(&units[b], &snap.header, cfg, &m->perturbation);
		view_filter_init(&filters[b], m, &units[b]);
		if (todo[b] % n == me) {
			char vpath[PATH_MAX + 64];
			snprintf(vpath, sizeof vpath, "%s/view_%lld.h5", dir, (long long)todo[b]);
			open[b] = !view_stream_begin(&streams[b], vpath, m, o->with_radius, err);
		}
	}
	rc = agree(comm, err);

	/* Round t: rank r reads chunk t*n + r; each view's pieces go to its file. */
	struct snap_raw raw = { 0 };
	struct cells scratch = { 0 };
	struct chunk_common common = { 0 };
	for (size_t first = 0; first < nchunks && !rc; first += (size_t)n) {
		size_t c = first + (size_t)me;
		int have = c < nchunks;
		double t0 = monotonic_seconds();
		if (have && !snap_read_chunk(&snap, &chunks[c], fields, &raw, err)) {
			tot->bytes_read += (double)chunks[c].count * (double)snap_bytes_on_disk(&snap, fields);
			tot->cells_read += (double)chunks[c].count;
		}
		tot->seconds_read += monotonic_seconds() - t0;
		if (have && !err->code && chunk_common_compute(&units[0], &raw, &common))
			err_set(err, EXIT_RUNTIME, "out of memory (lower --chunk-mb)");
		for (int b = 0; b < ntodo; b++) {
			piece.meta = metas[b];
			piece.n = 0;
			if (have && !err->code &&
			    view_collect_chunk(&piece, &filters[b], &units[b], &raw, &common, &scratch,
					       o->with_radius))
				err_set(err, EXIT_RUNTIME, "out of memory (lower --chunk-mb)");
			append_round(comm, (int)(todo[b] % n), &piece, o->with_radius, &streams[b], err);
		}
		rc = agree(comm, err);
	}
	for (int b = 0; b < ntodo; b++) {
		if (!open[b])
			continue;
		if (!rc && !err->code) {
			if (!view_stream_commit(&streams[b], err))
				tot->views_written++;
		} else {
			view_stream_abort(&streams[b]);
		}
	}
	if (!rc)
		rc = agree(comm, err);
	piece.meta.config_json = NULL;
	view_free(&piece);
	free(metas);
	free(units);
	free(filters);
	free(streams);
	free(open);
	free(config_json);
	snap_raw_free(&raw);
	cells_free(&scratch);
	chunk_common_free(&common);
	free(chunks);
	free(todo);
	snap_close(&snap);
	return rc;
}

int main(int argc, char **argv)
{
	/* --help and --version need no MPI (and must work where MPI cannot start). */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--version") == 0) {
			struct cli_common cli;
			cli_init(&cli, argv[0], usage);
			cli_common_option(&cli, argv[i][2] == 'v' ? CLI_OPT_VERSION : 'h', NULL);
		}
	}
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &nranks);
	/* Usage and configuration errors are the same on every rank: rank 0 says them. */
	int saved_stderr = -1;
	if (rank > 0) {
		saved_stderr = dup(STDERR_FILENO);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, STDERR_FILENO);
		dup2(null, STDOUT_FILENO);
		close(null);
	}
	struct cli_common cli;
	cli_init(&cli, argv[0], usage);
	struct options o = { 0 };
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "margin", required_argument, NULL, OPT_MARGIN },
		{ "radius", no_argument, NULL, OPT_RADIUS },
		{ "chunk-mb", required_argument, NULL, OPT_CHUNK_MB },
		{ "stats", no_argument, NULL, OPT_STATS },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "print-dirs", no_argument, NULL, OPT_PRINT_DIRS },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		if (cli_common_option(&cli, opt, optarg))
			continue;
		switch (opt) {
		case 'o': o.out = optarg; break;
		case OPT_MARGIN: {
			char *end;
			o.margin_pc = strtod(optarg, &end);
			if (end == optarg || *end || !(o.margin_pc >= 0))
				cli_usage_error("--margin %s: expected parsecs, at least 0", optarg);
			break;
		}
		case OPT_RADIUS: o.with_radius = 1; break;
		case OPT_CHUNK_MB: {
			long long mb = cli_parse_count("--chunk-mb", optarg);
			if (mb < 1)
				cli_usage_error("--chunk-mb must be at least 1");
			o.chunk_bytes = (size_t)mb << 20;
			break;
		}
		case OPT_STATS: o.stats = 1; break;
		case OPT_FORCE: o.force = 1; break;
		case OPT_PRINT_DIRS: o.print_dirs = 1; break;
		default: cli_usage_error(NULL);
		}
	}
	if (!o.out)
		cli_usage_error("--out DIR is required");
	if (optind == argc)
		cli_usage_error("no SNAPSHOT given");
	struct arepo_err err = { 0 };
	struct arepo_config cfg;
	if (cli_load_config(&cli, &cfg, &err) || config_require_grid(&cfg, &err))
		die_err(&err);
	if (rank > 0) {
		dup2(saved_stderr, STDERR_FILENO);
		close(saved_stderr);
	}
	h5_quiet();

	double t0 = monotonic_seconds();
	struct totals tot = { 0 };
	int nsnap = argc - optind, rc = 0;
	if (nsnap < nranks) {
		/* Few snapshots: all ranks read each one together. */
		for (int s = 0; s < nsnap && !rc; s++)
			rc = do_snapshot(MPI_COMM_WORLD, argv[optind + s], &cfg, &o, &tot, &err);
	} else {
		/* Many: one snapshot per rank at a time, in rounds. */
		for (int first = 0; first < nsnap && !rc; first += nranks) {
			if (first + rank < nsnap)
				do_snapshot(MPI_COMM_SELF, argv[optind + first + rank], &cfg, &o, &tot, &err);
			rc = agree(MPI_COMM_WORLD, &err);
		}
	}

	double wall = monotonic_seconds() - t0;
	struct totals sum;
	MPI_Reduce(&tot.bytes_read, &sum.bytes_read, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
	MPI_Reduce(&tot.cells_read, &sum.cells_read, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
	MPI_Reduce(&tot.seconds_read, &sum.seconds_read, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
	MPI_Reduce(&tot.views_written, &sum.views_written, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
	MPI_Reduce(&tot.views_skipped, &sum.views_skipped, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	long rss = ru.ru_maxrss, max_rss = 0;
	MPI_Reduce(&rss, &max_rss, 1, MPI_LONG, MPI_MAX, 0, MPI_COMM_WORLD);
	if (rank == 0 && !rc && o.print_dirs) {
		for (int s = 0; s < nsnap; s++) {
			struct snapshot snap;
			if (snap_open(&snap, argv[optind + s], &cfg, &err) == 0) {
				printf("%s/%s\n", o.out, snap.name);
				snap_close(&snap);
			}
		}
	}
	if (rank == 0 && !rc) {
		log_info("%ld views written, %ld already there, %.3f s", sum.views_written,
			 sum.views_skipped, wall);
		if (o.stats)
			printf("ranks=%d\nsnapshots=%d\nviews_written=%ld\nviews_skipped=%ld\n"
			       "cells_read=%.0f\nbytes_read=%.0f\nseconds_read=%.6f\nseconds_total=%.6f\n"
			       "peak_rss_kib=%ld\n",
			       nranks, nsnap, sum.views_written, sum.views_skipped, sum.cells_read,
			       sum.bytes_read, sum.seconds_read, wall, max_rss);
	}
	MPI_Finalize();
	return rc;
}
