/* arepo-extract: cuts every observer's view out of AREPO snapshots, with MPI:
 * a snapshot is read once per pass, its IO chunks spread over the ranks, and
 * each view's cells sent, in cell order, to the rank that writes its file. */
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
	"      --max-memory SIZE  memory per rank for the IO chunk and the views\n"
	"                         being written, with an optional K, M or G suffix\n"
	"                         (default 1G, less under a lower memory limit);\n"
	"                         views beyond it take more passes over the snapshot\n"
	"      --allow-unphysical extract cells with NaN or negative density or\n"
	"                         internal energy, or non-finite velocities (refused\n"
	"                         by default, exit 3)\n"
	"      --print-dirs       print each snapshot's view directory, one per line\n"
	"      --stats            print timings and volumes as key=value lines\n"
	"      --force            rewrite views that exist\n"
	CLI_PROGRESS_HELP
	CLI_COMMON_HELP
	"\n"
	"Existing views are kept (a rerun does only what is missing). The views'\n"
	"bytes do not depend on the number of ranks, the chunk size or the memory.\n"
	"Exit status: 0 done, 1 I/O or MPI error, 2 usage or configuration,\n"
	"3 bad snapshot. See arepo-extract(1).\n";

enum { OPT_MARGIN = CLI_OPT_FIRST_TOOL, OPT_RADIUS, OPT_CHUNK_MB, OPT_MAX_MEMORY,
       OPT_ALLOW_UNPHYSICAL, OPT_STATS, OPT_FORCE, OPT_PRINT_DIRS };

struct options {
	const char *out;
	double margin_pc;
	int with_radius;
	size_t chunk_bytes;
	size_t max_memory;   /* 0: the default */
	int allow_unphysical;
	int stats;
	int force;
	int print_dirs;
	int progress;        /* rank 0 shows each pass's reading */
};

/* What every rank of a communicator may spend: the least of the ranks'. */
struct budget {
	size_t memory;      /* bytes */
	long files;         /* open files for views being written (< 1: none) */
	long file_limit;    /* ulimit -n, raised to the hard limit */
	int memory_given;   /* --max-memory (else derived from the machine) */
};

/* Open files kept for HDF5, MPI, the snapshot and the standard streams. */
#define FILES_KEPT 16

struct totals {
	double bytes_read, seconds_read, cells_read;
	long views_written, views_skipped, passes;
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
	if (worst && !err->code)
		err->code = worst;
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

/* The memory a rank may use by default: 1 GiB, less when the machine's
 * memory shared by the ranks on it, or the address-space limit, leaves
 * less. */
static size_t default_memory(int ranks_here)
{
	double limit = (double)((size_t)1 << 30);
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	if (pages > 0 && page > 0) {
		double share = (double)pages * (double)page / 2 / (ranks_here > 0 ? ranks_here : 1);
		limit = share < limit ? share : limit;
	}
	struct rlimit rl;
	long size = 0, resident;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &size, &resident) != 2)
			size = 0;
		fclose(f);
	}
	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		double left = ((double)rl.rlim_cur - (double)size * (double)page) / 2;
		limit = left < limit ? left : limit;
	}
	return limit > 0 ? (size_t)limit : 0;
}

/* Open files left for views: the soft limit raised to the hard one, less
 * what is open and FILES_KEPT. */
static long files_left(long *limit)
{
	struct rlimit rl;
	*limit = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 64;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit raised = rl;
		raised.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (1 << 20) ? (1 << 20)
											      : rl.rlim_max;
		if (raised.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &raised) == 0)
			rl = raised;
	}
	*limit = rl.rlim_cur == RLIM_INFINITY ? (1L << 20) : (long)rl.rlim_cur;
	long open_now = 0;
	for (int fd = 0; fd < 4096 && fd < *limit; fd++)
		open_now += fcntl(fd, F_GETFD) != -1;
	return *limit - open_now - FILES_KEPT;
}

