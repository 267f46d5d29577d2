/* arepo-normalize: converts a dataset's tensors to its units (or another
 * dataset's), in place and exactly once, streaming and in parallel, under
 * the dataset's lock; its workers stop with it. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "atomic.h"
#include "channels.h"
#include "cli.h"
#include "clock.h"
#include "coords.h"
#include "dataset.h"
#include "dsdir.h"
#include "h5util.h"
#include "interp.h"
#include "observed.h"

static const char usage[] =
	"Usage: arepo-normalize [OPTION]... DATASET\n"
	"Convert the entries of DATASET to the dataset's units, or with --units-from\n"
	"to those of dataset OTHER, as IRIS's take_units: for tensors, channel 0\n"
	"times the velocity factor, 1 times the density factor, 2 and 5 times the\n"
	"temperature factor; for observed pairs, columnized times the density factor\n"
	"and observed times the temperature (or, simple mode, velocity-density)\n"
	"factor. Each file is rewritten beside itself and renamed over it, and\n"
	"records its units: a run killed at any moment and run again scales every\n"
	"entry exactly once.\n"
	"\n"
	"      --units-from OTHER adopt the units of dataset OTHER first\n"
	"  -j, --jobs N           tensors converted at once (default: CPUs)\n"
	"      --stats            print volumes and timings as key=value lines\n"
	"      --no-wait          fail (status 1) instead of waiting while another run\n"
	"                         changes DATASET\n"
	CLI_PROGRESS_HELP
	"      --log-level LEVEL  error, warn (default), info or debug\n"
	"  -h, --help             show this help and exit\n"
	"      --version          show the version and exit\n"
	"\n"
	"When every factor is 1 within 1e-6 nothing is rewritten (said at\n"
	"--log-level info). Exit status: 0 done, 1 I/O error, 2 usage error, 3 bad dataset.\n"
	"See arepo-normalize(1), arepo-dataset(5).\n";

enum { OPT_UNITS_FROM = CLI_OPT_FIRST_TOOL, OPT_STATS, OPT_NO_WAIT };

static herr_t copy_attribute(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
	(void)info;
	hid_t to = *(hid_t *)data;
	/* Its units are recorded anew; dimension scales are made anew (their
	 * references point into the old file). */
	if (strcmp(name, "iris_units") == 0 || strcmp(name, "DIMENSION_LIST") == 0)
		return 0;
	hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
	hid_t type = H5Aget_type(a), space = H5Aget_space(a);
	size_t bytes = H5Tget_size(type) * (size_t)H5Sget_simple_extent_npoints(space);
	void *buf = malloc(bytes ? bytes : 1);
	herr_t rc = -1;
	if (buf && H5Aread(a, type, buf) >= 0) {
		hid_t b = H5Acreate2(to, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
		rc = b >= 0 && H5Awrite(b, type, buf) >= 0 ? 0 : -1;
		if (b >= 0)
			H5Aclose(b);
	}
	free(buf);
	H5Tclose(type);
	H5Sclose(space);
	H5Aclose(a);
	return rc;
}

/* Rewrites one tensor scaled by f (float32 products, as IRIS's in-place
 * NumPy multiplications), recording the units u, and renames it into place. */
