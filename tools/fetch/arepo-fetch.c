/* arepo-fetch: copies snapshots from a remote archive into a local cache over
 * OpenSSH, with retries, size and checksum checks, locks and a budget. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "cli.h"
#include "h5util.h"
#include "remote_options.h"

static const char usage[] =
	"Usage: arepo-fetch [OPTION]... --cache DIR PATH...\n"
	"       arepo-fetch --cache DIR --evict PATH...\n"
	"Copy each snapshot PATH (a file or a snapdir) from the remote archive into\n"
	"the cache DIR and print its local path. Without --remote, PATH is local:\n"
	"it is checked (exists, readable, HDF5) and printed.\n"
	"\n"
	"  -c, --cache DIR        the cache directory (required)\n"
	"  -r, --remote USER@HOST copy from HOST over ssh\n"
	"  -i, --ssh-key FILE     identity file for ssh\n"
	"  -p, --port N           ssh port\n"
	"      --ssh-option OPT   pass -o OPT to ssh (repeatable)\n"
	"      --timeout S        seconds to connect and between keep-alives (default 30)\n"
	"      --retries N        retries of a transient failure (default 3)\n"
	"      --verify sha256    compare a checksum computed on the remote\n"
	"      --accept-new-host-key  accept and remember an unknown host key\n"
	"      --max-cache BYTES  refuse to fill the cache beyond BYTES (K/M/G/T)\n"
	"      --wait             with --max-cache, wait for room instead\n"
	"      --evict            remove the cached copies of PATH...\n"
	"  -0, --null             end paths with NUL instead of newline\n"
	CLI_PROGRESS_HELP
	"      --log-level LEVEL  error, warn (default), info or debug\n"
	"  -h, --help             show this help and exit\n"
	"      --version          show the version and exit\n"
	"\n"
	"Exit status: 0 done, 1 transfer, remote or I/O failure, 2 usage, 3 bad\n"
	"snapshot. See arepo-fetch(1).\n";

enum { OPT_RETRIES = CLI_OPT_FIRST_TOOL, OPT_VERIFY, OPT_MAX_CACHE, OPT_WAIT, OPT_EVICT };

struct fetch {
	struct remote r;
	const char *cache;
	int retries, verify, wait, null, progress;
	unsigned long long max_cache;
};

struct remote_file {
	char name[1024]; /* "" for a single-file snapshot */
	unsigned long long size;
};

static const char *base_of(const char *path, char *buf, size_t size)
{
	snprintf(buf, size, "%s", path);
	size_t n = strlen(buf);
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	const char *slash = strrchr(buf, '/');
	return slash ? slash + 1 : buf;
}

static unsigned long long tree_size(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return (unsigned long long)st.st_size;
	unsigned long long total = 0;
	DIR *d = opendir(path);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char child[PATH_MAX * 2];
		snprintf(child, sizeof child, "%s/%s", path, e->d_name);
		total += tree_size(child);
	}
	if (d)
		closedir(d);
	return total;
}

/* One remote command with retries of transient failures. On failure err
 * holds the remote's message. */
static int run_with_retries(const struct fetch *f, const char *what, const char *command, int out_fd,
			    char **out, size_t *len, struct arepo_err *err)
{
	char message[8192], reason[1024];
	for (int attempt = 0;; attempt++) {
		if (out_fd >= 0 && (ftruncate(out_fd, 0) != 0 || lseek(out_fd, 0, SEEK_SET) != 0))
			return err_set(err, EXIT_RUNTIME, "%s: cannot rewind the temporary file", what);
		int status = remote_run(&f->r, command, out_fd, out, len, message, sizeof message);
		if (status == 0)
			return 0;
		if (out && *out) {
			free(*out);
			*out = NULL;
		}
		remote_reason(message, reason, sizeof reason);
		if (status == -1)
			return err_set(err, EXIT_RUNTIME, "%s: cannot run ssh", what);
		if (!remote_transient(status, message) || attempt >= f->retries)
			return err_set(err, EXIT_RUNTIME, "%s: %s%s", what, reason,
				       attempt ? " (after retries)" : "");
		unsigned delay = 1u << (attempt < 5 ? attempt : 5);
		log_warn("%s: %s; retrying in %u s", what, reason, delay);
		sleep(delay);
	}
}

