/* arepo-merge: creates or extends a dataset (catalog, shuffle, units and a
 * virtual dataset over the tensors) from tensor files and other datasets. */
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
#include "h5util.h"
#include "npy.h"

static const char usage[] =
	"Usage: arepo-merge [OPTION]... -o DATASET INPUT...\n"
	"Create or extend the dataset directory DATASET with INPUTs: tensor files\n"
	"and dataset directories. Tensors go to DATASET/tensors/; DATASET/dataset.h5\n"
	"is rewritten with the catalog, a new shuffle, the units and \"physical\", a\n"
	"virtual dataset (N, 6, r, lon, lat) over the tensors.\n"
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
	"      --export-iris DIR  also write DIR as IRIS's StandardDataset reads it\n"
	"                         (hyper.json, attributes.json, one .npy per tensor)\n"
	"      --log-level LEVEL  error, warn (default), info or debug\n"
	"  -h, --help             show this help and exit\n"
	"      --version          show the version and exit\n"
	"\n"
	"Nothing is changed when an input is refused (another grid, not a tensor,\n"
	"incomplete, a duplicate, other units). Exit status: 0 done, 1 I/O error,\n"
	"2 usage error, 3 bad input. See arepo-merge(1), arepo-dataset(5).\n";

enum { OPT_COPY = CLI_OPT_FIRST_TOOL, OPT_LINK, OPT_DUPLICATES, OPT_SKIP, OPT_UNITS_FROM, OPT_EXPORT };
enum mode { MOVE, COPY, LINK };

struct input {
	struct catalog_entry e;
	char source[PATH_MAX];   /* where the tensor is now */
	char *config_json;
	int from_dataset;        /* index of the dataset input it came from, or -1 */
};

static int copy_file(const char *from, const char *to, struct arepo_err *err)
{
	int in = open(from, O_RDONLY);
	if (in < 0)
		return err_set(err, EXIT_RUNTIME, "%s: %s", from, strerror(errno));
	int out = open(to, O_WRONLY | O_CREAT | O_EXCL, 0666);
	if (out < 0) {
		close(in);
		return err_set(err, EXIT_RUNTIME, "%s: %s", to, strerror(errno));
	}
	char *buf = malloc(1 << 22);
	ssize_t n = 0;
	int bad = !buf;
	while (!bad && (n = read(in, buf, 1 << 22)) > 0)
		bad = write(out, buf, (size_t)n) != n;
	bad |= n < 0;
	bad |= fsync(out) != 0;
	bad |= close(out) != 0;
	close(in);
	free(buf);
	if (bad) {
		unlink(to);
		return err_set(err, EXIT_RUNTIME, "%s: copy failed (disk full?)", to);
	}
	return 0;
}

/* Puts a tensor at dest: a hard link (move, link), or a copy (copy, and move
 * across file systems). The source is removed later, once dataset.h5 is
 * committed, so that a crash loses nothing. */
static int place(const char *source, const char *dest, enum mode mode, struct arepo_err *err)
{
	if (mode != COPY && link(source, dest) == 0)
		return 0;
	if (mode == LINK)
		return err_set(err, EXIT_RUNTIME, "%s: cannot hard-link into %s: %s", source, dest,
			       strerror(errno));
	char temp[PATH_MAX * 2];
	snprintf(temp, sizeof temp, "%s.part", dest);
	unlink(temp);
	int rc = copy_file(source, temp, err);
	if (!rc && rename(temp, dest) != 0)
		rc = err_set(err, EXIT_RUNTIME, "%s: %s", dest, strerror(errno));
	return rc;
}

