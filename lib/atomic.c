/* Atomic outputs: temporary name, fsync, rename, and clean-up of what an
 * interrupted run leaves. */
#include "atomic.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Temporary paths of outputs in progress, removed if the process is
 * interrupted or exits first. Copies, so that they outlive their owner. */
#define MAX_PENDING 1024
static char pending_path[MAX_PENDING][PATH_MAX];
static const struct atomic_output *volatile pending_owner[MAX_PENDING];
static int handlers_installed;

static void split_path(const char *path, char *dir, size_t dirsize, const char **base)
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		snprintf(dir, dirsize, ".");
		*base = path;
	} else if (slash == path) {
		snprintf(dir, dirsize, "/");
		*base = slash + 1;
	} else {
		snprintf(dir, dirsize, "%.*s", (int)(slash - path), path);
		*base = slash + 1;
	}
}

int remove_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	struct dirent *e;
	char child[PATH_MAX];
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(child, sizeof child, "%s/%s", path, e->d_name);
		remove_tree(child);
	}
	closedir(d);
	return rmdir(path);
}

static void remove_pending(void)
{
	for (int i = 0; i < MAX_PENDING; i++) {
		if (pending_owner[i])
			remove_tree(pending_path[i]);
		pending_owner[i] = NULL;
	}
}

static void on_signal(int sig)
{
	remove_pending();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_handlers(void)
{
	if (handlers_installed)
		return;
	handlers_installed = 1;
	atexit(remove_pending);
	int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		struct sigaction sa;
		/* A signal ignored from the start (nohup, a background job) stays so. */
		if (sigaction(sigs[i], NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			continue;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(sigs[i], &sa, NULL);
	}
}

static void track(const struct atomic_output *out, int add)
{
	for (int i = 0; i < MAX_PENDING; i++) {
		if (add && !pending_owner[i]) {
			memcpy(pending_path[i], out->temp, sizeof pending_path[i]);
			pending_owner[i] = out;
			return;
		}
		if (!add && pending_owner[i] == out) {
			pending_owner[i] = NULL;
			return;
		}
	}
}

int atomic_begin(struct atomic_output *out, const char *target, struct arepo_err *err)
{
	static unsigned serial;
	char dir[PATH_MAX];
	const char *base;
	if (strlen(target) >= sizeof out->target)
		return err_set(err, EXIT_USAGE, "%s: path too long", target);
	split_path(target, dir, sizeof dir, &base);
	if (!*base)
		return err_set(err, EXIT_USAGE, "%s: not a file name", target);
	snprintf(out->target, sizeof out->target, "%s", target);
	int n = snprintf(out->temp, sizeof out->temp, "%s/.%s.part-%ld-%u", dir, base,
			 (long)getpid(), serial++);
	if (n < 0 || (size_t)n >= sizeof out->temp)
		return err_set(err, EXIT_USAGE, "%s: path too long", target);
	install_handlers();
	out->active = 1;
	track(out, 1);
	return 0;
}

static int fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

static int fsync_tree(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return -1;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		if (!d)
			return -1;
		struct dirent *e;
		char child[PATH_MAX];
		int rc = 0;
		while ((e = readdir(d))) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(child, sizeof child, "%s/%s", path, e->d_name);
			rc |= fsync_tree(child);
		}
		closedir(d);
		if (rc)
			return rc;
	}
	return fsync_path(path);
}

int atomic_commit(struct atomic_output *out, struct arepo_err *err)
{
	if (fsync_tree(out->temp) != 0) {
		int saved = errno;
		atomic_abort(out);
		return err_set(err, EXIT_RUNTIME, "%s: cannot flush to disk: %s", out->target,
			       strerror(saved));
	}
	if (rename(out->temp, out->target) != 0) {
		int saved = errno;
		atomic_abort(out);
		return err_set(err, EXIT_RUNTIME, "%s: cannot rename into place: %s", out->target,
			       strerror(saved));
	}
	out->active = 0;
	track(out, 0);
	char dir[PATH_MAX];
	const char *base;
	split_path(out->target, dir, sizeof dir, &base);
	fsync_path(dir); /* best effort: some file systems refuse fsync on a directory */
	return 0;
}

void atomic_abort(struct atomic_output *out)
{
	if (out->active)
		remove_tree(out->temp);
	out->active = 0;
	track(out, 0);
}

int atomic_write_file(const char *target, const void *data, size_t size, struct arepo_err *err)
{
	struct atomic_output out;
	int rc = atomic_begin(&out, target, err);
	if (rc)
		return rc;
	FILE *f = fopen(out.temp, "wx");
	if (!f) {
		rc = err_set(err, EXIT_RUNTIME, "%s: cannot create: %s", out.temp, strerror(errno));
		atomic_abort(&out);
		return rc;
	}
	int bad = fwrite(data, 1, size, f) != size;
	bad |= fclose(f) != 0;
	if (bad) {
		rc = err_set(err, EXIT_RUNTIME, "%s: write failed: %s", target, strerror(errno));
		atomic_abort(&out);
		return rc;
	}
	return atomic_commit(&out, err);
}

int atomic_is_temp(const char *name, long *pid)
{
	/* ".<name>.part-<pid>-<n>", as atomic_begin writes it. */
	const char *p = strstr(name, ".part-");
	if (name[0] != '.' || !p)
		return 0;
	for (const char *q; (q = strstr(p + 1, ".part-"));)
		p = q;
	char *end;
	errno = 0;
	long owner = strtol(p + 6, &end, 10);
	if (end == p + 6 || *end != '-' || owner <= 0 || errno)
		return 0;
	const char *serial = end + 1;
	strtoul(serial, &end, 10);
	if (end == serial || *end || p == name)
		return 0;
	if (pid)
		*pid = owner;
	return 1;
}

int atomic_remove_stale(const char *dir, int any_owner)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int removed = 0;
	struct dirent *e;
	char path[PATH_MAX];
	long pid;
	while ((e = readdir(d))) {
		if (!atomic_is_temp(e->d_name, &pid))
			continue;
		if (!any_owner && (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue;
		if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path &&
		    remove_tree(path) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}