/* Lists a remote snapshot: one file, or the files of a snapdir. */
static int remote_listing(const struct fetch *f, const char *path, const char *label,
			  struct remote_file **files, int *nfiles, int *is_dir, struct arepo_err *err)
{
	char *q = shell_quote(path);
	char *cmd = malloc(strlen(q) + 512);
	sprintf(cmd,
		"p=%s; if [ -d \"$p\" ]; then [ -r \"$p\" ] && [ -x \"$p\" ] || { echo \"$p: Permission "
		"denied\" >&2; exit 2; }; cd -- \"$p\" && find . -mindepth 1 -maxdepth 1 -type f "
		"-printf 'f %%s %%f\\0'; elif [ -f \"$p\" ]; then [ -r \"$p\" ] || { echo \"$p: "
		"Permission denied\" >&2; exit 2; }; printf 'F %%s\\0' \"$(stat -L -c %%s -- \"$p\")\"; "
		"else echo \"$p: No such file or directory\" >&2; exit 2; fi",
		q);
	char *out = NULL;
	size_t len = 0;
	int rc = run_with_retries(f, label, cmd, -1, &out, &len, err);
	free(q);
	free(cmd);
	if (rc)
		return rc;
	*nfiles = 0;
	*files = calloc(len / 4 + 1, sizeof **files);
	*is_dir = 1;
	for (size_t at = 0; at < len;) {
		char *item = out + at;
		size_t l = strlen(item);
		at += l + 1;
		struct remote_file *rf = &(*files)[*nfiles];
		char *sp = strchr(item + 2, ' ');
		if (item[0] == 'F') {
			*is_dir = 0;
			rf->size = strtoull(item + 2, NULL, 10);
			rf->name[0] = '\0';
			(*nfiles)++;
		} else if (item[0] == 'f' && sp) {
			rf->size = strtoull(item + 2, NULL, 10);
			snprintf(rf->name, sizeof rf->name, "%s", sp + 1);
			(*nfiles)++;
		}
	}
	free(out);
	if (*nfiles == 0)
		return err_set(err, EXIT_BADDATA, "%s: an empty snapshot directory", label);
	return 0;
}

static int local_sha256(const char *path, char *hex, size_t size)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		execlp("sha256sum", "sha256sum", "--", path, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	ssize_t n = read(fds[0], hex, size - 1);
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);
	if (n < 64 || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	hex[64] = '\0';
	return 0;
}

/* Copies one remote file to local, checking its size (and checksum). */
/* The progress of a copy: the local file's size, watched from a thread
 * while the remote command writes it. */
struct watch {
	const char *path, *label;
	double total;
	int stop;
};

static void *watch_copy(void *arg)
{
	struct watch *w = arg;
	const struct timespec pause = { 0, 200 * 1000 * 1000 };
	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		struct stat st;
		if (stat(w->path, &st) == 0 && (double)st.st_size < w->total)
			cli_progress_show(w->label, (double)st.st_size, w->total);
		nanosleep(&pause, NULL);
	}
	return NULL;
}

static int copy_one(const struct fetch *f, const char *remote_path, const char *local,
		    unsigned long long size, const char *label, struct arepo_err *err)
{
	char *q = shell_quote(remote_path);
	char *cmd = malloc(strlen(q) + 64);
	sprintf(cmd, "cat -- %s", q);
	int rc = 0;
	struct watch w = { local, label, (double)size, 0 };
	pthread_t watcher;
	int watching = f->progress && pthread_create(&watcher, NULL, watch_copy, &w) == 0;
	for (int attempt = 0;; attempt++) {
		int fd = open(local, O_WRONLY | O_CREAT | O_TRUNC, 0666);
		if (fd < 0) {
			rc = err_set(err, EXIT_RUNTIME, "%s: %s", local, strerror(errno));
			break;
		}
		rc = run_with_retries(f, label, cmd, fd, NULL, NULL, err);
		close(fd);
		if (rc)
			break;
		unsigned long long got = tree_size(local);
		if (got == size)
			break;
		if (attempt >= f->retries) {
			rc = err_set(err, EXIT_RUNTIME, "%s: copied %llu bytes of %llu (cut short)", label, got,
				     size);
			break;
		}
		log_warn("%s: copied %llu bytes of %llu; retrying", label, got, size);
		sleep(1u << (attempt < 5 ? attempt : 5));
	}
	if (watching) {
		__atomic_store_n(&w.stop, 1, __ATOMIC_RELEASE);
		pthread_join(watcher, NULL);
		if (!rc)
			cli_progress_show(label, (double)size, (double)size);
	}
	free(cmd);
	if (!rc && f->verify) {
		char *sum_cmd = malloc(strlen(q) + 64), *out = NULL, local_hex[128];
		sprintf(sum_cmd, "sha256sum -- %s", q);
		rc = run_with_retries(f, label, sum_cmd, -1, &out, NULL, err);
		free(sum_cmd);
		if (!rc && (local_sha256(local, local_hex, sizeof local_hex) || !out ||
			    strncmp(out, local_hex, 64) != 0))
			rc = err_set(err, EXIT_RUNTIME, "%s: sha256 differs from the remote's", label);
		free(out);
	}
	free(q);
	return rc;
}