static int convert(const char *path, const double f[3], const struct iris_units *u,
		   const struct processing_units *p, struct arepo_err *err)
{
	h5_quiet();
	hid_t in = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	hid_t src = in >= 0 ? H5Dopen2(in, "physical", H5P_DEFAULT) : -1;
	if (src < 0) {
		if (in >= 0)
			H5Fclose(in);
		return err_set(err, EXIT_BADDATA, "%s: cannot read physical", path);
	}
	struct atomic_output out;
	int rc = atomic_begin(&out, path, err);
	hid_t file = rc ? -1 : H5Fcreate(out.temp, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
	hid_t space = H5Dget_space(src), dcpl = H5Dget_create_plist(src);
	H5Pset_obj_track_times(dcpl, 0); /* the same tensor, the same bytes, at any time */
	hsize_t dims[4] = { 0 };
	H5Sget_simple_extent_dims(space, dims, NULL);
	hid_t dst = file >= 0 ? H5Dcreate2(file, "physical", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl,
					  H5P_DEFAULT) : -1;
	if (!rc && (file < 0 || dst < 0 ||
		    H5Aiterate2(in, H5_INDEX_NAME, H5_ITER_INC, NULL, copy_attribute, &file) < 0 ||
		    H5Aiterate2(src, H5_INDEX_NAME, H5_ITER_INC, NULL, copy_attribute, &dst) < 0))
		rc = err_set(err, EXIT_RUNTIME, "%s: cannot write its replacement: %s", path,
			     h5_failure_reason());
	struct view_meta meta;
	if (!rc && (rc = view_meta_read(in, path, &meta, err)) == 0) {
		if (coords_tensor(file, dst, &meta.geometry, p, u))
			rc = err_set(err, EXIT_RUNTIME, "%s: cannot write its replacement: %s", path,
				     h5_failure_reason());
		view_meta_free(&meta);
	}
	size_t plane = (size_t)dims[2] * (size_t)dims[3];
	float *slab = malloc(plane * (size_t)dims[0] * sizeof(float));
	/* Each channel times the factor of its quantity (f: velocity, density,
	 * temperature), as float32. */
	float by_channel[CHANNELS];
	for (int c = 0; c < CHANNELS; c++) {
		enum channel_quantity q = channel_table[c].quantity;
		by_channel[c] = q == QUANTITY_NONE ? 1.0f : (float)f[q];
	}
	hsize_t count[4] = { dims[0], 1, dims[2], dims[3] };
	hid_t mspace = H5Screate_simple(4, count, NULL);
	for (hsize_t r = 0; r < dims[1] && !rc; r++) {
		hsize_t start[4] = { 0, r, 0, 0 };
		H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL);
		if (!slab || H5Dread(src, H5T_NATIVE_FLOAT, mspace, space, H5P_DEFAULT, slab) < 0) {
			rc = err_set(err, EXIT_BADDATA, "%s: cannot read physical (r %llu)", path,
				     (unsigned long long)r);
			break;
		}
		for (int c = 0; c < CHANNELS; c++) {
			if (channel_table[c].quantity == QUANTITY_NONE)
				continue;
			float *v = slab + (size_t)c * plane;
			for (size_t i = 0; i < plane; i++)
				v[i] *= by_channel[c];
		}
		if (H5Dwrite(dst, H5T_NATIVE_FLOAT, mspace, space, H5P_DEFAULT, slab) < 0)
			rc = err_set(err, EXIT_RUNTIME, "%s: cannot write its replacement: %s", path,
				     h5_failure_reason());
	}
	double recorded[4] = { u->length_per_SI, u->time_per_SI, u->mass_per_SI, u->temperature_per_SI };
	if (!rc && h5_write_attr_doubles(file, "iris_units", recorded, 4))
		rc = err_set(err, EXIT_RUNTIME, "%s: cannot record its units: %s", path, h5_failure_reason());
	free(slab);
	H5Sclose(mspace);
	H5Sclose(space);
	H5Pclose(dcpl);
	if (dst >= 0)
		H5Dclose(dst);
	H5Dclose(src);
	H5Fclose(in);
	if (file >= 0 && H5Fclose(file) < 0 && !rc)
		rc = err_set(err, EXIT_RUNTIME, "%s: cannot write its replacement: %s", path,
			     h5_failure_reason());
	if (rc) {
		if (out.active)
			atomic_abort(&out);
		return rc;
	}
	/* The rename is the moment the tensor changes: scaled, with its units. */
	return atomic_commit(&out, err);
}

/* Entries converted by all workers (shared memory), for the progress line. */
static unsigned long *converted;
static int show_progress;

/* The workers, which the parent stops when it is asked to stop. */
static volatile sig_atomic_t stop_signal;
static volatile pid_t *workers;
static volatile int nworkers;

static void forward(int sig)
{
	stop_signal = sig;
	for (int w = 0; w < nworkers; w++)
		if (workers[w] > 0)
			kill(workers[w], sig);
}

static const int stop_signals[] = { SIGTERM, SIGINT, SIGHUP };
#define NSTOP ((int)(sizeof stop_signals / sizeof stop_signals[0]))

/* One worker's share: every jobs-th tensor. It stops before the next
 * tensor if its parent is gone (and with PR_SET_PDEATHSIG, at once). */
static void work(pid_t parent, int w, int jobs, const size_t *todo, size_t ntodo, char (*paths)[PATH_MAX * 2],
		 double (*factors)[3], const struct dataset *ds)
{
	struct arepo_err err = { 0 };
	for (size_t k = (size_t)w; k < ntodo; k += (size_t)jobs) {
		if (getppid() != parent)
			_exit(EXIT_RUNTIME);
		size_t i = todo[k];
		int rc;
		if (ds->kind == DATASET_PAIRS) {
			log_info("%s: columnized x%.9g, observed x%.9g", paths[i], factors[i][0], factors[i][1]);
			rc = observed_rescale(paths[i], factors[i], ds->pairs.factors, &err);
		} else {
			log_info("%s: velocity x%.9g, density x%.9g, temperature x%.9g", paths[i],
				 factors[i][0], factors[i][1], factors[i][2]);
			rc = convert(paths[i], factors[i], &ds->units, &ds->entries[i].processing, &err);
		}
		if (rc)
			die_err(&err);
		if (show_progress && converted)
			cli_progress_show(NULL, (double)__atomic_add_fetch(converted, 1, __ATOMIC_RELAXED),
					  (double)ntodo);
	}
	_exit(0);
}