static void make_budget(const struct options *o, struct budget *b)
{
	MPI_Comm node;
	int here = 1;
	if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) ==
	    MPI_SUCCESS) {
		MPI_Comm_size(node, &here);
		MPI_Comm_free(&node);
	}
	unsigned long long memory = o->max_memory ? o->max_memory : default_memory(here);
	long limit, files = files_left(&limit);
	MPI_Allreduce(MPI_IN_PLACE, &memory, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, MPI_COMM_WORLD);
	MPI_Allreduce(MPI_IN_PLACE, &files, 1, MPI_LONG, MPI_MIN, MPI_COMM_WORLD);
	MPI_Allreduce(MPI_IN_PLACE, &limit, 1, MPI_LONG, MPI_MIN, MPI_COMM_WORLD);
	b->memory = (size_t)memory;
	b->files = files;
	b->file_limit = limit;
	b->memory_given = o->max_memory != 0;
}

/* One snapshot's work, as every rank of comm sees it. */
struct job {
	MPI_Comm comm;
	int me, n;
	const struct options *o;
	const struct arepo_config *cfg;
	struct snapshot snap;
	char dir[PATH_MAX];
	unsigned fields;
	struct snap_chunk *chunks;
	size_t nchunks;
	uint64_t chunk_cells; /* the longest chunk */
	char *config_json;
	double margin;
	/* What a pass may hold. */
	size_t per_view, per_stream, avail;
	long max_writing; /* views being written per rank */
	size_t max_views; /* views per pass */
	/* Buffers reused by every pass. */
	struct snap_raw raw;
	struct cells scratch;
	struct chunk_common common;
	struct view piece;
	float *recv[3];
	struct snap_unphysical bad;
};

/* Sends this rank's cells of one view for this round to its writer, or,
 * on the writer, appends every rank's in rank order: rank r read chunk
 * t*n + r, so that is cell order. The file sees the same cells in the same
 * order whatever the ranks (and view_stream writes whole chunks). */
static void exchange(struct job *j, int writer, struct view_stream *stream, int writing,
		     struct arepo_err *err)
{
	const struct view *p = &j->piece;
	const int cols[3] = { 3, VIEW_CHANNELS, 1 };
	const float *mine[3] = { p->position, p->value, p->radius };
	const int parts = j->o->with_radius ? 3 : 2;
	if (j->me != writer) {
		int m = err->code ? 0 : (int)p->n;
		for (int q = 0; q < parts; q++)
			MPI_Send(mine[q], m * cols[q], MPI_FLOAT, writer, q, j->comm);
		return;
	}
	for (int r = 0; r < j->n; r++) {
		const float *cells[3] = { mine[0], mine[1], mine[2] };
		uint64_t m = r == j->me && !err->code ? p->n : 0;
		if (r != j->me) {
			for (int q = 0; q < parts; q++) {
				MPI_Status st;
				int count;
				MPI_Recv(j->recv[q], (int)(j->chunk_cells * (uint64_t)cols[q]), MPI_FLOAT, r, q,
					 j->comm, &st);
				MPI_Get_count(&st, MPI_FLOAT, &count);
				m = (uint64_t)count / (uint64_t)cols[q];
				cells[q] = j->recv[q];
			}
		}
		if (writing && !err->code && m > 0)
			view_stream_append(stream, cells[0], cells[1], parts > 2 ? cells[2] : NULL, m, err);
	}
}

/* The views of the next pass, chosen by rank 0 and sent to all: those not
 * yet done from *next on, as many as the budget allows. Returns how many. */