/* Waits (or refuses) until bytes more fit in the cache's budget. */
static int make_room(const struct fetch *f, unsigned long long bytes, const char *label,
		     struct arepo_err *err)
{
	if (!f->max_cache)
		return 0;
	for (int logged = 0;; logged = 1) {
		unsigned long long used = tree_size(f->cache);
		if (used + bytes <= f->max_cache)
			return 0;
		if (!f->wait)
			return err_set(err, EXIT_RUNTIME, "%s: %llu bytes would fill the cache beyond "
				       "--max-cache %llu (%llu in use); evict a snapshot or use --wait",
				       label, bytes, f->max_cache, used);
		if (!logged)
			log_info("%s: waiting for %llu bytes of room in %s", label, bytes, f->cache);
		sleep(2);
	}
}

static int fetch_remote(const struct fetch *f, const char *path, char *dest, size_t destsize,
			struct arepo_err *err)
{
	char buf[PATH_MAX], label[PATH_MAX + 256];
	const char *base = base_of(path, buf, sizeof buf);
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || strcmp(base, "/") == 0)
		return err_set(err, EXIT_USAGE, "%s: not a snapshot name", path);
	snprintf(label, sizeof label, "%s:%s", f->r.host, path);
	snprintf(dest, destsize, "%s/%s", f->cache, base);

	/* One fetch per snapshot at a time; the next waits and reuses it. */
	char lockpath[PATH_MAX * 2];
	snprintf(lockpath, sizeof lockpath, "%s/.%s.lock", f->cache, base);
	int lock = open(lockpath, O_RDWR | O_CREAT, 0666);
	if (lock < 0 || flock(lock, LOCK_EX) != 0)
		return err_set(err, EXIT_RUNTIME, "%s: cannot lock: %s", lockpath, strerror(errno));
	int rc = 0;
	if (access(dest, F_OK) == 0) {
		log_info("%s: already in the cache", dest);
		goto out;
	}
	struct remote_file *files = NULL;
	int nfiles = 0, is_dir = 0;
	if ((rc = remote_listing(f, path, label, &files, &nfiles, &is_dir, err)))
		goto out;
	unsigned long long total = 0;
	for (int i = 0; i < nfiles; i++)
		total += files[i].size;
	if ((rc = make_room(f, total, label, err)))
		goto free_files;
	struct atomic_output out;
	if ((rc = atomic_begin(&out, dest, err)))
		goto free_files;
	if (!is_dir) {
		rc = copy_one(f, path, out.temp, files[0].size, label, err);
	} else if (mkdir(out.temp, 0777) != 0) {
		rc = err_set(err, EXIT_RUNTIME, "%s: %s", out.temp, strerror(errno));
	} else {
		for (int i = 0; i < nfiles && !rc; i++) {
			char rpath[PATH_MAX * 2], lpath[PATH_MAX * 2], flabel[PATH_MAX * 3];
			snprintf(rpath, sizeof rpath, "%s/%s", path, files[i].name);
			snprintf(lpath, sizeof lpath, "%s/%s", out.temp, files[i].name);
			snprintf(flabel, sizeof flabel, "%s:%s", f->r.host, rpath);
			rc = copy_one(f, rpath, lpath, files[i].size, flabel, err);
		}
	}
	if (rc)
		atomic_abort(&out);
	else
		rc = atomic_commit(&out, err);
free_files:
	free(files);
out:
	close(lock); /* releases the lock */
	return rc;
}

