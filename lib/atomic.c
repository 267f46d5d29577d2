/* Atomic outputs: temporary name, fsync, rename, and clean-up of what an
 * interrupted run leaves, at once (signals, exit) or by a later run (SIGKILL). */
#define _GNU_SOURCE
#include "atomic.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Temporary paths of outputs in progress, removed if the process is
 * interrupted or exits first. The table grows by copying into a larger one,
 * published whole, so that a signal handler (in any thread) always sees a
 * consistent table; outgrown tables are kept, as a handler may be reading
 * one. */
struct pending_slot {
	_Atomic(const struct atomic_output *) owner;
	char path[PATH_MAX];
};
struct pending_table {
	size_t size;
	struct pending_slot slot[];
};
static _Atomic(struct pending_table *) pending;
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

/* Directory entries straight from the kernel: opendir allocates, which a
 * signal handler must not. */
struct kernel_dirent {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

union dirent_buffer {
	char bytes[4096];
	uint64_t align;
};

/* Empties the directory open as fd, depth levels deep at most. Entries
 * removed while the listing is read may hide others: the listing is read
 * again while that removes something. */
static void empty_dir(int fd, int depth)
{
	union dirent_buffer buf;
	for (int pass = 0, removed = 1; removed && pass < 4; pass++) {
		removed = 0;
		lseek(fd, 0, SEEK_SET);
		long n;
		while ((n = syscall(SYS_getdents64, fd, buf.bytes, sizeof buf.bytes)) > 0) {
			for (long at = 0; at < n;) {
				struct kernel_dirent *e = (struct kernel_dirent *)(buf.bytes + at);
				at += e->reclen;
				if (strcmp(e->name, ".") == 0 || strcmp(e->name, "..") == 0)
					continue;
				if (unlinkat(fd, e->name, 0) == 0) {
					removed = 1;
					continue;
				}
				if ((errno != EISDIR && errno != EPERM) || depth <= 0)
					continue;
				int sub = openat(fd, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (sub >= 0) {
					empty_dir(sub, depth - 1);
					close(sub);
				}
				removed |= unlinkat(fd, e->name, AT_REMOVEDIR) == 0;
			}
		}
	}
}

int remove_tree(const char *path)
{
	if (unlink(path) == 0)
		return 0;
	if (errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	empty_dir(fd, 16);
	close(fd);
	return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
}

static void remove_pending(void)
{
	struct pending_table *t = atomic_load(&pending);
	for (size_t i = 0; t && i < t->size; i++)
		if (atomic_exchange(&t->slot[i].owner, NULL))
			remove_tree(t->slot[i].path);
}

/* Removes the temporaries, then dies of the same signal, as the parent
 * (a shell, mpirun, Slurm) expects of an interrupted program. */
static void on_signal(int sig)
{
	int saved = errno;
	remove_pending();
	signal(sig, SIG_DFL);
	raise(sig);
	errno = saved;
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
		for (size_t j = 0; j < sizeof sigs / sizeof sigs[0]; j++)
			sigaddset(&sa.sa_mask, sigs[j]);
		sigaction(sigs[i], &sa, NULL);
	}
}

static int track(const struct atomic_output *out)
{
	struct pending_table *t = atomic_load(&pending);
	for (size_t i = 0; t && i < t->size; i++) {
		if (atomic_load(&t->slot[i].owner))
			continue;
		memcpy(t->slot[i].path, out->temp, sizeof t->slot[i].path);
		atomic_store(&t->slot[i].owner, out);
		return 0;
	}
	size_t size = t ? 2 * t->size : 64;
	struct pending_table *bigger = calloc(1, sizeof *bigger + size * sizeof bigger->slot[0]);
	if (!bigger)
		return -1;
	bigger->size = size;
	for (size_t i = 0; t && i < t->size; i++) {
		memcpy(bigger->slot[i].path, t->slot[i].path, sizeof bigger->slot[i].path);
		atomic_store(&bigger->slot[i].owner, atomic_load(&t->slot[i].owner));
	}
	atomic_store(&pending, bigger);
	/* A handler that read the old table before the swap still removes
	 * what it lists; the new one lists the same, and one more. */
	size_t at = t ? t->size : 0;
	memcpy(bigger->slot[at].path, out->temp, sizeof bigger->slot[at].path);
	atomic_store(&bigger->slot[at].owner, out);
	return 0;
}

static void untrack(const struct atomic_output *out)
{
	struct pending_table *t = atomic_load(&pending);
	for (size_t i = 0; t && i < t->size; i++) {
		const struct atomic_output *expected = out;
		if (atomic_compare_exchange_strong(&t->slot[i].owner, &expected, NULL))
			return;
	}
}

/* This host's name as it goes into temporary names: letters, digits, '.',
 * '-' and '_' only, so that a name always parses. */
static const char *host_tag(void)
{
	static char tag[72];
	if (tag[0])
		return tag;
	char host[256] = "";
	if (gethostname(host, sizeof host - 1) != 0 || !host[0])
		snprintf(host, sizeof host, "localhost");
	size_t n = 0;
	for (const char *p = host; *p && n < sizeof tag - 1; p++)
		tag[n++] = isalnum((unsigned char)*p) || *p == '.' || *p == '-' ? *p : '_';
	tag[n] = '\0';
	return tag;
}

/* Splits a temporary's name ".<base>.part-<host>-<pid>-<n>": the host's
 * start and length, and the pid. Returns 0 if name has that shape. */
static int parse_temporary(const char *name, const char **host, size_t *hostlen, long *pid)
{
	size_t len = strlen(name);
	if (len < 2 || name[0] != '.')
		return -1;
	const char *end = name + len, *p = end;
	int dashes = 0;
	const char *digits_start[2] = { NULL, NULL };
	while (dashes < 2) {
		const char *stop = p;
		while (p > name && isdigit((unsigned char)p[-1]))
			p--;
		if (p == stop || p == name || p[-1] != '-')
			return -1;
		digits_start[dashes++] = p;
		p--; /* the '-' */
	}
	/* p points at the '-' before the pid; the host runs back to ".part-". */
	const char *marker = NULL;
	for (const char *q = name; (q = strstr(q, ".part-")) && q + 6 <= p; q++)
		marker = q;
	if (!marker || marker + 6 >= p)
		return -1;
	*host = marker + 6;
	*hostlen = (size_t)(p - *host);
	*pid = strtol(digits_start[1], NULL, 10);
	return 0;
}

int atomic_is_temporary(const char *name)
{
	const char *host;
	size_t hostlen;
	long pid;
	return parse_temporary(name, &host, &hostlen, &pid) == 0;
}

static int pid_alive(long pid)
{
	if (pid <= 0 || pid == (long)getpid())
		return 1;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* A live writer holds its file open; HDF5 keeps a lock on it meanwhile.
 * Whoever else holds a lock, the temporary is not taken from it. */
static int locked_by_someone(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int busy = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	close(fd);
	return busy;
}

long atomic_remove_stale(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	const char *me = host_tag();
	size_t melen = strlen(me);
	long removed = 0;
	union dirent_buffer buf;
	/* Names first, removal after: the listing does not change under the reader. */
	char **names = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		long got = syscall(SYS_getdents64, fd, buf.bytes, sizeof buf.bytes);
		if (got <= 0)
			break;
		for (long at = 0; at < got;) {
			struct kernel_dirent *e = (struct kernel_dirent *)(buf.bytes + at);
			at += e->reclen;
			const char *host;
			size_t hostlen;
			long pid;
			if (parse_temporary(e->name, &host, &hostlen, &pid) || hostlen != melen ||
			    memcmp(host, me, melen) != 0 || pid_alive(pid))
				continue;
			if (n == cap) {
				size_t bigger = cap ? 2 * cap : 16;
				char **p = realloc(names, bigger * sizeof *p);
				if (!p)
					break;
				names = p;
				cap = bigger;
			}
			if ((names[n] = strdup(e->name)))
				n++;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!locked_by_someone(fd, names[i])) {
			char path[PATH_MAX * 2];
			snprintf(path, sizeof path, "%s/%s", dir, names[i]);
			if (remove_tree(path) == 0) {
				removed++;
				log_info("%s: removed, a temporary of a run that was killed", path);
			}
		}
		free(names[i]);
	}
	free(names);
	close(fd);
	return removed;
}

/* Cleans each output directory once per process. */
static void remove_stale_once(const char *dir)
{
	static char seen[16][PATH_MAX];
	static unsigned next;
	for (unsigned i = 0; i < 16; i++)
		if (strcmp(seen[i], dir) == 0)
			return;
	snprintf(seen[next++ % 16], PATH_MAX, "%s", dir);
	atomic_remove_stale(dir);
}

void atomic_remove_stale_beside(const char *target)
{
	char dir[PATH_MAX];
	const char *base;
	split_path(target, dir, sizeof dir, &base);
	remove_stale_once(dir);
}

int atomic_begin(struct atomic_output *out, const char *target, struct arepo_err *err)
{
	static unsigned serial;
	char dir[PATH_MAX];
	const char *base;
	out->active = 0;
	if (strlen(target) >= sizeof out->target)
		return err_set(err, EXIT_USAGE, "%s: path too long", target);
	split_path(target, dir, sizeof dir, &base);
	if (!*base)
		return err_set(err, EXIT_USAGE, "%s: not a file name", target);
	snprintf(out->target, sizeof out->target, "%s", target);
	/* A long name is shortened in its temporary, which must fit NAME_MAX. */
	char suffix[128];
	snprintf(suffix, sizeof suffix, ".part-%s-%ld-%u", host_tag(), (long)getpid(), serial++);
	int keep = (int)(NAME_MAX - 1 - strlen(suffix));
	int n = snprintf(out->temp, sizeof out->temp, "%s/.%.*s%s", dir, keep > 0 ? keep : 0, base,
			 suffix);
	if (n < 0 || (size_t)n >= sizeof out->temp)
		return err_set(err, EXIT_USAGE, "%s: path too long", target);
	remove_stale_once(dir);
	install_handlers();
	if (track(out))
		return err_set(err, EXIT_RUNTIME, "%s: out of memory", target);
	out->active = 1;
	return 0;
}

static int fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
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
		int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		union dirent_buffer buf;
		char child[PATH_MAX];
		int rc = 0;
		long got;
		while ((got = syscall(SYS_getdents64, fd, buf.bytes, sizeof buf.bytes)) > 0) {
			for (long at = 0; at < got;) {
				struct kernel_dirent *e = (struct kernel_dirent *)(buf.bytes + at);
				at += e->reclen;
				if (strcmp(e->name, ".") == 0 || strcmp(e->name, "..") == 0)
					continue;
				snprintf(child, sizeof child, "%s/%s", path, e->name);
				rc |= fsync_tree(child);
			}
		}
		close(fd);
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
	untrack(out);
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
	untrack(out);
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

long atomic_remove_temporaries(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	long removed = 0;
	struct dirent *e;
	char path[PATH_MAX];
	while ((e = readdir(d))) {
		if (!atomic_is_temporary(e->d_name))
			continue;
		if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path &&
		    remove_tree(path) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}