static size_t plan_pass(struct job *j, int64_t *next, int64_t *views, long *writing,
			struct totals *tot)
{
	const int64_t points = j->cfg->writer_hyper.points_per_snapshot;
	long long plan[2] = { 0, *next }; /* count, where the next pass starts */
	if (j->me == 0) {
		memset(writing, 0, (size_t)j->n * sizeof *writing);
		size_t count = 0;
		long most = 0;
		int64_t k = *next;
		for (; k < points && count < j->max_views; k++) {
			char vpath[PATH_MAX + 64];
			snprintf(vpath, sizeof vpath, "%s/view_%lld.h5", j->dir, (long long)k);
			if (!j->o->force && h5_file_has_format(vpath, VIEW_FORMAT)) {
				tot->views_skipped++;
				continue;
			}
			long *w = &writing[k % j->n];
			if (*w >= j->max_writing ||
			    (count + 1) * j->per_view + (size_t)(*w + 1 > most ? *w + 1 : most) *
			    j->per_stream > j->avail)
				break;
			if (++*w > most)
				most = *w;
			views[count++] = k;
		}
		plan[0] = (long long)count;
		plan[1] = k;
	}
	MPI_Bcast(plan, 2, MPI_LONG_LONG, 0, j->comm);
	MPI_Bcast(views, (int)plan[0], MPI_INT64_T, 0, j->comm);
	*next = plan[1];
	return (size_t)plan[0];
}

/* Reads the snapshot once and writes the views listed; with an error, no
 * view of the pass is left. */
static int do_pass(struct job *j, const int64_t *views, size_t count, struct totals *tot,
		   struct arepo_err *err)
{
	const struct options *o = j->o;
	struct view_meta *metas = calloc(count, sizeof *metas);
	struct cell_units *units = calloc(count, sizeof *units);
	struct view_filter *filters = calloc(count, sizeof *filters);
	size_t own = 0;
	for (size_t b = 0; b < count; b++)
		own += views[b] % j->n == j->me;
	struct view_stream *streams = calloc(own ? own : 1, sizeof *streams);
	char *open = calloc(own ? own : 1, 1);
	if (!metas || !units || !filters || !streams || !open)
		err_set(err, EXIT_RUNTIME, "%s: out of memory for %zu views", j->snap.path, count);
	for (size_t b = 0, s = 0; b < count && !err->code; b++) {
		struct view_meta *m = &metas[b];
		view_meta_for(j->cfg, j->snap.name, views[b], j->margin, m);
		snprintf(m->snapshot, sizeof m->snapshot, "%s", j->snap.path);
		snprintf(m->snapshot_name, sizeof m->snapshot_name, "%s", j->snap.name);
		m->config_json = j->config_json;
		cell_units_init(&units[b], &j->snap.header, j->cfg, &m->perturbation);
		view_filter_init(&filters[b], m, &units[b]);
		if (views[b] % j->n == j->me) {
			char vpath[PATH_MAX + 64];
			snprintf(vpath, sizeof vpath, "%s/view_%lld.h5", j->dir, (long long)views[b]);
			open[s] = !view_stream_begin(&streams[s], vpath, m, o->with_radius, err);
			s++;
		}
	}
	int rc = agree(j->comm, err);