static int check_local(const char *path, struct arepo_err *err)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return err_set(err, EXIT_RUNTIME, "%s: %s", path, strerror(errno));
	if (access(path, R_OK) != 0)
		return err_set(err, EXIT_RUNTIME, "%s: %s", path, strerror(errno));
	h5_quiet();
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;
		int pieces = 0, rc = 0;
		while (d && (e = readdir(d)) && !rc) {
			size_t n = strlen(e->d_name);
			if (n < 5 || (strcmp(e->d_name + n - 5, ".hdf5") && strcmp(e->d_name + n - 3, ".h5")))
				continue;
			char piece[PATH_MAX * 2];
			snprintf(piece, sizeof piece, "%s/%s", path, e->d_name);
			if (H5Fis_hdf5(piece) <= 0)
				rc = err_set(err, EXIT_BADDATA, "%s: not an HDF5 file", piece);
			pieces++;
		}
		if (d)
			closedir(d);
		if (!rc && pieces == 0)
			rc = err_set(err, EXIT_BADDATA, "%s: no snapshot pieces in this directory", path);
		return rc;
	}
	if (H5Fis_hdf5(path) <= 0)
		return err_set(err, EXIT_BADDATA, "%s: not an HDF5 file", path);
	return 0;
}

int main(int argc, char **argv)
{
	struct cli_common cli;
	cli_init(&cli, argv[0], usage);
	struct fetch f = { .retries = 3 };
	int evict = 0;
	static const struct option longopts[] = {
		{ "cache", required_argument, NULL, 'c' },
		REMOTE_LONG_OPTIONS,
		{ "retries", required_argument, NULL, OPT_RETRIES },
		{ "verify", required_argument, NULL, OPT_VERIFY },
		{ "max-cache", required_argument, NULL, OPT_MAX_CACHE },
		{ "wait", no_argument, NULL, OPT_WAIT },
		{ "evict", no_argument, NULL, OPT_EVICT },
		{ "null", no_argument, NULL, '0' },
		CLI_PROGRESS_OPTIONS,
		CLI_BASIC_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "c:r:i:p:0h", longopts, NULL)) != -1) {
		if (cli_common_option(&cli, opt, optarg) || remote_option(&f.r, opt, optarg))
			continue;
		switch (opt) {
		case 'c': f.cache = optarg; break;
		case OPT_RETRIES: f.retries = (int)cli_parse_count("--retries", optarg); break;
		case OPT_VERIFY:
			if (strcmp(optarg, "sha256") != 0)
				cli_usage_error("--verify %s: only sha256 is known", optarg);
			f.verify = 1;
			break;
		case OPT_MAX_CACHE: f.max_cache = cli_parse_size("--max-cache", optarg); break;
		case OPT_WAIT: f.wait = 1; break;
		case OPT_EVICT: evict = 1; break;
		case '0': f.null = 1; break;
		default: cli_usage_error(NULL);
		}
	}
	f.progress = cli.progress;
	if (!f.cache)
		cli_usage_error("--cache DIR is required");
	if (optind == argc)
		cli_usage_error("no PATH given");
	if (mkdir(f.cache, 0777) != 0 && errno != EEXIST)
		die(EXIT_RUNTIME, "%s: cannot create: %s", f.cache, strerror(errno));

	struct arepo_err err = { 0 };
	for (int a = optind; a < argc; a++) {
		const char *path = argv[a];
		char dest[PATH_MAX * 2];
		if (evict) {
			char buf[PATH_MAX];
			snprintf(dest, sizeof dest, "%s/%s", f.cache, base_of(path, buf, sizeof buf));
			char lockpath[PATH_MAX * 3];
			snprintf(lockpath, sizeof lockpath, "%s/.%s.lock", f.cache, base_of(path, buf, sizeof buf));
			int lock = open(lockpath, O_RDWR | O_CREAT, 0666);
			if (lock >= 0)
				flock(lock, LOCK_EX);
			if (remove_tree(dest) != 0)
				die(EXIT_RUNTIME, "%s: cannot remove: %s", dest, strerror(errno));
			unlink(lockpath);
			if (lock >= 0)
				close(lock);
			continue;
		}
		if (!f.r.host) {
			if (check_local(path, &err))
				die_err(&err);
			snprintf(dest, sizeof dest, "%s", path);
		} else if (fetch_remote(&f, path, dest, sizeof dest, &err)) {
			die_err(&err);
		}
		printf("%s%c", dest, f.null ? '\0' : '\n');
		fflush(stdout);
	}
	return EXIT_OK;
}
