/* arepo-list: which snapshots a local or remote archive directory holds,
 * filtered by index and, when asked, a reproducible random choice. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "dataset.h"
#include "remote_options.h"
#include "rng.h"

static const char usage[] =
	"Usage: arepo-list [OPTION]... DIR\n"
	"Print the snapshots in DIR, one path per line: files ending in .hdf5 or .h5\n"
	"and multi-file snapshot directories (snapdir_NNN), sorted by name, or a\n"
	"random choice of them with --total.\n"
	"\n"
	"  -r, --remote USER@HOST list DIR on HOST over ssh\n"
	"  -i, --ssh-key FILE     identity file for ssh\n"
	"  -p, --port N           ssh port\n"
	"      --ssh-option OPT   pass -o OPT to ssh (repeatable)\n"
	"      --timeout S        seconds to connect (default 30)\n"
	"      --accept-new-host-key  accept and remember an unknown host key\n"
	"      --min-index N      keep indices >= N (writer_hyper.min_snapshot_index)\n"
	"      --max-index N      keep indices <= N (writer_hyper.max_snapshot_index)\n"
	"      --total N          choose N at random, reproducibly from the seed\n"
	"                         (writer_hyper.total_snapshots when --config is given)\n"
	"  -0, --null             end paths with NUL instead of newline\n"
	CLI_COMMON_HELP
	"\n"
	"A snapshot's index is the last run of digits of its name without extension.\n"
	"Exit status: 0 done, 1 remote or I/O failure, 2 usage, 3 no snapshot (in\n"
	"range). See arepo-list(1).\n";

enum { OPT_MIN = CLI_OPT_FIRST_TOOL, OPT_MAX, OPT_TOTAL };

struct entry {
	char *name;
	int64_t index;
};

static int has_extension(const char *name)
{
	size_t n = strlen(name);
	return (n > 5 && strcmp(name + n - 5, ".hdf5") == 0) || (n > 3 && strcmp(name + n - 3, ".h5") == 0);
}

static int64_t index_of(const char *name)
{
	char stem[1024];
	snprintf(stem, sizeof stem, "%s", name);
	char *dot = strrchr(stem, '.');
	if (dot && has_extension(name))
		*dot = '\0';
	return snapshot_index_of(stem);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* Adds name if it is a snapshot: type 'f' (file) or 'd' (directory). */
static void consider(struct entry **list, size_t *n, size_t *cap, char type, const char *name)
{
	int snapshot = (type == 'f' && has_extension(name)) ||
		       (type == 'd' && strncmp(name, "snapdir_", 8) == 0);
	if (!snapshot)
		return;
	if (*n == *cap)
		*list = realloc(*list, (*cap = *cap ? 2 * *cap : 64) * sizeof **list);
	(*list)[*n].name = strdup(name);
	(*list)[(*n)++].index = index_of(name);
}

/* What to list: the directory and the filters of the command line and the
 * configuration. */
struct request {
	const char *dir;
	struct remote r;
	long long min, max, total;
	int have_min, have_max, have_total, null;
	uint64_t seed;
};

static void parse_request(int argc, char **argv, struct cli_common *cli, struct request *q)
{
	static const struct option longopts[] = {
		REMOTE_LONG_OPTIONS,
		{ "min-index", required_argument, NULL, OPT_MIN },
		{ "max-index", required_argument, NULL, OPT_MAX },
		{ "total", required_argument, NULL, OPT_TOTAL },
		{ "null", no_argument, NULL, '0' },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "r:i:p:0h", longopts, NULL)) != -1) {
		if (cli_common_option(cli, opt, optarg) || remote_option(&q->r, opt, optarg))
			continue;
		switch (opt) {
		case OPT_MIN: q->min = cli_parse_count("--min-index", optarg); q->have_min = 1; break;
		case OPT_MAX: q->max = cli_parse_count("--max-index", optarg); q->have_max = 1; break;
		case OPT_TOTAL:
			q->total = cli_parse_count("--total", optarg);
			if (q->total < 1)
				cli_usage_error("--total must be at least 1");
			q->have_total = 1;
			break;
		case '0': q->null = 1; break;
		default: cli_usage_error(NULL);
		}
	}
	if (optind != argc - 1)
		cli_usage_error(optind == argc ? "missing DIR" : "too many operands");
	q->dir = argv[optind];
	struct arepo_err err = { 0 };
	struct arepo_config cfg;
	if (cli_load_config(cli, &cfg, &err))
		die_err(&err);
	q->seed = cfg.seed;
	/* The configuration's choices, unless the command line says otherwise. */
	if (cli->config_path || cli->nsets) {
		if (!q->have_min && cfg.writer_hyper.min_snapshot_index.set)
			q->min = cfg.writer_hyper.min_snapshot_index.value, q->have_min = 1;
		if (!q->have_max && cfg.writer_hyper.max_snapshot_index.set)
			q->max = cfg.writer_hyper.max_snapshot_index.value, q->have_max = 1;
		if (!q->have_total)
			q->total = cfg.writer_hyper.total_snapshots, q->have_total = 1;
	}
	if (q->have_min && q->have_max && q->min > q->max)
		cli_usage_error("--min-index %lld is above --max-index %lld", q->min, q->max);
}