	/* Round t: rank r reads chunk t*n + r; each view's cells go to its file.
	 * Cells no gas has stop the writing, but the rest is still read, to
	 * count them. */
	int refusing = 0;
	for (size_t first = 0; first < j->nchunks && !rc; first += (size_t)j->n) {
		size_t c = first + (size_t)j->me;
		int have = c < j->nchunks;
		double t0 = monotonic_seconds();
		if (have && !snap_read_chunk(&j->snap, &j->chunks[c], j->fields, &j->raw, err)) {
			tot->bytes_read += (double)j->chunks[c].count *
					   (double)snap_bytes_on_disk(&j->snap, j->fields);
			tot->cells_read += (double)j->chunks[c].count;
			if (!o->allow_unphysical)
				snap_check_physical(&j->snap, &j->chunks[c], &j->raw, &j->bad);
		}
		tot->seconds_read += monotonic_seconds() - t0;
		unsigned long long bad = j->bad.cells;
		MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, j->comm);
		refusing |= bad > 0;
		if (have && !err->code && !refusing &&
		    chunk_common_compute(&units[0], &j->raw, &j->common))
			err_set(err, EXIT_RUNTIME, "%s: out of memory (lower --chunk-mb)", j->snap.path);
		for (size_t b = 0, s = 0; b < count && !refusing; b++) {
			int writer = (int)(views[b] % j->n);
			j->piece.meta = metas[b];
			j->piece.n = 0;
			if (have && !err->code &&
			    view_collect_chunk(&j->piece, &filters[b], &units[b], &j->raw, &j->common,
					       &j->scratch, o->with_radius))
				err_set(err, EXIT_RUNTIME, "%s: out of memory (lower --chunk-mb)",
					j->snap.path);
			exchange(j, writer, &streams[s], writer == j->me && open[s], err);
			s += writer == j->me;
		}
		rc = agree(j->comm, err);
		if (o->progress && rank == 0)
			cli_progress_show(j->snap.path, (double)(first + (size_t)j->n), (double)j->nchunks);
	}
	if (refusing && !rc) {
		/* Every rank learns the totals; the one that met the first says it. */
		unsigned long long counts[4] = { j->bad.cells, j->bad.density, j->bad.energy,
						 j->bad.velocity };
		unsigned long long first = j->bad.first;
		MPI_Allreduce(MPI_IN_PLACE, counts, 4, MPI_UNSIGNED_LONG_LONG, MPI_SUM, j->comm);
		MPI_Allreduce(MPI_IN_PLACE, &first, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, j->comm);
		if (first == j->bad.first)
			err_set(err, EXIT_BADDATA,
				"%s: %llu gas cells have values no gas has (Density NaN, infinite or "
				"negative: %llu; InternalEnergy NaN, infinite or negative: %llu; "
				"Velocities not finite: %llu); the first is %s; no view written "
				"(--allow-unphysical extracts them anyway)", j->snap.path, counts[0],
				counts[1], counts[2], counts[3], j->bad.first_what);
		rc = agree(j->comm, err);
	}
	for (size_t s = 0; s < own && open && streams; s++) {
		if (!open[s])
			continue;
		if (!rc && !err->code) {
			if (!view_stream_commit(&streams[s], err))
				tot->views_written++;
		} else {
			view_stream_abort(&streams[s]);
		}
	}
	if (!rc)
		rc = agree(j->comm, err);
	free(metas);
	free(units);
	free(filters);
	free(streams);
	free(open);
	return rc;
}

static void job_free(struct job *j)
{
	j->piece.meta.config_json = NULL;
	view_free(&j->piece);
	snap_raw_free(&j->raw);
	cells_free(&j->scratch);
	chunk_common_free(&j->common);
	for (int q = 0; q < 3; q++)
		free(j->recv[q]);
	free(j->config_json);
	free(j->chunks);
	snap_close(&j->snap);
}

/* What one view costs to hold, and whether one fits: refused up front,
 * with the numbers, when not. */
static int size_passes(struct job *j, const struct budget *bud, struct arepo_err *err)
{
	/* Per cell of a chunk: the raw fields, the shared temperatures, the
	 * converted cells and one view's piece (each grown by doubling), and the
	 * writer's receive buffers. */
	const size_t per_cell = snap_bytes_per_cell(&j->snap, j->fields) + 2 * sizeof(float) +
				2 * 12 * sizeof(float) + 2 * 10 * sizeof(float) + 10 * sizeof(float);
	const size_t fixed = (size_t)j->chunk_cells * per_cell + ((size_t)8 << 20);
	j->per_view = sizeof(struct view_meta) + sizeof(struct cell_units) +
		      sizeof(struct view_filter) + 2 * sizeof(int64_t);
	j->per_stream = view_stream_bytes(j->o->with_radius, j->snap.ncells);
	const size_t need = fixed + j->per_view + j->per_stream;
	if (bud->memory < need)
		return err_set(err, bud->memory_given ? EXIT_USAGE : EXIT_RUNTIME,
			       "%s: needs at least %.1f MiB of memory per rank (an IO chunk of %llu "
			       "cells with its buffers, %.1f MiB, and a view being written, %.1f MiB); "
			       "%s is %.1f MiB%s", j->snap.path, (double)need / 1048576,
			       (unsigned long long)j->chunk_cells, (double)fixed / 1048576,
			       (double)j->per_stream / 1048576,
			       bud->memory_given ? "--max-memory" : "the memory available",
			       (double)bud->memory / 1048576,
			       bud->memory_given ? "" : " (give --max-memory, or a lower --chunk-mb)");
	if (bud->files < 1)
		return err_set(err, EXIT_RUNTIME, "%s: no open file left for a view being written: "
			       "ulimit -n is %ld and at least %ld are needed", j->snap.path,
			       bud->file_limit, bud->file_limit - bud->files + 1);
	j->avail = bud->memory - fixed;
	j->max_writing = bud->files;
	j->max_views = j->avail / j->per_view;
	if (j->max_views > ((size_t)1 << 24))
		j->max_views = (size_t)1 << 24;
	/* One MPI message carries a piece of a chunk. */
	if (j->chunk_cells * VIEW_CHANNELS > (uint64_t)0x7fffffff)
		return err_set(err, EXIT_USAGE, "--chunk-mb: a chunk of %llu cells is too large for "
			       "one MPI message; lower --chunk-mb", (unsigned long long)j->chunk_cells);
	return 0;
}

