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

int main(int argc, char **argv)
{
	struct cli_common cli;
	cli_init(&cli, argv[0], usage);
	struct remote r = { 0 };
	long long min = 0, max = 0, total = 0;
	int have_min = 0, have_max = 0, have_total = 0, null = 0;
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
		if (cli_common_option(&cli, opt, optarg) || remote_option(&r, opt, optarg))
			continue;
		switch (opt) {
		case OPT_MIN: min = cli_parse_count("--min-index", optarg); have_min = 1; break;
		case OPT_MAX: max = cli_parse_count("--max-index", optarg); have_max = 1; break;
		case OPT_TOTAL:
			total = cli_parse_count("--total", optarg);
			if (total < 1)
				cli_usage_error("--total must be at least 1");
			have_total = 1;
			break;
		case '0': null = 1; break;
		default: cli_usage_error(NULL);
		}
	}
	if (optind != argc - 1)
		cli_usage_error(optind == argc ? "missing DIR" : "too many operands");
	const char *dir = argv[optind];
	struct arepo_err err = { 0 };
	struct arepo_config cfg;
	if (cli_load_config(&cli, &cfg, &err))
		die_err(&err);
	/* The configuration's choices, unless the command line says otherwise. */
	if (cli.config_path || cli.nsets) {
		if (!have_min && cfg.writer_hyper.min_snapshot_index.set)
			min = cfg.writer_hyper.min_snapshot_index.value, have_min = 1;
		if (!have_max && cfg.writer_hyper.max_snapshot_index.set)
			max = cfg.writer_hyper.max_snapshot_index.value, have_max = 1;
		if (!have_total)
			total = cfg.writer_hyper.total_snapshots, have_total = 1;
	}
	if (have_min && have_max && min > max)
		cli_usage_error("--min-index %lld is above --max-index %lld", min, max);

	struct entry *list = NULL;
	size_t n = 0, cap = 0;
	const char *where = dir;
	char label[2048];
	if (r.host) {
		snprintf(label, sizeof label, "%s:%s", r.host, dir);
		where = label;
		char *q = shell_quote(dir);
		char *command = malloc(strlen(q) + 128);
		sprintf(command, "cd -- %s && find . -mindepth 1 -maxdepth 1 -printf '%%y/%%f\\0'", q);
		char *out = NULL, message[4096], reason[512];
		size_t len = 0;
		int status = remote_run(&r, command, -1, &out, &len, message, sizeof message);
		free(q);
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
				consider(&list, &n, &cap, item[0], item + 2);
			at += l + 1;
		}
		free(out);
	} else {
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
			consider(&list, &n, &cap, S_ISREG(st.st_mode) ? 'f' : S_ISDIR(st.st_mode) ? 'd' : '?',
				 e->d_name);
		}
		closedir(d);
	}
	if (n == 0)
		die(EXIT_BADDATA, "%s: no snapshots (files *.hdf5 or *.h5, or snapdir_NNN directories)",
		    where);

	size_t kept = 0, outside = 0;
	for (size_t i = 0; i < n; i++) {
		int in_range = (!have_min && !have_max) ||
			       (list[i].index >= 0 && (!have_min || list[i].index >= min) &&
				(!have_max || list[i].index <= max));
		if (in_range)
			list[kept++] = list[i];
		else
			outside++;
	}
	if (kept == 0)
		die(EXIT_BADDATA, "%s: no snapshot with an index in [%s, %s]; %zu found outside it", where,
		    have_min ? (snprintf(label, 32, "%lld", min), label) : "-inf",
		    have_max ? (snprintf(label + 64, 32, "%lld", max), label + 64) : "+inf", outside);
	qsort(list, kept, sizeof *list, by_name);
	size_t count = kept;
	if (have_total) {
		/* IRIS draws snapshots one at a time without replacement. */
		struct rng_stream s;
		rng_init(&s, cfg.seed, "arepo-list", -1, "choice");
		count = (size_t)total < kept ? (size_t)total : kept;
		for (size_t i = 0; i < count; i++) {
			size_t j = i + (size_t)rng_below(&s, kept - i);
			struct entry t = list[i];
			list[i] = list[j];
			list[j] = t;
		}
		if ((size_t)total > kept)
			log_info("%s: %zu snapshots asked for, %zu available", where, (size_t)total, kept);
	}
	const char *sep = strcmp(dir, "/") == 0 ? "" : "/";
	for (size_t i = 0; i < count; i++) {
		if (!null && strchr(list[i].name, '\n'))
			die(EXIT_BADDATA, "%s: a snapshot name holds a newline; use --null", where);
		printf("%s%s%s%c", dir, sep, list[i].name, null ? '\0' : '\n');
	}
	return EXIT_OK;
}
