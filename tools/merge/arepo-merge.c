/* arepo-merge: creates or extends a dataset (catalog, shuffle, units and a
 * virtual dataset over the tensors) from tensor files and other datasets,
 * under the datasets' locks, with its moves journaled so that a rerun
 * finishes or undoes what an interrupted run left. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "cli.h"
#include "dataset.h"
#include "dsdir.h"
#include "h5util.h"
#include "iris_import.h"
#include "npy.h"
#include "observed.h"
#include "rng.h"

static const char usage[] =
	"Usage: arepo-merge [OPTION]... -o DATASET INPUT...\n"
	"Create or extend the dataset directory DATASET with INPUTs: tensor files,\n"
	"observed files (arepo-observe), dataset directories and IRIS dataset\n"
	"directories (hyper.json, attributes.json, .npy files; imported in their\n"
	"order and units); a dataset holds one kind. The files go to DATASET/tensors/; DATASET/dataset.h5 is rewritten with\n"
	"the catalog, a new shuffle, the units and virtual datasets over the files:\n"
	"\"physical\" (N, 6, r, lon, lat), or \"columnized\" (N, 1, r, lon) and\n"
	"\"observed\" (N, 1, lon, v). A new dataset of pairs gets IRIS's units from\n"
	"a sample of its pairs drawn with its seed.\n"
	"\n"
	"  -o, --output DATASET   the dataset directory (required)\n"
	"      --copy             copy the tensors (default: move them)\n"
	"      --link             hard-link the tensors\n"
	"      --allow-duplicates accept entries with the snapshot, view and seed of\n"
	"                         one already there\n"
	"      --skip-existing    leave out, silently, inputs whose snapshot, view and\n"
	"                         seed are already in the dataset (for reruns)\n"
	"      --units-from OTHER adopt the units of dataset OTHER; arepo-normalize\n"
	"                         then converts the tensors\n"
	"      --export-iris DIR  also write DIR as IRIS's datasets read it (hyper.json,\n"
	"                         attributes.json, one .npy per tensor, or\n"
	"                         columnized_N.npy and observed_N.npy per pair)\n"
	"      --no-wait          fail (status 1) instead of waiting while another run\n"
	"                         changes DATASET or an input dataset\n"
	CLI_PROGRESS_HELP
	"      --log-level LEVEL  error, warn (default), info or debug\n"
	"  -h, --help             show this help and exit\n"
	"      --version          show the version and exit\n"
	"\n"
	"Nothing is changed when an input is refused (another grid, not a tensor,\n"
	"incomplete, a duplicate, other units). Exit status: 0 done, 1 I/O error,\n"
	"2 usage error, 3 bad input. See arepo-merge(1), arepo-dataset(5).\n";

enum { OPT_COPY = CLI_OPT_FIRST_TOOL, OPT_LINK, OPT_DUPLICATES, OPT_SKIP, OPT_UNITS_FROM, OPT_EXPORT,
       OPT_NO_WAIT };
enum mode { MOVE, COPY, LINK };

struct input {
	struct catalog_entry e;
	enum dataset_kind kind;  /* a tensor, or an observed pair */
	struct pair_info pairs;  /* a pair's */
	char source[PATH_MAX];   /* where the tensor is now */
	char *config_json;
	int from_dataset;        /* index of the dataset input it came from, or -1 */
	int in_place;            /* already in DATASET/tensors/ (left there by an interrupted run) */
};

struct run {
	const char *out, *units_from, *export_dir;
	enum mode mode;
	int allow_duplicates, skip_existing, lock_flags;
	char **args;
	int nargs;
	struct dsdir_locks locks;
	struct dataset ds;       /* the output as it is, then as it will be */
	int existing;
	struct dataset *sub;     /* per argument: the dataset it names, if one */
	int *vanished;           /* per argument: merged by an interrupted run */
	struct input *in;
	size_t n, cap;
	char **drops;            /* moves: tensors of input datasets left out by
				    --skip-existing, which go with their dataset */
	size_t ndrops;
	struct dsdir_journal recovered; /* the output's journal, finished */
	int have_pair_units;     /* the pairs' factors are set (an existing dataset's, taken) */
	struct iris_import *iris; /* per argument: the IRIS dataset directory it names, if one */
	struct atomic_output stage; /* where IRIS's entries are written, in DATASET/tensors/ */
	int keep_order;          /* a new dataset of one IRIS directory: its order kept */
	int progress;
};

/* Names, for the catalog lookups and the names chosen: open addressing. */
struct nameset {
	const char **slot;
	size_t cap;
};