/* Extracts the missing views of one snapshot with the ranks of comm, in as
 * many passes as the budget needs. */
static int do_snapshot(MPI_Comm comm, const char *path, const struct arepo_config *cfg,
		       const struct options *o, const struct budget *bud, struct totals *tot,
		       struct arepo_err *err)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j)
		return err_set(err, EXIT_RUNTIME, "out of memory");
	j->comm = comm;
	MPI_Comm_rank(comm, &j->me);
	MPI_Comm_size(comm, &j->n);
	j->o = o;
	j->cfg = cfg;
	snap_unphysical_init(&j->bad);
	int rc;
	snap_open(&j->snap, path, cfg, err);
	if ((rc = agree(comm, err))) {
		free(j);
		return rc;
	}
	if (snprintf(j->dir, sizeof j->dir, "%s/%s", o->out, j->snap.name) >= (int)sizeof j->dir)
		err_set(err, EXIT_USAGE, "%s: output path too long", o->out);
	else if (j->me == 0 && !mkdirs(j->dir, err))
		atomic_remove_stale(j->dir);
	j->fields = SNAP_FIELDS_VIEW | (o->with_radius ? SNAP_MASS : 0);
	if (!err->code)
		snap_plan_chunks(&j->snap, snap_chunk_cells(&j->snap, j->fields, o->chunk_bytes),
				 &j->chunks, &j->nchunks, err);
	for (size_t c = 0; c < j->nchunks; c++)
		if (j->chunks[c].count > j->chunk_cells)
			j->chunk_cells = j->chunks[c].count;
	if (!err->code)
		size_passes(j, bud, err);
	if (!err->code) {
		j->config_json = config_to_json(cfg);
		for (int q = 0; q < (o->with_radius ? 3 : 2); q++)
			j->recv[q] = malloc((size_t)(j->chunk_cells ? j->chunk_cells : 1) *
					    (size_t)(q == 0 ? 3 : q == 1 ? VIEW_CHANNELS : 1) * sizeof(float));
		if (!j->config_json || !j->recv[0] || !j->recv[1] || (o->with_radius && !j->recv[2]))
			err_set(err, EXIT_RUNTIME, "%s: out of memory", path);
	}
	j->margin = o->margin_pc / config_parsec_per_processing(cfg);
	int64_t *views = NULL;
	long *writing = NULL;
	if (!err->code) {
		views = malloc(j->max_views * sizeof *views);
		writing = calloc((size_t)j->n, sizeof *writing);
		if (!views || !writing)
			err_set(err, EXIT_RUNTIME, "%s: out of memory for the list of views", path);
	}
	rc = agree(comm, err);

	int64_t next = 0;
	const int64_t points = cfg->writer_hyper.points_per_snapshot;
	long passes = 0;
	while (!rc && next < points) {
		size_t count = plan_pass(j, &next, views, writing, tot);
		if (count == 0)
			continue; /* the rest exists */
		if (++passes == 2 && j->me == 0)
			log_warn("%s: its views do not all fit at once in --max-memory %.0f MiB and %ld "
				 "open files (ulimit -n %ld): the snapshot is read once per %zu views",
				 path, (double)bud->memory / 1048576, bud->files, bud->file_limit, count);
		if (j->me == 0)
			log_info("%s: pass %ld, %zu views from view_%lld on", path, passes, count,
				 (long long)views[0]);
		rc = do_pass(j, views, count, tot, err);
	}
	tot->passes += passes;
	free(views);
	free(writing);
	job_free(j);
	free(j);
	return rc;
}