/* Runs the workers and waits for all of them. SIGTERM, SIGINT and SIGHUP
 * are passed on to them; once they have stopped, the parent stops by the
 * same signal. The first worker that fails stops the others. */
static int run_workers(const char *dir, int jobs, const size_t *todo, size_t ntodo,
		       char (*paths)[PATH_MAX * 2], double (*factors)[3], const struct dataset *ds)
{
	pid_t *pids = calloc((size_t)jobs, sizeof *pids);
	if (!pids)
		die(EXIT_RUNTIME, "out of memory");
	workers = pids;
	sigset_t block, old;
	sigemptyset(&block);
	for (int i = 0; i < NSTOP; i++)
		sigaddset(&block, stop_signals[i]);
	sigprocmask(SIG_BLOCK, &block, &old);
	struct sigaction fwd, saved[NSTOP];
	memset(&fwd, 0, sizeof fwd);
	fwd.sa_handler = forward;
	fwd.sa_mask = block;
	for (int i = 0; i < NSTOP; i++)
		if (sigaction(stop_signals[i], &fwd, &saved[i]) == 0 && saved[i].sa_handler == SIG_IGN)
			sigaction(stop_signals[i], &saved[i], NULL); /* ignored from the start: stays so */
	pid_t parent = getpid();
	int worst = 0, stopping = 0;
	fflush(NULL);
	for (int w = 0; w < jobs; w++) {
		pid_t pid = fork();
		if (pid == 0) {
			for (int i = 0; i < NSTOP; i++)
				sigaction(stop_signals[i], &saved[i], NULL);
#ifdef __linux__
			prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
			if (getppid() != parent)
				_exit(EXIT_RUNTIME);
			sigprocmask(SIG_SETMASK, &old, NULL);
			work(parent, w, jobs, todo, ntodo, paths, factors, ds);
		}
		if (pid < 0) {
			log_error("cannot start a worker: %s", strerror(errno));
			worst = EXIT_RUNTIME;
			stopping = 1;
			forward(SIGTERM);
			stop_signal = 0;
			break;
		}
		pids[w] = pid;
		nworkers = w + 1;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	for (int left = nworkers; left > 0;) {
		int status;
		pid_t pid = waitpid(-1, &status, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		int w;
		for (w = 0; w < nworkers && pids[w] != pid; w++)
			;
		if (w == nworkers)
			continue;
		pids[w] = 0;
		left--;
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_RUNTIME;
		if (WIFSIGNALED(status) && !stopping && !stop_signal)
			log_error("%s: a worker was killed by signal %d (%s)", dir, WTERMSIG(status),
				  strsignal(WTERMSIG(status)));
		if (code && !stopping && !stop_signal) {
			stopping = 1;
			for (int k = 0; k < nworkers; k++)
				if (pids[k] > 0)
					kill(pids[k], SIGTERM);
		}
		if (code > worst)
			worst = code;
	}
	for (int i = 0; i < NSTOP; i++)
		sigaction(stop_signals[i], &saved[i], NULL);
	nworkers = 0;
	free(pids);
	if (stop_signal) {
		int sig = stop_signal;
		log_error("%s: interrupted by signal %d (%s); its workers have stopped; a rerun converts the "
			  "rest", dir, sig, strsignal(sig));
		signal(sig, SIG_DFL);
		raise(sig);
	}
	return worst;
}

int main(int argc, char **argv)
{
	/* Exit without HDF5's shutdown: after a failed write (a full disk) it
	 * crashes closing the file again; outputs are closed before commit. */
	H5dont_atexit();
	struct cli_common cli;
	cli_init(&cli, argv[0], usage);
	const char *units_from = NULL;
	int jobs = interp_default_threads(), stats = 0, lock_flags = 0;
	static const struct option longopts[] = {
		{ "units-from", required_argument, NULL, OPT_UNITS_FROM },
		{ "jobs", required_argument, NULL, 'j' },
		{ "stats", no_argument, NULL, OPT_STATS },
		{ "no-wait", no_argument, NULL, OPT_NO_WAIT },
		CLI_PROGRESS_OPTIONS,
		CLI_BASIC_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "j:h", longopts, NULL)) != -1) {
		if (cli_common_option(&cli, opt, optarg))
			continue;
		switch (opt) {
		case OPT_UNITS_FROM: units_from = optarg; break;
		case 'j': {
			long long n = cli_parse_count("--jobs", optarg);
			if (n < 1 || n > 1024)
				cli_usage_error("--jobs %s: expected 1 to 1024", optarg);
			jobs = (int)n;
			break;
		}
		case OPT_STATS: stats = 1; break;
		case OPT_NO_WAIT: lock_flags |= DSDIR_NOWAIT; break;
		default: cli_usage_error(NULL);
		}
	}
	if (optind != argc - 1)
		cli_usage_error(optind == argc ? "missing DATASET" : "too many operands");
	const char *dir = argv[optind];
	double t0 = monotonic_seconds();

	struct arepo_err err = { 0 };
	struct dataset ds;
	struct dsdir_lock lock;
	char probe[PATH_MAX + 32];
	snprintf(probe, sizeof probe, "%s/" DATASET_FILE, dir);
	/* A directory that is no dataset gets no lock file; a dataset is read
	 * once locked, as whoever held the lock left it. */
	if ((access(probe, F_OK) == 0 && dsdir_lock(&lock, dir, lock_flags, &err)) ||
	    dataset_read(dir, &ds, &err))
		die_err(&err);
	dsdir_remove_temporaries(dir);
	if (units_from) {
		/* The target goes into dataset.h5 before any tensor changes, so that a
		 * rerun, with or without --units-from, aims at the same units. */
		struct dataset other;
		if (dataset_read(units_from, &other, &err))
			die_err(&err);
		if (!iris_units_equal(&ds.units, &other.units)) {
			ds.units = other.units;
			if (ds.kind == DATASET_PAIRS && ds.n)
				pair_units_take(&ds, &ds.entries[0].processing);
			if (dataset_write(dir, &ds, &err))
				die_err(&err);
		}
		dataset_free(&other);
	}

	/* What each tensor needs. */
	size_t *todo = calloc(ds.n ? ds.n : 1, sizeof *todo), ntodo = 0;
	double (*factors)[3] = calloc(ds.n ? ds.n : 1, sizeof *factors);
	char (*paths)[PATH_MAX * 2] = calloc(ds.n ? ds.n : 1, sizeof *paths);
	if (!todo || !factors || !paths)
		die(EXIT_RUNTIME, "%s: out of memory for %zu tensors", dir, ds.n);
	double bytes = 0;
	for (size_t i = 0; i < ds.n; i++) {
		snprintf(paths[i], sizeof paths[i], "%s/%s", dir, ds.entries[i].tensor);
		if (entry_factors_to(&ds, paths[i], &ds.entries[i], factors[i], &err))
			die_err(&err);
		if (!factors_are_one(factors[i])) {
			const struct pair_info *p = &ds.pairs;
			todo[ntodo++] = i;
			bytes += ds.kind == DATASET_PAIRS
					 ? 4.0 * (double)ds.entries[i].lon_steps *
						   (double)(p->r_crop_max - p->r_crop_min + p->n_lines * p->v_steps)
					 : 24.0 * (double)ds.entries[i].r_steps * (double)ds.entries[i].lon_steps *
						   (double)ds.entries[i].lat_steps;
		}
	}
	if (ntodo == 0) {
		log_info("%s: every tensor is in the dataset's units (factors 1 within 1e-6); nothing "
			 "rewritten", dir);
	} else {
		/* Processes, not threads: one tensor each at a time. */
		if ((size_t)jobs > ntodo)
			jobs = (int)ntodo;
		show_progress = cli.progress;
		void *shared = show_progress ? mmap(NULL, sizeof *converted, PROT_READ | PROT_WRITE,
						    MAP_SHARED | MAP_ANONYMOUS, -1, 0) : MAP_FAILED;
		converted = shared == MAP_FAILED ? NULL : shared;
		int worst = run_workers(dir, jobs, todo, ntodo, paths, factors, &ds);
		if (worst)
			return worst;
		log_info("%s: %zu of %zu tensors converted", dir, ntodo, ds.n);
	}
	double seconds = monotonic_seconds() - t0;
	if (stats)
		printf("tensors=%zu\nconverted=%zu\nbytes=%.0f\nseconds=%.6f\njobs=%d\n", ds.n, ntodo,
		       bytes, seconds, jobs);
	free(todo);
	free(factors);
	free(paths);
	dataset_free(&ds);
	return EXIT_OK;
}