static size_t name_hash(const char *s)
{
	size_t h = 1469598103934665603u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

static int nameset_init(struct nameset *set, size_t n)
{
	set->cap = 64;
	while (set->cap < 2 * n + 2)
		set->cap *= 2;
	set->slot = calloc(set->cap, sizeof *set->slot);
	return set->slot ? 0 : -1;
}

/* Returns 1 if name was there already; else adds it (the caller keeps it alive). */
static int nameset_add(struct nameset *set, const char *name, int add)
{
	size_t i = name_hash(name) & (set->cap - 1);
	for (; set->slot[i]; i = (i + 1) & (set->cap - 1))
		if (strcmp(set->slot[i], name) == 0)
			return 1;
	if (add)
		set->slot[i] = name;
	return 0;
}

static int in_nameset(const char *name, void *set)
{
	return nameset_add(set, name, 0);
}

static int never(const char *name, void *ctx)
{
	(void)name;
	(void)ctx;
	return 0;
}

static int always(const char *name, void *ctx)
{
	(void)name;
	(void)ctx;
	return 1;
}

/* Copies from to the new file to, which error messages call shown. */
static int copy_file(const char *from, const char *to, const char *shown, struct arepo_err *err)
{
	int in = open(from, O_RDONLY);
	if (in < 0)
		return err_set(err, EXIT_RUNTIME, "%s: %s", from, strerror(errno));
	int out = open(to, O_WRONLY | O_CREAT | O_EXCL, 0666);
	if (out < 0) {
		int saved = errno;
		close(in);
		return err_set(err, EXIT_RUNTIME, "%s: cannot create: %s", shown, strerror(saved));
	}
	char *buf = malloc(1 << 22);
	ssize_t n = 0;
	int saved = buf ? 0 : ENOMEM;
	while (!saved && (n = read(in, buf, 1 << 22)) > 0) {
		ssize_t w = write(out, buf, (size_t)n);
		if (w != n)
			saved = w < 0 ? errno : ENOSPC;
	}
	if (!saved && n < 0)
		saved = errno;
	if (!saved && fsync(out) != 0)
		saved = errno;
	if (close(out) != 0 && !saved)
		saved = errno;
	close(in);
	free(buf);
	if (saved) {
		unlink(to);
		return err_set(err, EXIT_RUNTIME, "%s: cannot copy to %s: %s", from, shown, strerror(saved));
	}
	return 0;
}

/* Puts a tensor at dest, replacing a file there (which no committed catalog
 * names): a hard link (move, link), or a copy (copy, and move across file
 * systems) written beside dest and renamed. The source is removed later,
 * once dataset.h5 is committed, so that a crash loses nothing. */
static int place(const char *source, const char *dest, enum mode mode, struct arepo_err *err)
{
	if (unlink(dest) != 0 && errno != ENOENT)
		return err_set(err, EXIT_RUNTIME, "%s: %s", dest, strerror(errno));
	if (mode != COPY && link(source, dest) == 0)
		return 0;
	if (mode == LINK)
		return err_set(err, EXIT_RUNTIME, "%s: cannot hard-link into %s: %s", source, dest,
			       strerror(errno));
	struct atomic_output out;
	int rc = atomic_begin(&out, dest, err);
	if (!rc)
		rc = copy_file(source, out.temp, dest, err);
	if (!rc && rename(out.temp, dest) != 0)
		rc = err_set(err, EXIT_RUNTIME, "%s: %s", dest, strerror(errno));
	atomic_abort(&out); /* after the rename there is nothing left to remove */
	return rc;
}

static int is_directory(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_dataset(const char *dir)
{
	char probe[PATH_MAX + 32];
	snprintf(probe, sizeof probe, "%s/" DATASET_FILE, dir);
	return access(probe, F_OK) == 0;
}

static int same_key(const struct catalog_entry *a, const struct catalog_entry *b)
{
	return strcmp(a->snapshot_name, b->snapshot_name) == 0 && a->view == b->view && a->seed == b->seed;
}

static int write_json(const char *path, const char *text, struct arepo_err *err)
{
	return atomic_write_file(path, text, strlen(text), err);
}

/* One pair as IRIS's PreObservedDataset writes it: columnized_<i>.npy and
 * observed_<i>.npy. */
static int export_pair(const char *source, const char *dir, size_t i, struct arepo_err *err)
{
	hid_t file;
	int rc = h5_open_checked(source, &file, err);
	if (rc)
		return rc;
	const char *names[2] = { "columnized", "observed" };
	for (int k = 0; k < 2 && !rc; k++) {
		int rank;
		hsize_t dims[4];
		float *v = NULL;
		hid_t set = h5_dataset_dims(file, names[k], &rank, dims) || rank != 3 ? -1
			    : H5Dopen2(file, names[k], H5P_DEFAULT);
		if (set >= 0)
			v = malloc((size_t)(dims[0] * dims[1] * dims[2]) * sizeof *v);
		if (set < 0 || !v || H5Dread(set, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
			rc = err_set(err, EXIT_BADDATA, "%s: cannot read %s", source, names[k]);
		} else {
			char dest[PATH_MAX * 2];
			snprintf(dest, sizeof dest, "%s/%s_%zu.npy", dir, names[k], i);
			rc = npy_write_floats(dest, 3, dims, v, err);
		}
		free(v);
		if (set >= 0)
			H5Dclose(set);
	}
	H5Fclose(file);
	return rc;
}

/* IRIS's layout: hyper.json, attributes.json, tensors (or pairs) as .npy. */
static int export_iris(const char *dir, const char *dataset_dir, const struct dataset *ds,
		       int progress, struct arepo_err *err)
{
	/* hyper.json states the dataset's units: every entry must be in them. */
	for (size_t i = 0; i < ds->n; i++) {
		char source[PATH_MAX * 2];
		double f[3];
		snprintf(source, sizeof source, "%s/%s", dataset_dir, ds->entries[i].tensor);
		int rc = entry_factors_to(ds, source, &ds->entries[i], f, err);
		if (rc)
			return rc;
		if (!factors_are_one(f))
			return err_set(err, EXIT_BADDATA, "%s: not yet in the dataset's units (factors %g, %g, "
				       "%g); run arepo-normalize %s first; nothing exported", source, f[0],
				       f[1], f[2], dataset_dir);
	}
	if (mkdir(dir, 0777) != 0 && errno != EEXIST)
		return err_set(err, EXIT_RUNTIME, "%s: cannot create: %s", dir, strerror(errno));
	atomic_remove_stale(dir);
	int rc = 0;
	size_t cap = 64 + ds->n * 128;
	char *index = malloc(cap);
	if (!index)
		return err_set(err, EXIT_RUNTIME, "%s: out of memory", dir);
	size_t len = (size_t)snprintf(index, cap, "{\n    \"cardinality\": %zu,\n    \"index\": [", ds->n);
	for (size_t k = 0; k < ds->n && !rc; k++) {
		size_t i = (size_t)ds->shuffle[k];
		char source[PATH_MAX * 2], name[64];
		snprintf(source, sizeof source, "%s/%s", dataset_dir, ds->entries[i].tensor);
		if (ds->kind == DATASET_PAIRS) {
			rc = export_pair(source, dir, i, err);
			if (!rc && progress)
				cli_progress_show(dir, (double)(k + 1), (double)ds->n);
			len += (size_t)snprintf(index + len, cap - len,
						"%s\n        [\n            \"columnized_%zu.npy\",\n"
						"            \"observed_%zu.npy\"\n        ]", k ? "," : "", i, i);
			continue;
		}
		char dest[PATH_MAX * 2];
		snprintf(name, sizeof name, "tensor_%06zu.npy", i);
		snprintf(dest, sizeof dest, "%s/%s", dir, name);
		rc = npy_from_tensor(source, dest, err);
		len += (size_t)snprintf(index + len, cap - len, "%s\n        \"%s\"", k ? "," : "", name);
		if (!rc && progress)
			cli_progress_show(dir, (double)(k + 1), (double)ds->n);
	}
	snprintf(index + len, cap - len, "\n    ]\n}\n");
	char path[PATH_MAX + 32];
	if (!rc) {
		snprintf(path, sizeof path, "%s/attributes.json", dir);
		rc = write_json(path, index, err);
	}
	free(index);
	if (!rc) {
		char *hyper = iris_hyper_json(ds);
		snprintf(path, sizeof path, "%s/hyper.json", dir);
		rc = hyper ? write_json(path, hyper, err) : err_set(err, EXIT_RUNTIME, "out of memory");
		free(hyper);
	}
	return rc;
}

/* The directories this run may change: the output, the datasets it merges,
 * and those an interrupted run's journal names (so that it can be
 * finished); locked in one order, checked again once locked. */
static int lock_everything(struct run *r, struct arepo_err *err)
{
	for (int attempt = 0;; attempt++) {
		size_t cap = 16, n = 0;
		char **dirs = malloc(cap * sizeof *dirs);
		int rc = dirs ? 0 : err_set(err, EXIT_RUNTIME, "out of memory");
		for (int a = -1; a < r->nargs && !rc; a++) {
			const char *dir = a < 0 ? r->out : r->args[a];
			if (a >= 0 && !(is_directory(dir) && is_dataset(dir)))
				continue;
			struct dsdir_journal j;
			struct arepo_err ignored;
			if (dsdir_journal_read(dir, &j, &ignored))
				memset(&j, 0, sizeof j);
			for (size_t k = 0; k <= j.ndirs && !rc; k++) {
				const char *d = k == 0 ? dir : j.dirs[k - 1].dir;
				if (k > 0 && !is_directory(d))
					continue;
				if (n == cap) {
					char **more = realloc(dirs, (cap *= 2) * sizeof *dirs);
					if (!more) {
						rc = err_set(err, EXIT_RUNTIME, "out of memory");
						break;
					}
					dirs = more;
				}
				if (!(dirs[n++] = strdup(d)))
					rc = err_set(err, EXIT_RUNTIME, "out of memory");
			}
			dsdir_journal_free(&j);
		}
		if (!rc)
			rc = dsdir_lock_all((const char *const *)dirs, n, r->lock_flags | DSDIR_CREATE, &r->locks, err);
		for (size_t i = 0; i < n; i++)
			free(dirs[i]);
		free(dirs);
		if (rc)
			return rc;
		/* A run that held a lock meanwhile may have left another journal. */
		int complete = 1;
		for (int a = -1; a < r->nargs && complete; a++) {
			const char *dir = a < 0 ? r->out : r->args[a];
			struct dsdir_journal j;
			struct arepo_err ignored;
			if ((a >= 0 && !is_directory(dir)) || dsdir_journal_read(dir, &j, &ignored))
				continue;
			for (size_t k = 0; k < j.ndirs && complete; k++)
				complete = dsdir_locked(&r->locks, j.dirs[k].dir);
			dsdir_journal_free(&j);
		}
		if (complete)
			return 0;
		dsdir_unlock_all(&r->locks);
		if (attempt > 100)
			return err_set(err, EXIT_RUNTIME, "%s: cannot lock: its journal keeps changing", r->out);
	}
}

/* Finishes what an interrupted run left in dir, judged by dir's committed
 * catalog ds (NULL: none). */
static int recover(const char *dir, const struct dataset *ds, struct dsdir_journal *j,
		   struct arepo_err *err)
{
	int rc = dsdir_journal_read(dir, j, err);
	if (rc || (!j->nmoves && !j->ndirs))
		return rc;
	struct nameset names;
	size_t n = ds ? ds->n : 0;
	if (nameset_init(&names, n))
		return err_set(err, EXIT_RUNTIME, "out of memory");
	for (size_t i = 0; i < n; i++)
		nameset_add(&names, ds->entries[i].tensor, 1);
	rc = dsdir_journal_finish(dir, j, in_nameset, &names, err);
	free(names.slot);
	size_t done = 0, undone = 0;
	for (size_t i = 0; i < j->nmoves; i++) {
		done += j->moves[i].outcome == DSDIR_DONE;
		undone += j->moves[i].outcome == DSDIR_UNDONE;
	}
	log_info("%s: finished an interrupted merge (%zu entries were committed, %zu undone)", dir, done,
		 undone);
	return rc;
}

/* An argument an interrupted run merged (and moved away) already: done
 * holds the sources that run committed. */
static int merged_before(const struct nameset *done, const char *arg)
{
	char canonical[PATH_MAX];
	struct stat st;
	if (!done->slot || dsdir_canonical(arg, canonical, sizeof canonical) ||
	    !nameset_add((struct nameset *)done, canonical, 0))
		return 0;
	if (lstat(arg, &st) != 0)
		return errno == ENOENT;
	return S_ISDIR(st.st_mode) && !is_dataset(arg); /* emptied, but kept for files of the user's */
}

static struct input *new_input(struct run *r, struct arepo_err *err)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		struct input *more = realloc(r->in, cap * sizeof *more);
		if (!more) {
			err_set(err, EXIT_RUNTIME, "out of memory");
			return NULL;
		}
		r->in = more;
		r->cap = cap;
	}
	struct input *in = &r->in[r->n];
	memset(in, 0, sizeof *in);
	in->from_dataset = -1;
	return in;
}

static int add_tensor(struct run *r, const char *path, int in_place, struct arepo_err *err)
{
	struct input *in = new_input(r, err);
	if (!in)
		return EXIT_RUNTIME;
	if (strlen(path) >= sizeof in->source)
		return err_set(err, EXIT_USAGE, "%s: path too long", path);
	int rc;
	if (h5_file_has_format(path, OBSERVED_FORMAT)) {
		in->kind = DATASET_PAIRS;
		rc = catalog_entry_from_observed(path, &in->e, &in->config_json, &in->pairs, err);
	} else {
		in->kind = DATASET_PHYSICAL;
		rc = catalog_entry_from_tensor(path, &in->e, &in->config_json, err);
	}
	if (rc)
		return rc;
	memcpy(in->source, path, strlen(path) + 1);
	in->in_place = in_place;
	r->n++;
	return 0;
}

/* An IRIS dataset directory: its entries written as tensor or observed
 * files under a temporary directory in DATASET/tensors/ (removed at exit),
 * from where they are merged as any file is. */
static int import_iris(struct run *r, int a, struct arepo_err *err)
{
	if (!r->stage.active) {
		char path[PATH_MAX + 32];
		snprintf(path, sizeof path, "%s/" DATASET_TENSORS, r->out);
		if (mkdir(path, 0777) != 0 && errno != EEXIST)
			return err_set(err, EXIT_RUNTIME, "%s: cannot create: %s", path, strerror(errno));
		snprintf(path, sizeof path, "%s/" DATASET_TENSORS "/iris-import", r->out);
		int rc = atomic_begin(&r->stage, path, err);
		if (rc)
			return rc;
		if (mkdir(r->stage.temp, 0777) != 0) {
			rc = err_set(err, EXIT_RUNTIME, "%s: cannot create: %s", r->stage.temp, strerror(errno));
			atomic_abort(&r->stage);
			return rc;
		}
	}
	char into[PATH_MAX + 16];
	snprintf(into, sizeof into, "%s/%d", r->stage.temp, a);
	if (mkdir(into, 0777) != 0)
		return err_set(err, EXIT_RUNTIME, "%s: cannot create: %s", into, strerror(errno));
	struct iris_import *imp = &r->iris[a];
	int rc = iris_import(r->args[a], into, r->progress, imp, err);
	log_info("%s: %zu IRIS entries read", r->args[a], imp->n);
	for (size_t i = 0; i < imp->n && !rc; i++)
		rc = add_tensor(r, imp->files[i], 0, err);
	return rc;
}

/* Every input read, the output's state recovered first. */
static int read_inputs(struct run *r, struct arepo_err *err)
{
	int rc = 0;
	r->existing = is_dataset(r->out);
	if (r->existing && (rc = dataset_read(r->out, &r->ds, err)))
		return rc;
	if ((rc = recover(r->out, r->existing ? &r->ds : NULL, &r->recovered, err)))
		return rc;
	dsdir_remove_temporaries(r->out);
	/* Tensors an interrupted run placed and whose sources are gone: adopted. */
	for (size_t i = 0; i < r->recovered.nmoves && !rc; i++) {
		if (r->recovered.moves[i].outcome != DSDIR_KEPT)
			continue;
		char path[PATH_MAX];
		if (snprintf(path, sizeof path, "%s/%s", r->out, r->recovered.moves[i].dest) >= (int)sizeof path)
			continue;
		log_warn("%s: placed by an interrupted merge whose input is gone; adopted", path);
		rc = add_tensor(r, path, 1, err);
	}
	struct nameset done = { 0 };
	const struct dsdir_journal *j0 = &r->recovered;
	if ((j0->nmoves || j0->ndirs) && nameset_init(&done, j0->nmoves + j0->ndirs))
		return err_set(err, EXIT_RUNTIME, "out of memory");
	for (size_t i = 0; i < j0->nmoves; i++)
		if (j0->moves[i].outcome == DSDIR_DONE && *j0->moves[i].source)
			nameset_add(&done, j0->moves[i].source, 1);
	for (size_t i = 0; i < j0->ndirs; i++)
		if (j0->dirs[i].outcome == DSDIR_DONE)
			nameset_add(&done, j0->dirs[i].dir, 1);
	for (int a = 0; a < r->nargs && !rc; a++) {
		const char *arg = r->args[a];
		if (merged_before(&done, arg)) {
			log_info("%s: merged by an interrupted run, which is now finished", arg);
			r->vanished[a] = 1;
			continue;
		}
		if (!is_directory(arg)) {
			rc = add_tensor(r, arg, 0, err);
			continue;
		}
		if (iris_dir_detect(arg)) {
			rc = import_iris(r, a, err);
			continue;
		}
		struct dsdir_journal j;
		if ((rc = dataset_read(arg, &r->sub[a], err)) || (rc = recover(arg, &r->sub[a], &j, err)))
			break;
		dsdir_journal_free(&j);
		dsdir_remove_temporaries(arg);
		for (size_t i = 0; i < r->sub[a].n && !rc; i++) {
			struct input *in = new_input(r, err);
			if (!in) {
				rc = EXIT_RUNTIME;
				break;
			}
			in->e = r->sub[a].entries[i];
			in->kind = r->sub[a].kind;
			in->pairs = r->sub[a].pairs;
			snprintf(in->source, sizeof in->source, "%s/%s", arg, r->sub[a].entries[i].tensor);
			in->from_dataset = a;
			r->n++;
		}
	}
	free(done.slot);
	return rc;
}

/* A pair already in some dataset's units (it records iris_factors) joins
 * only a dataset in the same units: f gets the factors from them, 1 when
 * they agree or the pair is in processing units (arepo-normalize scales it
 * later). Before the units of a new dataset of pairs are known, nothing is
 * compared. */
static int pairs_normalized_elsewhere(const struct run *r, const char *src, double f[3],
				      struct arepo_err *err)
{
	f[0] = f[1] = f[2] = 1;
	if (!r->have_pair_units)
		return 0;
	hid_t file;
	int rc = h5_open_checked(src, &file, err);
	if (rc)
		return rc;
	double recorded[2];
	if (h5_attr_doubles(file, "iris_factors", recorded, 2) == 0) {
		f[0] = r->ds.pairs.factors[0] / recorded[0];
		f[1] = r->ds.pairs.factors[1] / recorded[1];
	}
	H5Fclose(file);
	return 0;
}

/* Refusals, before anything changes. */
static int check_inputs(struct run *r, const struct iris_units *units, struct arepo_err *err)
{
	if (r->skip_existing) {
		size_t kept = 0;
		for (size_t i = 0; i < r->n; i++) {
			int known = 0;
			for (size_t j = 0; j < r->ds.n && !known; j++)
				known = same_key(&r->in[i].e, &r->ds.entries[j]);
			if (!known) {
				r->in[kept++] = r->in[i];
				continue;
			}
			free(r->in[i].config_json);
			if (r->mode != MOVE || r->in[i].from_dataset < 0 || access(r->in[i].source, F_OK) != 0)
				continue;
			if (!r->drops && !(r->drops = calloc(r->n, sizeof *r->drops)))
				return err_set(err, EXIT_RUNTIME, "out of memory");
			if (!(r->drops[r->ndrops++] = strdup(r->in[i].source)))
				return err_set(err, EXIT_RUNTIME, "out of memory");
		}
		r->n = kept;
	}
	for (size_t i = 0; i < r->n; i++)
		if (r->in[i].from_dataset >= 0 && access(r->in[i].source, R_OK) != 0)
			return err_set(err, EXIT_BADDATA, "%s: tensor of dataset %s is missing: %s", r->in[i].source,
				       r->args[r->in[i].from_dataset], strerror(errno));
	const struct catalog_entry *ref = r->ds.n ? &r->ds.entries[0] : r->n ? &r->in[0].e : NULL;
	for (size_t i = 0; i < r->n; i++) {
		const struct catalog_entry *e = &r->in[i].e;
		const char *src = r->in[i].source;
		if (r->in[i].kind != r->ds.kind)
			return err_set(err, EXIT_BADDATA, "%s: %s, the dataset's entries are %s; a dataset holds "
				       "one kind of entry; nothing changed", src,
				       r->in[i].kind == DATASET_PAIRS ? "an observed pair" : "a physical tensor",
				       r->ds.kind == DATASET_PAIRS ? "observed pairs" : "physical tensors");
		int rc;
		if (r->ds.kind == DATASET_PAIRS && (rc = pair_info_check(&r->ds.pairs, &r->in[i].pairs, src, err)))
			return rc;
		if (e->r_steps != ref->r_steps || e->lon_steps != ref->lon_steps || e->lat_steps != ref->lat_steps)
			return err_set(err, EXIT_BADDATA, "%s: grid %lldx%lldx%lld differs from the dataset's "
				       "%lldx%lldx%lld; nothing changed", src, (long long)e->r_steps,
				       (long long)e->lon_steps, (long long)e->lat_steps, (long long)ref->r_steps,
				       (long long)ref->lon_steps, (long long)ref->lat_steps);
		double f[3] = { 1, 1, 1 };
		if (r->ds.kind == DATASET_PAIRS)
			rc = pairs_normalized_elsewhere(r, src, f, err);
		else
			rc = tensor_factors_to(src, &e->processing, units, f, err);
		if (rc)
			return rc;
		if (!factors_are_one(f) && !r->units_from)
			return err_set(err, EXIT_BADDATA, "%s: its units differ from the dataset's (factors %g, "
				       "%g, %g); use --units-from to adopt one set and arepo-normalize to "
				       "convert; nothing changed", src, f[0], f[1], f[2]);
		if (r->allow_duplicates)
			continue;
		for (size_t j = 0; j < r->ds.n; j++)
			if (same_key(e, &r->ds.entries[j]))
				return err_set(err, EXIT_BADDATA, "%s: duplicate of %s (snapshot %s, view %lld, seed "
					       "%lld); use --allow-duplicates to keep both; nothing changed", src,
					       r->ds.entries[j].tensor, e->snapshot_name, (long long)e->view,
					       (long long)e->seed);
		for (size_t j = 0; j < i; j++)
			if (same_key(e, &r->in[j].e))
				return err_set(err, EXIT_BADDATA, "%s: duplicate of %s (snapshot %s, view %lld, seed "
					       "%lld); use --allow-duplicates to keep both; nothing changed", src,
					       r->in[j].source, e->snapshot_name, (long long)e->view,
					       (long long)e->seed);
	}
	/* A move needs to remove its sources: found out now, not after. */
	for (int a = 0; a < r->nargs && r->mode == MOVE; a++)
		if (r->sub[a].entries && access(r->args[a], W_OK) != 0)
			return err_set(err, EXIT_RUNTIME, "%s: cannot be removed once merged: %s; use --copy; "
				       "nothing changed", r->args[a], strerror(errno));
	for (size_t i = 0; i < r->n && r->mode == MOVE; i++) {
		if (r->in[i].in_place)
			continue;
		char dir[PATH_MAX];
		snprintf(dir, sizeof dir, "%s", r->in[i].source);
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		else
			snprintf(dir, sizeof dir, ".");
		if (access(dir, W_OK) != 0)
			return err_set(err, EXIT_RUNTIME, "%s: cannot be moved out of %s: %s; use --copy; nothing "
				       "changed", r->in[i].source, dir, strerror(errno));
	}
	return 0;
}

/* Journal, place, commit dataset.h5, then finish (remove what was moved). */
static int commit(struct run *r, struct arepo_err *err)
{
	char tdir[PATH_MAX + 16];
	snprintf(tdir, sizeof tdir, "%s/" DATASET_TENSORS, r->out);
	if (mkdir(tdir, 0777) != 0 && errno != EEXIST)
		return err_set(err, EXIT_RUNTIME, "%s: cannot create: %s", tdir, strerror(errno));
	struct dataset *ds = &r->ds;
	struct catalog_entry *all = realloc(ds->entries, (ds->n + r->n + 1) * sizeof *all);
	if (all)
		ds->entries = all;
	int64_t *shuffle = all ? realloc(ds->shuffle, (ds->n + r->n + 1) * sizeof *shuffle) : NULL;
	if (shuffle)
		ds->shuffle = shuffle;
	struct nameset taken;
	if (!all || !shuffle || nameset_init(&taken, ds->n + r->n))
		return err_set(err, EXIT_RUNTIME, "out of memory");
	for (size_t i = 0; i < ds->n; i++)
		nameset_add(&taken, ds->entries[i].tensor, 1);

	/* Names: any not in the catalog (a file left there by an interrupted run
	 * of an earlier version is replaced, not kept beside a "_1"). */
	struct dsdir_journal j = { 0 };
	int rc = 0;
	for (size_t i = 0; i < r->n && !rc; i++) {
		struct catalog_entry *e = &ds->entries[ds->n + i];
		*e = r->in[i].e;
		if (r->in[i].in_place) {
			snprintf(e->tensor, sizeof e->tensor, "%s", r->in[i].source + strlen(r->out) + 1);
		} else {
			for (int d = 0;; d++) {
				if (d == 0)
					snprintf(e->tensor, sizeof e->tensor, DATASET_TENSORS "/%.60s_view%lld_seed%lld.h5",
						 e->snapshot_name, (long long)e->view, (long long)e->seed);
				else
					snprintf(e->tensor, sizeof e->tensor, DATASET_TENSORS
						 "/%.60s_view%lld_seed%lld_%d.h5", e->snapshot_name,
						 (long long)e->view, (long long)e->seed, d);
				if (!nameset_add(&taken, e->tensor, 0))
					break;
			}
		}
		nameset_add(&taken, e->tensor, 1);
		rc = dsdir_journal_add_move(&j, e->tensor, r->in[i].in_place ? "" : r->in[i].source,
					    r->mode == MOVE, err);
	}
	for (size_t i = 0; i < r->ndrops && !rc; i++)
		rc = dsdir_journal_add_move(&j, "", r->drops[i], 1, err);
	for (int a = 0; a < r->nargs && !rc && r->mode == MOVE; a++)
		if (r->sub[a].entries)
			rc = dsdir_journal_add_dir(&j, r->args[a], DATASET_FILE, err);
	if (!rc && (j.nmoves || j.ndirs))
		rc = dsdir_journal_write(r->out, &j, err);
	if (rc) {
		free(taken.slot);
		dsdir_journal_free(&j);
		return rc;
	}

	for (size_t i = 0; i < r->n && !rc; i++) {
		char dest[PATH_MAX + 160];
		snprintf(dest, sizeof dest, "%s/%s", r->out, ds->entries[ds->n + i].tensor);
		if (!r->in[i].in_place)
			rc = place(r->in[i].source, dest, r->mode, err);
		if (!rc && r->progress)
			cli_progress_show(r->out, (double)(i + 1), (double)r->n);
	}
	if (!rc) {
		int fd = open(tdir, O_RDONLY);
		if (fd >= 0) {
			fsync(fd); /* the new names on disk before the catalog that names them */
			close(fd);
		}
		size_t before = ds->n;
		ds->n += r->n;
		if (r->keep_order)
			for (size_t i = 0; i < ds->n; i++)
				ds->shuffle[i] = (int64_t)i;
		else
			dataset_shuffle(ds);
		rc = dataset_write(r->out, ds, err);
		if (rc)
			ds->n = before;
	}
	struct arepo_err finish_err = { 0 };
	int frc = dsdir_journal_finish(r->out, &j, rc ? never : always, NULL, &finish_err);
	if (!rc && frc) {
		rc = frc;
		*err = finish_err;
	}
	free(taken.slot);
	dsdir_journal_free(&j);
	return rc;
}

/* A new dataset given up (a refused input, a failure): what this run made
 * goes, so that nothing is changed. */
static void remove_new_dataset(struct run *r)
{
	if (!r->locks.n || !r->locks.l || is_dataset(r->out))
		return;
	int created = 0;
	for (size_t i = 0; i < r->locks.n; i++)
		created |= r->locks.l[i].created;
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/" DATASET_TENSORS, r->out);
	rmdir(path);
	snprintf(path, sizeof path, "%s/" DSDIR_JOURNAL, r->out);
	if (!created || access(path, F_OK) == 0)
		return;
	snprintf(path, sizeof path, "%s/" DSDIR_LOCK, r->out);
	unlink(path);
	rmdir(r->out);
}

/* writer_hyper.unit_calculation_sample_size entries (all when fewer),
 * drawn from the dataset's seed, and the units computed from their pairs
 * stacked in the order drawn, as IRIS's calculate_iris_units. */
static int pair_units_of_sample(struct run *r, struct arepo_err *err)
{
	struct arepo_config cfg;
	config_defaults(&cfg);
	const char *json = r->in[0].config_json;
	if (json && config_load_text(&cfg, json, r->in[0].source, err))
		return err->code;
	size_t k = (size_t)cfg.writer_hyper.unit_calculation_sample_size;
	if (k > r->n)
		k = r->n;
	if (k > DATASET_SAMPLE_MAX)
		k = DATASET_SAMPLE_MAX;
	if ((long long)k < cfg.writer_hyper.unit_calculation_sample_size)
		log_info("%s: the units come from %zu pairs (unit_calculation_sample_size %lld)", r->out,
			 k, cfg.writer_hyper.unit_calculation_sample_size);
	size_t *order = malloc(r->n * sizeof *order);
	char **paths = malloc((k ? k : 1) * sizeof *paths);
	if (!order || !paths) {
		free(order);
		free(paths);
		return err_set(err, EXIT_RUNTIME, "out of memory");
	}
	struct rng_stream s;
	rng_init(&s, r->ds.seed, "dataset", (int64_t)r->n, "unit_sample");
	for (size_t i = 0; i < r->n; i++)
		order[i] = i;
	for (size_t i = 0; i < k; i++) { /* without replacement, as random.sample */
		size_t j = i + (size_t)rng_below(&s, r->n - i);
		size_t t = order[i];
		order[i] = order[j];
		order[j] = t;
		r->ds.pairs.sample[i] = (int64_t)(r->ds.n + order[i]);
		paths[i] = r->in[order[i]].source;
	}
	r->ds.pairs.n_sample = (int64_t)k;
	int rc = pair_units_calculate(&r->ds, &r->in[0].e.processing, paths, k, err);
	free(order);
	free(paths);
	return rc;
}

static int merge(struct run *r, struct arepo_err *err)
{
	int rc = lock_everything(r, err);
	if (rc)
		return rc;
	for (int a = 0; a < r->nargs; a++) {
		struct stat x, y;
		if (stat(r->args[a], &x) == 0 && S_ISDIR(x.st_mode) && stat(r->out, &y) == 0 &&
		    x.st_dev == y.st_dev && x.st_ino == y.st_ino)
			return err_set(err, EXIT_USAGE, "%s: is the output dataset", r->args[a]);
	}
	if ((rc = read_inputs(r, err)))
		return rc;
	r->keep_order = !r->existing && r->nargs == 1 && r->iris[0].n;
	/* A new dataset holds the kind of its first input; pairs share its mode and axes. */
	if (!r->existing && r->n) {
		r->ds.kind = r->in[0].kind;
		r->ds.pairs = r->in[0].pairs;
		memset(r->ds.pairs.factors, 0, sizeof r->ds.pairs.factors);
		r->ds.pairs.n_sample = 0;
	}
	r->have_pair_units = r->existing && r->ds.kind == DATASET_PAIRS;
	/* A new dataset takes the units of its first input, in argument order. */
	struct iris_units units = r->ds.units;
	int have_units = r->existing, any_dataset = 0;
	for (int a = 0; a < r->nargs; a++)
		any_dataset |= r->sub[a].entries != NULL;
	for (int a = 0; a < r->nargs && !have_units; a++) {
		if (r->sub[a].entries) {
			units = r->sub[a].units;
			have_units = 1;
			if (r->ds.kind == DATASET_PAIRS && r->sub[a].kind == DATASET_PAIRS) {
				memcpy(r->ds.pairs.factors, r->sub[a].pairs.factors, sizeof r->ds.pairs.factors);
				r->have_pair_units = 1;
			}
		} else if (r->iris[a].n) {
			/* An IRIS dataset keeps its units (hyper.json's). */
			units = r->iris[a].units;
			have_units = 1;
			if (r->ds.kind == DATASET_PAIRS && r->iris[a].kind == DATASET_PAIRS &&
			    r->iris[a].have_pair_factors) {
				memcpy(r->ds.pairs.factors, r->iris[a].pair_factors, sizeof r->ds.pairs.factors);
				r->have_pair_units = 1;
			}
		}
		for (size_t i = 0; i < r->n && !have_units; i++)
			if (r->in[i].from_dataset < 0 && !r->in[i].in_place && strcmp(r->in[i].source, r->args[a]) == 0) {
				iris_units_from_processing(&r->in[i].e.processing, &units);
				have_units = 1;
			}
	}
	for (size_t i = 0; i < r->n && !have_units; i++) {
		iris_units_from_processing(&r->in[i].e.processing, &units);
		have_units = 1;
	}
	if (r->units_from) {
		struct dataset other;
		if ((rc = dataset_read(r->units_from, &other, err)))
			return rc;
		units = other.units;
		dataset_free(&other);
		if (r->ds.kind == DATASET_PAIRS && (r->ds.n || r->n)) {
			r->ds.units = units;
			pair_units_take(&r->ds, r->ds.n ? &r->ds.entries[0].processing : &r->in[0].e.processing);
			r->have_pair_units = 1;
		}
	}
	if ((rc = check_inputs(r, &units, err)))
		return rc;
	/* A new dataset of pairs: IRIS's units from a sample of its entries. */
	if (r->ds.kind == DATASET_PAIRS && !r->have_pair_units && r->n) {
		if (!r->ds.seed)
			r->ds.seed = (uint64_t)r->in[0].e.seed;
		if ((rc = pair_units_of_sample(r, err)))
			return rc;
		units = r->ds.units;
		r->have_pair_units = 1;
	}
	if (r->n == 0 && r->skip_existing && !r->export_dir && !r->units_from && !(any_dataset && r->mode == MOVE)) {
		log_info("%s: every input is already in the dataset", r->out);
		return 0;
	}
	if (!r->existing && r->n == 0 && !r->units_from && !any_dataset)
		return err_set(err, EXIT_RUNTIME, "%s: not a dataset (no " DATASET_FILE ") and nothing left "
			       "to merge", r->out);
	if (r->n || r->units_from || !r->existing || (any_dataset && r->mode == MOVE)) {
		r->ds.units = units;
		if (r->ds.kind == DATASET_PAIRS && !r->have_pair_units && r->n == 0 && !r->ds.n)
			return err_set(err, EXIT_RUNTIME, "%s: no pairs to derive units from", r->out);
		if (!r->ds.seed)
			r->ds.seed = r->ds.n ? (uint64_t)r->ds.entries[0].seed : r->n ? (uint64_t)r->in[0].e.seed : 0;
		for (size_t i = 0; i < r->n && !r->ds.config_json; i++)
			r->ds.config_json = r->in[i].config_json ? strdup(r->in[i].config_json) : NULL;
		for (int a = 0; a < r->nargs && !r->ds.config_json; a++)
			r->ds.config_json = r->sub[a].config_json ? strdup(r->sub[a].config_json) : NULL;
		if ((rc = commit(r, err)))
			return rc;
	}
	if (r->export_dir && (rc = export_iris(r->export_dir, r->out, &r->ds, r->progress, err)))
		return rc;
	log_info("%s: %zu entries (%zu added)", r->out, r->ds.n, r->n);
	return 0;
}

int main(int argc, char **argv)
{
	/* Exit without HDF5's shutdown: after a failed write (a full disk) it
	 * crashes closing the file again; outputs are closed before commit. */
	H5dont_atexit();
	struct cli_common cli;
	cli_init(&cli, argv[0], usage);
	struct run r = { .mode = MOVE };
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "copy", no_argument, NULL, OPT_COPY },
		{ "link", no_argument, NULL, OPT_LINK },
		{ "allow-duplicates", no_argument, NULL, OPT_DUPLICATES },
		{ "skip-existing", no_argument, NULL, OPT_SKIP },
		{ "units-from", required_argument, NULL, OPT_UNITS_FROM },
		{ "export-iris", required_argument, NULL, OPT_EXPORT },
		{ "no-wait", no_argument, NULL, OPT_NO_WAIT },
		CLI_PROGRESS_OPTIONS,
		CLI_BASIC_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		if (cli_common_option(&cli, opt, optarg))
			continue;
		switch (opt) {
		case 'o': r.out = optarg; break;
		case OPT_COPY: r.mode = COPY; break;
		case OPT_LINK: r.mode = LINK; break;
		case OPT_DUPLICATES: r.allow_duplicates = 1; break;
		case OPT_SKIP: r.skip_existing = 1; break;
		case OPT_UNITS_FROM: r.units_from = optarg; break;
		case OPT_EXPORT: r.export_dir = optarg; break;
		case OPT_NO_WAIT: r.lock_flags |= DSDIR_NOWAIT; break;
		default: cli_usage_error(NULL);
		}
	}
	r.progress = cli.progress;
	if (!r.out)
		cli_usage_error("-o DATASET is required");
	if (optind == argc && !r.export_dir && !r.units_from)
		cli_usage_error("no INPUT given");
	if (optind == argc && !is_dataset(r.out))
		die(EXIT_USAGE, "%s: not a dataset (no " DATASET_FILE ")", r.out);
	r.args = argv + optind;
	r.nargs = argc - optind;
	r.sub = calloc((size_t)r.nargs + 1, sizeof *r.sub);
	r.vanished = calloc((size_t)r.nargs + 1, sizeof *r.vanished);
	r.iris = calloc((size_t)r.nargs + 1, sizeof *r.iris);
	if (!r.sub || !r.vanished || !r.iris)
		die(EXIT_RUNTIME, "out of memory");

	struct arepo_err err = { 0 };
	int rc = merge(&r, &err);
	if (r.stage.active)
		atomic_abort(&r.stage); /* what was imported and not merged */
	if (rc) {
		remove_new_dataset(&r);
		die_err(&err);
	}
	for (int a = 0; a < r.nargs; a++)
		iris_import_free(&r.iris[a]);
	free(r.iris);
	for (size_t i = 0; i < r.n; i++)
		free(r.in[i].config_json);
	for (size_t i = 0; i < r.ndrops; i++)
		free(r.drops[i]);
	free(r.drops);
	for (int a = 0; a < r.nargs; a++)
		dataset_free(&r.sub[a]);
	dsdir_journal_free(&r.recovered);
	dsdir_unlock_all(&r.locks);
	free(r.in);
	free(r.sub);
	free(r.vanished);
	dataset_free(&r.ds);
	return EXIT_OK;
}