/* Snapshots with the same stem would write the same view files: refused
 * before anything is done. */
static int check_stems(char **paths, int n, struct arepo_err *err)
{
	char (*names)[256] = calloc((size_t)n, sizeof *names);
	if (!names)
		return err_set(err, EXIT_RUNTIME, "out of memory");
	int rc = 0;
	for (int s = 0; s < n && !rc; s++)
		rc = snap_name(paths[s], names[s], sizeof names[s], err);
	for (int s = 0; s < n && !rc; s++)
		for (int t = 0; t < s && !rc; t++)
			if (strcmp(names[s], names[t]) == 0)
				rc = err_set(err, EXIT_USAGE, "%s and %s have the same stem %s: their "
					     "views would both be <out>/%s/view_<k>.h5; extract them "
					     "with different --out", paths[t], paths[s], names[s],
					     names[s]);
	free(names);
	return rc;
}

/* --help and --version need no MPI (and must work where MPI cannot start). */
static void help_without_mpi(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--version") == 0) {
			struct cli_common cli;
			cli_init(&cli, argv[0], usage);
			cli_common_option(&cli, argv[i][2] == 'v' ? CLI_OPT_VERSION : 'h', NULL);
		}
	}
}

/* The options and the configuration; errors, the same on every rank, are
 * said by rank 0 alone. Returns the index of the first SNAPSHOT. */
static int parse_options(int argc, char **argv, struct options *o, struct arepo_config *cfg)
{
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
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "margin", required_argument, NULL, OPT_MARGIN },
		{ "radius", no_argument, NULL, OPT_RADIUS },
		{ "chunk-mb", required_argument, NULL, OPT_CHUNK_MB },
		{ "max-memory", required_argument, NULL, OPT_MAX_MEMORY },
		{ "allow-unphysical", no_argument, NULL, OPT_ALLOW_UNPHYSICAL },
		{ "stats", no_argument, NULL, OPT_STATS },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "print-dirs", no_argument, NULL, OPT_PRINT_DIRS },
		CLI_PROGRESS_OPTIONS,
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		if (cli_common_option(&cli, opt, optarg))
			continue;
		switch (opt) {
		case 'o': o->out = optarg; break;
		case OPT_MARGIN: {
			char *end;
			o->margin_pc = strtod(optarg, &end);
			if (end == optarg || *end || !(o->margin_pc >= 0))
				cli_usage_error("--margin %s: expected parsecs, at least 0", optarg);
			break;
		}
		case OPT_RADIUS: o->with_radius = 1; break;
		case OPT_CHUNK_MB: {
			long long mb = cli_parse_count("--chunk-mb", optarg);
			if (mb < 1 || mb > (1 << 20))
				cli_usage_error("--chunk-mb %s: expected 1 to 1048576", optarg);
			o->chunk_bytes = (size_t)mb << 20;
			break;
		}
		case OPT_MAX_MEMORY:
			o->max_memory = (size_t)cli_parse_size("--max-memory", optarg);
			if (o->max_memory == 0)
				cli_usage_error("--max-memory %s: expected a positive size", optarg);
			break;
		case OPT_ALLOW_UNPHYSICAL: o->allow_unphysical = 1; break;
		case OPT_STATS: o->stats = 1; break;
		case OPT_FORCE: o->force = 1; break;
		case OPT_PRINT_DIRS: o->print_dirs = 1; break;
		default: cli_usage_error(NULL);
		}
	}
	o->progress = cli.progress;
	if (!o->out)
		cli_usage_error("--out DIR is required");
	if (optind == argc)
		cli_usage_error("no SNAPSHOT given");
	struct arepo_err err = { 0 };
	if (cli_load_config(&cli, cfg, &err) || config_require_grid(cfg, &err))
		die_err(&err);
	if (rank > 0) {
		dup2(saved_stderr, STDERR_FILENO);
		close(saved_stderr);
	}
	return optind;
}