/* The remote directory's entries, through one ssh command. */
static void read_remote(const struct request *q, const char *where, struct entry **list,
			size_t *n, size_t *cap)
{
	char *quoted = shell_quote(q->dir);
	char *command = malloc(strlen(quoted) + 128);
	if (!quoted || !command)
		die(EXIT_RUNTIME, "out of memory");
	sprintf(command, "cd -- %s && find . -mindepth 1 -maxdepth 1 -printf '%%y/%%f\\0'", quoted);
	char *out = NULL, message[4096], reason[512];
	size_t len = 0;
	int status = remote_run(&q->r, command, -1, &out, &len, message, sizeof message);
	free(quoted);
	free(command);
	if (status == -1)
		die(EXIT_RUNTIME, "%s: cannot run ssh", where);
	if (status == 255)
		die(EXIT_RUNTIME, "%s: remote unreachable or authentication refused: %s", where,
		    remote_reason(message, reason, sizeof reason));
	if (status != 0)
		die(EXIT_RUNTIME, "%s: %s", where, remote_reason(message, reason, sizeof reason));
	for (size_t at = 0; at < len;) {
		const char *item = out + at;
		size_t l = strlen(item);
		if (l > 2 && item[1] == '/')
			consider(list, n, cap, item[0], item + 2);
		at += l + 1;
	}
	free(out);
}

static void read_local(const char *dir, struct entry **list, size_t *n, size_t *cap)
{
	DIR *d = opendir(dir);
	if (!d)
		die(EXIT_RUNTIME, "%s: %s", dir, strerror(errno));
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char path[PATH_MAX * 2];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(path, &st) != 0)
			continue;
		consider(list, n, cap, S_ISREG(st.st_mode) ? 'f' : S_ISDIR(st.st_mode) ? 'd' : '?',
			 e->d_name);
	}
	closedir(d);
}

/* Keeps the entries in the index range; returns how many. */
static size_t keep_in_range(const struct request *q, const char *where, struct entry *list, size_t n)
{
	size_t kept = 0, outside = 0;
	for (size_t i = 0; i < n; i++) {
		int in_range = (!q->have_min && !q->have_max) ||
			       (list[i].index >= 0 && (!q->have_min || list[i].index >= q->min) &&
				(!q->have_max || list[i].index <= q->max));
		if (in_range)
			list[kept++] = list[i];
		else
			outside++;
	}
	if (kept == 0) {
		char lo[32] = "-inf", hi[32] = "+inf";
		if (q->have_min)
			snprintf(lo, sizeof lo, "%lld", q->min);
		if (q->have_max)
			snprintf(hi, sizeof hi, "%lld", q->max);
		die(EXIT_BADDATA, "%s: no snapshot with an index in [%s, %s]; %zu found outside it", where,
		    lo, hi, outside);
	}
	return kept;
}

/* IRIS draws snapshots one at a time without replacement: the first count
 * entries become the drawn ones. Returns count. */
static size_t draw_total(const struct request *q, const char *where, struct entry *list, size_t kept)
{
	if (!q->have_total)
		return kept;
	struct rng_stream s;
	rng_init(&s, q->seed, "arepo-list", -1, "choice");
	size_t count = (size_t)q->total < kept ? (size_t)q->total : kept;
	for (size_t i = 0; i < count; i++) {
		size_t j = i + (size_t)rng_below(&s, kept - i);
		struct entry t = list[i];
		list[i] = list[j];
		list[j] = t;
	}
	if ((size_t)q->total > kept)
		log_info("%s: %zu snapshots asked for, %zu available", where, (size_t)q->total, kept);
	return count;
}

int main(int argc, char **argv)
{
	struct cli_common cli;
	cli_init(&cli, argv[0], usage);
	struct request q = { 0 };
	parse_request(argc, argv, &cli, &q);

	struct entry *list = NULL;
	size_t n = 0, cap = 0;
	char where[2048];
	snprintf(where, sizeof where, "%s%s%s", q.r.host ? q.r.host : "", q.r.host ? ":" : "", q.dir);
	if (q.r.host)
		read_remote(&q, where, &list, &n, &cap);
	else
		read_local(q.dir, &list, &n, &cap);
	if (n == 0)
		die(EXIT_BADDATA, "%s: no snapshots (files *.hdf5 or *.h5, or snapdir_NNN directories)",
		    where);
	size_t kept = keep_in_range(&q, where, list, n);
	qsort(list, kept, sizeof *list, by_name);
	size_t count = draw_total(&q, where, list, kept);

	const char *sep = strcmp(q.dir, "/") == 0 ? "" : "/";
	for (size_t i = 0; i < count; i++) {
		if (!q.null && strchr(list[i].name, '\n'))
			die(EXIT_BADDATA, "%s: a snapshot name holds a newline; use --null", where);
		printf("%s%s%s%c", q.dir, sep, list[i].name, q.null ? '\0' : '\n');
	}
	free(list);
	return EXIT_OK;
}