static int is_directory(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int same_key(const struct catalog_entry *a, const struct catalog_entry *b)
{
	return strcmp(a->snapshot_name, b->snapshot_name) == 0 && a->view == b->view && a->seed == b->seed;
}

static int write_json(const char *path, const char *text, struct arepo_err *err)
{
	return atomic_write_file(path, text, strlen(text), err);
}

/* IRIS's layout: hyper.json, attributes.json, tensors as .npy. */
static int export_iris(const char *dir, const char *dataset_dir, const struct dataset *ds,
		       struct arepo_err *err)
{
	if (mkdir(dir, 0777) != 0 && errno != EEXIST)
		return err_set(err, EXIT_RUNTIME, "%s: cannot create: %s", dir, strerror(errno));
	int rc = 0;
	size_t cap = 64 + ds->n * 48;
	char *index = malloc(cap);
	size_t len = (size_t)snprintf(index, cap, "{\n    \"cardinality\": %zu,\n    \"index\": [", ds->n);
	for (size_t k = 0; k < ds->n && !rc; k++) {
		size_t i = (size_t)ds->shuffle[k];
		char source[PATH_MAX * 2], name[64], dest[PATH_MAX * 2];
		snprintf(source, sizeof source, "%s/%s", dataset_dir, ds->entries[i].tensor);
		snprintf(name, sizeof name, "tensor_%06zu.npy", i);
		snprintf(dest, sizeof dest, "%s/%s", dir, name);
		rc = npy_from_tensor(source, dest, err);
		len += (size_t)snprintf(index + len, cap - len, "%s\n        \"%s\"", k ? "," : "", name);
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

int main(int argc, char **argv)
{
	struct cli_common cli;
	cli_init(&cli, argv[0], usage);
	const char *out = NULL, *units_from = NULL, *export_dir = NULL;
	enum mode mode = MOVE;
	int allow_duplicates = 0, skip_existing = 0;
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "copy", no_argument, NULL, OPT_COPY },
		{ "link", no_argument, NULL, OPT_LINK },
		{ "allow-duplicates", no_argument, NULL, OPT_DUPLICATES },
		{ "skip-existing", no_argument, NULL, OPT_SKIP },
		{ "units-from", required_argument, NULL, OPT_UNITS_FROM },
		{ "export-iris", required_argument, NULL, OPT_EXPORT },
		CLI_BASIC_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		if (cli_common_option(&cli, opt, optarg))
			continue;
		switch (opt) {
		case 'o': out = optarg; break;
		case OPT_COPY: mode = COPY; break;
		case OPT_LINK: mode = LINK; break;
		case OPT_DUPLICATES: allow_duplicates = 1; break;
		case OPT_SKIP: skip_existing = 1; break;
		case OPT_UNITS_FROM: units_from = optarg; break;
		case OPT_EXPORT: export_dir = optarg; break;
		default: cli_usage_error(NULL);
		}
	}
	if (!out)
		cli_usage_error("-o DATASET is required");
	if (optind == argc && !export_dir && !units_from)
		cli_usage_error("no INPUT given");

	struct arepo_err err = { 0 };
	struct dataset ds = { 0 };
	char probe[PATH_MAX + 32];
	snprintf(probe, sizeof probe, "%s/" DATASET_FILE, out);
	int existing = access(probe, F_OK) == 0;
	if (existing && dataset_read(out, &ds, &err))
		die_err(&err);

	/* Every input, read and checked before anything changes. */
	int ninputs = argc - optind;
	size_t cap = 16, n = 0;
	struct input *in = calloc(cap, sizeof *in);
	struct dataset *sub = calloc((size_t)(ninputs ? ninputs : 1), sizeof *sub);
	struct iris_units units = ds.units;
	int have_units = existing;
	for (int a = 0; a < ninputs; a++) {
		const char *arg = argv[optind + a];
		if (is_directory(arg)) {
			if (dataset_read(arg, &sub[a], &err))
				die_err(&err);
			if (!have_units) {
				units = sub[a].units;
				have_units = 1;
			}
			for (size_t i = 0; i < sub[a].n; i++) {
				if (n == cap)
					in = realloc(in, (cap *= 2) * sizeof *in);
				in[n].e = sub[a].entries[i];
				snprintf(in[n].source, sizeof in[n].source, "%s/%s", arg, sub[a].entries[i].tensor);
				in[n].config_json = NULL;
				in[n].from_dataset = a;
				if (access(in[n].source, R_OK) != 0)
					die(EXIT_BADDATA, "%s: tensor of dataset %s is missing", in[n].source, arg);
				n++;
			}
		} else {
			if (n == cap)
				in = realloc(in, (cap *= 2) * sizeof *in);
			if (catalog_entry_from_tensor(arg, &in[n].e, &in[n].config_json, &err))
				die_err(&err);
			snprintf(in[n].source, sizeof in[n].source, "%s", arg);
			in[n].from_dataset = -1;
			if (!have_units) {
				iris_units_from_processing(&in[n].e.processing, &units);
				have_units = 1;
			}
			n++;
		}
	}
	if (units_from) {
		struct dataset other;
		if (dataset_read(units_from, &other, &err))
			die_err(&err);
		units = other.units;
		have_units = 1;
		dataset_free(&other);
	}

	if (skip_existing) {
		size_t kept = 0;
		for (size_t i = 0; i < n; i++) {
			int known = 0;
			for (size_t j = 0; j < ds.n && !known; j++)
				known = same_key(&in[i].e, &ds.entries[j]);
			if (known)
				free(in[i].config_json);
			else
				in[kept++] = in[i];
		}
		n = kept;
		if (n == 0 && !export_dir && !units_from) {
			log_info("%s: every input is already in the dataset", out);
			return EXIT_OK;
		}
	}
	const struct catalog_entry *ref = ds.n ? &ds.entries[0] : n ? &in[0].e : NULL;
	for (size_t i = 0; i < n; i++) {
		const struct catalog_entry *e = &in[i].e;
		if (e->r_steps != ref->r_steps || e->lon_steps != ref->lon_steps || e->lat_steps != ref->lat_steps)
			die(EXIT_BADDATA, "%s: grid %lldx%lldx%lld differs from the dataset's %lldx%lldx%lld; "
			    "nothing changed", in[i].source, (long long)e->r_steps, (long long)e->lon_steps,
			    (long long)e->lat_steps, (long long)ref->r_steps, (long long)ref->lon_steps,
			    (long long)ref->lat_steps);
		double f[3];
		if (tensor_factors_to(in[i].source, &e->processing, &units, f, &err))
			die_err(&err);
		if (!factors_are_one(f) && !units_from)
			die(EXIT_BADDATA, "%s: its units differ from the dataset's (factors %g, %g, %g); use "
			    "--units-from to adopt one set and arepo-normalize to convert; nothing changed",
			    in[i].source, f[0], f[1], f[2]);
		if (allow_duplicates)
			continue;
		for (size_t j = 0; j < ds.n; j++)
			if (same_key(e, &ds.entries[j]))
				die(EXIT_BADDATA, "%s: duplicate of %s (snapshot %s, view %lld, seed %lld); use "
				    "--allow-duplicates to keep both; nothing changed", in[i].source,
				    ds.entries[j].tensor, e->snapshot_name, (long long)e->view, (long long)e->seed);
		for (size_t j = 0; j < i; j++)
			if (same_key(e, &in[j].e))
				die(EXIT_BADDATA, "%s: duplicate of %s (snapshot %s, view %lld, seed %lld); use "
				    "--allow-duplicates to keep both; nothing changed", in[i].source,
				    in[j].source, e->snapshot_name, (long long)e->view, (long long)e->seed);
	}

	/* Place the tensors, then commit dataset.h5, then remove what was moved. */
	char tdir[PATH_MAX + 16];
	snprintf(tdir, sizeof tdir, "%s/" DATASET_TENSORS, out);
	if ((mkdir(out, 0777) != 0 && errno != EEXIST) || (mkdir(tdir, 0777) != 0 && errno != EEXIST))
		die(EXIT_RUNTIME, "%s: cannot create: %s", tdir, strerror(errno));
	struct catalog_entry *all = realloc(ds.entries, (ds.n + n + 1) * sizeof *all);
	int64_t *shuffle = realloc(ds.shuffle, (ds.n + n + 1) * sizeof *shuffle);
	if (!all || !shuffle)
		die(EXIT_RUNTIME, "out of memory");
	ds.entries = all;
	ds.shuffle = shuffle;
	size_t placed = 0;
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		struct catalog_entry e = in[i].e;
		char name[128], dest[PATH_MAX + 160];
		for (int d = 0;; d++) {
			if (d == 0)
				snprintf(name, sizeof name, DATASET_TENSORS "/%.60s_view%lld_seed%lld.h5",
					 e.snapshot_name, (long long)e.view, (long long)e.seed);
			else
				snprintf(name, sizeof name, DATASET_TENSORS "/%.60s_view%lld_seed%lld_%d.h5",
					 e.snapshot_name, (long long)e.view, (long long)e.seed, d);
			snprintf(dest, sizeof dest, "%s/%s", out, name);
			if (access(dest, F_OK) != 0)
				break;
		}
		if ((rc = place(in[i].source, dest, mode, &err)))
			break;
		snprintf(e.tensor, sizeof e.tensor, "%s", name);
		ds.entries[ds.n + i] = e;
		placed++;
	}
	if (rc) {
		/* Undo: the new names were never in a committed catalog. */
		for (size_t i = 0; i < placed; i++) {
			char dest[PATH_MAX + 160];
			snprintf(dest, sizeof dest, "%s/%s", out, ds.entries[ds.n + i].tensor);
			unlink(dest);
		}
		die_err(&err);
	}
	ds.n += n;
	ds.units = units;
	if (!ds.seed)
		ds.seed = ds.n ? (uint64_t)ds.entries[0].seed : 0;
	if (!ds.config_json)
		for (size_t i = 0; i < n && !ds.config_json; i++)
			ds.config_json = in[i].config_json ? strdup(in[i].config_json) : NULL;
	if (!ds.config_json)
		for (int a = 0; a < ninputs && !ds.config_json; a++)
			ds.config_json = sub[a].config_json ? strdup(sub[a].config_json) : NULL;
	dataset_shuffle(&ds);
	if (dataset_write(out, &ds, &err))
		die_err(&err);
	if (mode == MOVE) {
		for (size_t i = 0; i < n; i++)
			unlink(in[i].source);
		for (int a = 0; a < ninputs; a++) {
			if (!is_directory(argv[optind + a]))
				continue;
			char p[PATH_MAX + 32];
			snprintf(p, sizeof p, "%s/" DATASET_FILE, argv[optind + a]);
			unlink(p);
			snprintf(p, sizeof p, "%s/" DATASET_TENSORS, argv[optind + a]);
			rmdir(p);
			rmdir(argv[optind + a]);
		}
	}
	if (export_dir && export_iris(export_dir, out, &ds, &err))
		die_err(&err);
	log_info("%s: %zu entries (%zu added)", out, ds.n, n);
	for (size_t i = 0; i < n; i++)
		free(in[i].config_json);
	for (int a = 0; a < ninputs; a++)
		dataset_free(&sub[a]);
	free(in);
	free(sub);
	dataset_free(&ds);
	return EXIT_OK;
}