/* Every snapshot: with fewer snapshots than ranks, all ranks read each one
 * together; with more, one snapshot per rank at a time, in rounds. */
static int extract_all(char **snapshots, int nsnap, const struct arepo_config *cfg,
		       const struct options *o, struct budget *bud, struct totals *tot,
		       struct arepo_err *err)
{
	check_stems(snapshots, nsnap, err);
	int rc = agree(MPI_COMM_WORLD, err);
	if (nsnap < nranks) {
		for (int s = 0; s < nsnap && !rc; s++)
			rc = do_snapshot(MPI_COMM_WORLD, snapshots[s], cfg, o, bud, tot, err);
		return rc;
	}
	for (int first = 0; first < nsnap && !rc; first += nranks) {
		if (first + rank < nsnap)
			do_snapshot(MPI_COMM_SELF, snapshots[first + rank], cfg, o, bud, tot, err);
		rc = agree(MPI_COMM_WORLD, err);
	}
	return rc;
}

/* The totals of every rank (a collective call), and what rank 0 prints
 * after a run that succeeded. */
static void report(char **snapshots, int nsnap, const struct options *o, const struct budget *bud,
		   const struct totals *tot, double wall, int succeeded, struct arepo_err *err)
{
	struct totals sum;
	MPI_Reduce(&tot->bytes_read, &sum.bytes_read, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
	MPI_Reduce(&tot->cells_read, &sum.cells_read, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
	MPI_Reduce(&tot->seconds_read, &sum.seconds_read, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
	MPI_Reduce(&tot->views_written, &sum.views_written, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
	MPI_Reduce(&tot->views_skipped, &sum.views_skipped, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
	MPI_Reduce(&tot->passes, &sum.passes, 1, MPI_LONG, MPI_MAX, 0, MPI_COMM_WORLD);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	long rss = ru.ru_maxrss, max_rss = 0;
	MPI_Reduce(&rss, &max_rss, 1, MPI_LONG, MPI_MAX, 0, MPI_COMM_WORLD);
	if (rank != 0 || !succeeded)
		return;
	if (o->print_dirs)
		for (int s = 0; s < nsnap; s++) {
			char name[256];
			if (snap_name(snapshots[s], name, sizeof name, err) == 0)
				printf("%s/%s\n", o->out, name);
		}
	log_info("%ld views written, %ld already there, %.3f s", sum.views_written, sum.views_skipped,
		 wall);
	if (o->stats)
		printf("ranks=%d\nsnapshots=%d\nviews_written=%ld\nviews_skipped=%ld\n"
		       "passes=%ld\ncells_read=%.0f\nbytes_read=%.0f\nseconds_read=%.6f\n"
		       "seconds_total=%.6f\npeak_rss_kib=%ld\nmax_memory=%zu\n",
		       nranks, nsnap, sum.views_written, sum.views_skipped, sum.passes, sum.cells_read,
		       sum.bytes_read, sum.seconds_read, wall, max_rss, bud->memory);
}

int main(int argc, char **argv)
{
	help_without_mpi(argc, argv);
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &nranks);
	struct options o = { 0 };
	struct arepo_config cfg;
	int first = parse_options(argc, argv, &o, &cfg);
	h5_quiet();

	double t0 = monotonic_seconds();
	struct totals tot = { 0 };
	struct budget bud;
	make_budget(&o, &bud);
	struct arepo_err err = { 0 };
	int rc = extract_all(argv + first, argc - first, &cfg, &o, &bud, &tot, &err);
	double wall = monotonic_seconds() - t0;
	report(argv + first, argc - first, &o, &bud, &tot, wall, rc == 0, &err);
	MPI_Finalize();
	return rc;
}
