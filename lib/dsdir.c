/* Dataset directories: the lock every changing tool takes, the journal of a
 * run's moves, and the temporaries killed runs left (see dsdir.h). */
#include "dsdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"

static int join(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* "arepo-merge (pid 12 on node3, since 2026-11-29 10:00:00 UTC)" from the
 * line the holder wrote, or a plain phrase if it wrote none yet. */
static void describe_holder(int fd, char *out, size_t size)
{
	char line[512] = "", tool[128], host[256], since[64];
	long pid;
	ssize_t n = pread(fd, line, sizeof line - 1, 0);
	line[n > 0 ? n : 0] = '\0';
	if (sscanf(line, "%127s %ld %255s %63s", tool, &pid, host, since) == 4) {
		char *t = strchr(since, 'T');
		if (t)
			*t = ' ';
		snprintf(out, size, "%s (pid %ld on %s, since %s UTC)", tool, pid, host, since);
	} else {
		snprintf(out, size, "another process");
	}
}

static void record_holder(int fd)
{
	char host[256] = "unknown", since[64] = "", line[512];
	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = '\0';
	for (char *p = host; *p; p++)
		if (*p == ' ')
			*p = '_';
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%S", &tm);
	int n = snprintf(line, sizeof line, "%s %ld %s %s\n", log_tool_name(), (long)getpid(), host, since);
	/* Best effort: a full disk must not stop a run that holds the lock. */
	if (ftruncate(fd, 0) == 0 && pwrite(fd, line, (size_t)n, 0) == n)
		fdatasync(fd);
}

int dsdir_lock(struct dsdir_lock *l, const char *dir, int flags, struct arepo_err *err)
{
	char path[PATH_MAX];
	struct stat st;
	l->fd = -1;
	l->created = 0;
	if (snprintf(l->dir, sizeof l->dir, "%s", dir) >= (int)sizeof l->dir ||
	    join(path, sizeof path, dir, DSDIR_LOCK))
		return err_set(err, EXIT_USAGE, "%s: path too long", dir);
	for (int attempt = 0;; attempt++) {
		if (stat(dir, &st) != 0 && errno == ENOENT && (flags & DSDIR_CREATE) && mkdir(dir, 0777) == 0)
			l->created = 1;
		if (stat(dir, &st) != 0)
			return err_set(err, EXIT_RUNTIME, "%s: cannot lock: %s", dir, strerror(errno));
		l->dev = st.st_dev;
		l->ino = st.st_ino;
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666), writable = fd >= 0;
		if (fd < 0 && (errno == EROFS || errno == EACCES)) {
			int saved = errno;
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0 && errno == ENOENT)
				return 0; /* nobody can change this directory: nothing to lock */
			if (fd < 0)
				errno = saved;
		}
		if (fd < 0)
			return err_set(err, EXIT_RUNTIME, "%s: cannot lock: %s", path, strerror(errno));
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			int saved = errno;
			char who[512];
			if (saved == ENOSYS || saved == EOPNOTSUPP || saved == ENOTSUP) {
				/* Lustre mounted without -o flock: run, but say it. */
				log_warn("%s: this file system has no locks (%s); runs that change the dataset at "
					 "once are not kept apart", dir, strerror(saved));
				l->fd = fd;
				return 0;
			}
			if (saved != EWOULDBLOCK) {
				close(fd);
				return err_set(err, EXIT_RUNTIME, "%s: cannot lock: %s", path, strerror(saved));
			}
			describe_holder(fd, who, sizeof who);
			if (flags & DSDIR_NOWAIT) {
				close(fd);
				return err_set(err, EXIT_RUNTIME, "%s: in use by %s; not waiting (--no-wait)",
					       dir, who);
			}
			log_msg(isatty(STDERR_FILENO) ? LOG_WARN : LOG_INFO, "%s: in use by %s; waiting",
				dir, who);
			while (flock(fd, LOCK_EX) != 0) {
				if (errno != EINTR) {
					saved = errno;
					close(fd);
					return err_set(err, EXIT_RUNTIME, "%s: cannot lock: %s", path,
						       strerror(saved));
				}
			}
		}
		/* The holder may have removed the directory's lock file (a dataset
		 * merged into another and removed): a lock on it locks nothing. */
		struct stat a, b;
		if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
			if (writable)
				record_holder(fd);
			l->fd = fd;
			return 0;
		}
		close(fd);
		if (attempt > 100)
			return err_set(err, EXIT_RUNTIME, "%s: cannot lock: its lock file keeps being removed",
				       dir);
	}
}

void dsdir_unlock(struct dsdir_lock *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

static int lock_order(const void *a, const void *b)
{
	const struct dsdir_lock *x = a, *y = b;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

int dsdir_lock_all(const char *const *dirs, size_t n, int flags, struct dsdir_locks *locks,
		   struct arepo_err *err)
{
	locks->n = 0;
	locks->l = calloc(n ? n : 1, sizeof *locks->l);
	if (!locks->l)
		return err_set(err, EXIT_RUNTIME, "out of memory");
	struct dsdir_lock *want = locks->l;
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		int created = i == 0 && (flags & DSDIR_CREATE) && mkdir(dirs[i], 0777) == 0;
		if (stat(dirs[i], &st) != 0) {
			int saved = errno;
			free(locks->l);
			locks->l = NULL;
			return err_set(err, EXIT_RUNTIME, "%s: cannot lock: %s", dirs[i], strerror(saved));
		}
		want[m].dev = st.st_dev;
		want[m].ino = st.st_ino;
		snprintf(want[m].dir, sizeof want[m].dir, "%s", dirs[i]);
		want[m].fd = -1;
		want[m].created = created;
		size_t k;
		for (k = 0; k < m && (want[k].dev != st.st_dev || want[k].ino != st.st_ino); k++)
			;
		if (k == m)
			m++;
	}
	dev_t first_dev = m ? want[0].dev : 0;
	ino_t first_ino = m ? want[0].ino : 0;
	qsort(want, m, sizeof *want, lock_order);
	for (size_t i = 0; i < m; i++) {
		char dir[PATH_MAX];
		memcpy(dir, want[i].dir, sizeof dir);
		int created = want[i].created;
		int first = want[i].dev == first_dev && want[i].ino == first_ino;
		int rc = dsdir_lock(&want[i], dir, first ? flags : flags & ~DSDIR_CREATE, err);
		want[i].created |= created;
		if (rc) {
			locks->n = i;
			dsdir_unlock_all(locks);
			return rc;
		}
	}
	locks->n = m;
	return 0;
}

void dsdir_unlock_all(struct dsdir_locks *locks)
{
	for (size_t i = 0; i < locks->n; i++)
		dsdir_unlock(&locks->l[i]);
	free(locks->l);
	locks->l = NULL;
	locks->n = 0;
}

int dsdir_locked(const struct dsdir_locks *locks, const char *dir)
{
	struct stat st;
	if (stat(dir, &st) != 0)
		return 1; /* gone: nothing left to protect */
	for (size_t i = 0; i < locks->n; i++)
		if (locks->l[i].dev == st.st_dev && locks->l[i].ino == st.st_ino)
			return 1;
	return 0;
}

int dsdir_canonical(const char *path, char *out, size_t size)
{
	char copy[PATH_MAX], real[PATH_MAX];
	if (snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy)
		return -1;
	size_t len = strlen(copy);
	while (len > 1 && copy[len - 1] == '/')
		copy[--len] = '\0';
	char *slash = strrchr(copy, '/');
	const char *base = slash ? slash + 1 : copy;
	const char *parent = slash ? (slash == copy ? "/" : copy) : ".";
	if (slash)
		*slash = '\0';
	if (!realpath(parent, real))
		return -1;
	int n = snprintf(out, size, "%s%s%s", real, strcmp(real, "/") ? "/" : "", base);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

static int file_id(const char *path, struct dsdir_file_id *id)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return -1;
	id->dev = (uint64_t)st.st_dev;
	id->ino = (uint64_t)st.st_ino;
	id->size = (uint64_t)st.st_size;
	id->mtime_s = (int64_t)st.st_mtim.tv_sec;
	id->mtime_ns = (int64_t)st.st_mtim.tv_nsec;
	return 0;
}

static int same_file(const char *path, const struct dsdir_file_id *id)
{
	struct dsdir_file_id now;
	return file_id(path, &now) == 0 && now.dev == id->dev && now.ino == id->ino &&
	       now.size == id->size && now.mtime_s == id->mtime_s && now.mtime_ns == id->mtime_ns;
}

static int grow(void **array, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? 2 * *cap : 16;
	void *p = realloc(*array, c * size);
	if (!p)
		return -1;
	*array = p;
	*cap = c;
	return 0;
}

int dsdir_journal_add_move(struct dsdir_journal *j, const char *dest, const char *source,
			   int remove_source, struct arepo_err *err)
{
	if (grow((void **)&j->moves, &j->capmoves, j->nmoves, sizeof *j->moves))
		return err_set(err, EXIT_RUNTIME, "out of memory");
	struct dsdir_move *m = &j->moves[j->nmoves];
	memset(m, 0, sizeof *m);
	char canonical[PATH_MAX] = "";
	if (*source && (dsdir_canonical(source, canonical, sizeof canonical) || file_id(source, &m->id)))
		return err_set(err, EXIT_RUNTIME, "%s: %s", source, strerror(errno));
	m->dest = strdup(dest);
	m->source = strdup(canonical);
	m->remove_source = remove_source;
	if (!m->dest || !m->source) {
		free(m->dest);
		free(m->source);
		return err_set(err, EXIT_RUNTIME, "out of memory");
	}
	j->nmoves++;
	return 0;
}

int dsdir_journal_add_dir(struct dsdir_journal *j, const char *dir, const char *catalog,
			  struct arepo_err *err)
{
	if (grow((void **)&j->dirs, &j->capdirs, j->ndirs, sizeof *j->dirs))
		return err_set(err, EXIT_RUNTIME, "out of memory");
	struct dsdir_consumed *d = &j->dirs[j->ndirs];
	memset(d, 0, sizeof *d);
	char canonical[PATH_MAX], path[PATH_MAX];
	if (dsdir_canonical(dir, canonical, sizeof canonical) || join(path, sizeof path, dir, catalog) ||
	    file_id(path, &d->id))
		return err_set(err, EXIT_RUNTIME, "%s: %s", dir, strerror(errno));
	d->dir = strdup(canonical);
	d->catalog = strdup(catalog);
	if (!d->dir || !d->catalog) {
		free(d->dir);
		free(d->catalog);
		return err_set(err, EXIT_RUNTIME, "out of memory");
	}
	j->ndirs++;
	return 0;
}

/* The journal's bytes: fields ended by NUL, so that any name a file system
 * allows (newlines included) survives. */
#define JOURNAL_MAGIC "arepo-journal/1"

struct buffer {
	char *p;
	size_t len, cap;
	int bad;
};

static int reserve(struct buffer *b, size_t need)
{
	if (b->bad || need <= b->cap)
		return -b->bad;
	size_t c = b->cap ? b->cap : 4096;
	while (c < need)
		c *= 2;
	char *p = realloc(b->p, c);
	if (!p) {
		b->bad = 1;
		return -1;
	}
	b->p = p;
	b->cap = c;
	return 0;
}

static void put(struct buffer *b, const char *text)
{
	size_t n = strlen(text) + 1;
	if (reserve(b, b->len + n) == 0) {
		memcpy(b->p + b->len, text, n);
		b->len += n;
	}
}

static void put_id(struct buffer *b, const struct dsdir_file_id *id)
{
	char text[128];
	snprintf(text, sizeof text, "%llu %llu %llu %lld %lld", (unsigned long long)id->dev,
		 (unsigned long long)id->ino, (unsigned long long)id->size, (long long)id->mtime_s,
		 (long long)id->mtime_ns);
	put(b, text);
}

int dsdir_journal_write(const char *dir, const struct dsdir_journal *j, struct arepo_err *err)
{
	struct buffer b = { 0 };
	put(&b, JOURNAL_MAGIC);
	for (size_t i = 0; i < j->nmoves; i++) {
		put(&b, j->moves[i].remove_source ? "M" : "C");
		put(&b, j->moves[i].dest);
		put(&b, j->moves[i].source);
		put_id(&b, &j->moves[i].id);
	}
	for (size_t i = 0; i < j->ndirs; i++) {
		put(&b, "D");
		put(&b, j->dirs[i].dir);
		put(&b, j->dirs[i].catalog);
		put_id(&b, &j->dirs[i].id);
	}
	char path[PATH_MAX];
	int rc = b.bad ? err_set(err, EXIT_RUNTIME, "out of memory")
	       : join(path, sizeof path, dir, DSDIR_JOURNAL) ? err_set(err, EXIT_USAGE, "%s: path too long", dir)
	       : atomic_write_file(path, b.p, b.len, err);
	free(b.p);
	return rc;
}

static int get_id(const char *text, struct dsdir_file_id *id)
{
	unsigned long long dev, ino, size;
	long long s, ns;
	if (sscanf(text, "%llu %llu %llu %lld %lld", &dev, &ino, &size, &s, &ns) != 5)
		return -1;
	*id = (struct dsdir_file_id){ dev, ino, size, s, ns };
	return 0;
}

int dsdir_journal_read(const char *dir, struct dsdir_journal *j, struct arepo_err *err)
{
	memset(j, 0, sizeof *j);
	char path[PATH_MAX];
	if (join(path, sizeof path, dir, DSDIR_JOURNAL))
		return err_set(err, EXIT_USAGE, "%s: path too long", dir);
	FILE *f = fopen(path, "rb");
	if (!f)
		return errno == ENOENT ? 0 : err_set(err, EXIT_RUNTIME, "%s: %s", path, strerror(errno));
	struct buffer b = { 0 };
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && reserve(&b, b.len + n) == 0) {
		memcpy(b.p + b.len, chunk, n);
		b.len += n;
	}
	int bad = ferror(f) || b.bad;
	fclose(f);
	/* Fields: a list of NUL-ended strings. */
	const char *field[5];
	size_t at = 0, k = 0;
	int rc = bad ? err_set(err, EXIT_RUNTIME, "%s: cannot read", path) : 0;
	if (!rc && (b.len < sizeof JOURNAL_MAGIC || memcmp(b.p, JOURNAL_MAGIC, sizeof JOURNAL_MAGIC)))
		rc = err_set(err, EXIT_BADDATA, "%s: not a journal of these tools", path);
	at = sizeof JOURNAL_MAGIC;
	while (!rc && at < b.len) {
		const char *end = memchr(b.p + at, '\0', b.len - at);
		if (!end) {
			rc = err_set(err, EXIT_BADDATA, "%s: truncated", path);
			break;
		}
		field[k++] = b.p + at;
		at = (size_t)(end - b.p) + 1;
		if (k < 4)
			continue;
		k = 0;
		struct dsdir_file_id id;
		if (get_id(field[3], &id) || strlen(field[0]) != 1 || !strchr("MCD", field[0][0])) {
			rc = err_set(err, EXIT_BADDATA, "%s: damaged", path);
		} else if (field[0][0] == 'D') {
			if (grow((void **)&j->dirs, &j->capdirs, j->ndirs, sizeof *j->dirs))
				rc = err_set(err, EXIT_RUNTIME, "out of memory");
			else if (!(j->dirs[j->ndirs++] = (struct dsdir_consumed){ strdup(field[1]), strdup(field[2]),
										 id, 0 }).dir || !j->dirs[j->ndirs - 1].catalog)
				rc = err_set(err, EXIT_RUNTIME, "out of memory");
		} else {
			if (grow((void **)&j->moves, &j->capmoves, j->nmoves, sizeof *j->moves))
				rc = err_set(err, EXIT_RUNTIME, "out of memory");
			else if (!(j->moves[j->nmoves++] = (struct dsdir_move){ strdup(field[1]), strdup(field[2]),
										     field[0][0] == 'M', id, 0 }).dest ||
				 !j->moves[j->nmoves - 1].source)
				rc = err_set(err, EXIT_RUNTIME, "out of memory");
		}
	}
	if (!rc && k)
		rc = err_set(err, EXIT_BADDATA, "%s: truncated", path);
	free(b.p);
	if (rc)
		dsdir_journal_free(j);
	return rc;
}

static int under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* Removes path (ENOENT is fine); the first failure goes to err. */
static void remove_noting(const char *path, int is_dir, int *rc, struct arepo_err *err)
{
	if ((is_dir ? rmdir(path) : unlink(path)) == 0 || errno == ENOENT)
		return;
	if (is_dir && (errno == ENOTEMPTY || errno == EEXIST))
		return; /* something of the user's: the directory stays */
	if (!*rc)
		*rc = err_set(err, EXIT_RUNTIME, "%s: cannot remove after merging: %s", path, strerror(errno));
}

static void dissolve(struct dsdir_consumed *d, int *rc, struct arepo_err *err)
{
	char path[PATH_MAX];
	if (join(path, sizeof path, d->dir, d->catalog) == 0)
		remove_noting(path, 0, rc, err);
	DIR *dh = opendir(d->dir);
	struct dirent *e;
	while (dh && (e = readdir(dh))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		struct stat st;
		if (join(path, sizeof path, d->dir, e->d_name) == 0 && lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			remove_noting(path, 1, rc, err);
	}
	if (dh)
		closedir(dh);
	if (join(path, sizeof path, d->dir, DSDIR_LOCK) == 0)
		remove_noting(path, 0, rc, err);
	if (join(path, sizeof path, d->dir, DSDIR_JOURNAL) == 0)
		remove_noting(path, 0, rc, err);
	remove_noting(d->dir, 1, rc, err);
}

int dsdir_journal_finish(const char *dir, struct dsdir_journal *j,
			 int (*committed)(const char *dest, void *ctx), void *ctx,
			 struct arepo_err *err)
{
	int rc = 0, any_committed = 1;
	char path[PATH_MAX];
	for (size_t i = 0; i < j->nmoves; i++)
		if (*j->moves[i].dest) {
			any_committed = 0;
			break;
		}
	for (size_t i = 0; i < j->nmoves; i++)
		if (*j->moves[i].dest && committed(j->moves[i].dest, ctx))
			any_committed = 1;
	/* A consumed directory goes only if it is still the dataset that was
	 * merged: otherwise its catalog names files that must stay. */
	for (size_t i = 0; i < j->ndirs; i++) {
		struct dsdir_consumed *d = &j->dirs[i];
		struct stat st;
		int gone = join(path, sizeof path, d->dir, d->catalog) || (lstat(path, &st) != 0 && errno == ENOENT);
		d->outcome = !any_committed ? DSDIR_UNDONE
			   : gone || same_file(path, &d->id) ? DSDIR_PENDING : DSDIR_CHANGED;
		if (d->outcome == DSDIR_CHANGED)
			log_warn("%s: changed since it was merged into %s; left in place", d->dir, dir);
	}
	for (size_t i = 0; i < j->nmoves; i++) {
		struct dsdir_move *m = &j->moves[i];
		if (!*m->dest && !any_committed) {
			m->outcome = DSDIR_UNDONE;
			continue;
		}
		if (!*m->dest || committed(m->dest, ctx)) {
			int keep = !m->remove_source || !*m->source;
			for (size_t k = 0; k < j->ndirs && !keep; k++)
				keep = j->dirs[k].outcome == DSDIR_CHANGED && under(m->source, j->dirs[k].dir);
			m->outcome = DSDIR_DONE;
			if (keep)
				continue;
			if (same_file(m->source, &m->id))
				remove_noting(m->source, 0, &rc, err);
			else if (access(m->source, F_OK) == 0)
				m->outcome = DSDIR_CHANGED;
			continue;
		}
		if (join(path, sizeof path, dir, m->dest)) {
			m->outcome = DSDIR_KEPT;
			continue;
		}
		struct stat st;
		if (lstat(path, &st) != 0) {
			m->outcome = DSDIR_UNDONE;
		} else if (*m->source && access(m->source, F_OK) == 0) {
			remove_noting(path, 0, &rc, err);
			m->outcome = DSDIR_UNDONE;
		} else {
			m->outcome = DSDIR_KEPT;
		}
	}
	for (size_t i = 0; i < j->ndirs; i++)
		if (j->dirs[i].outcome == DSDIR_PENDING) {
			dissolve(&j->dirs[i], &rc, err);
			j->dirs[i].outcome = DSDIR_DONE;
		}
	if (join(path, sizeof path, dir, DSDIR_JOURNAL) == 0 && unlink(path) != 0 && errno != ENOENT && !rc)
		rc = err_set(err, EXIT_RUNTIME, "%s: cannot remove: %s", path, strerror(errno));
	return rc;
}

void dsdir_journal_free(struct dsdir_journal *j)
{
	for (size_t i = 0; i < j->nmoves; i++) {
		free(j->moves[i].dest);
		free(j->moves[i].source);
	}
	for (size_t i = 0; i < j->ndirs; i++) {
		free(j->dirs[i].dir);
		free(j->dirs[i].catalog);
	}
	free(j->moves);
	free(j->dirs);
	memset(j, 0, sizeof *j);
}

int dsdir_remove_temporaries(const char *dir)
{
	int removed = atomic_remove_temporaries(dir);
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX];
	while (d && (e = readdir(d))) {
		struct stat st;
		if (e->d_name[0] == '.' || join(path, sizeof path, dir, e->d_name) || lstat(path, &st) != 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		removed += atomic_remove_temporaries(path);
		/* Copies in progress of earlier versions of arepo-merge: NAME.h5.part. */
		DIR *sub = opendir(path);
		struct dirent *f;
		while (sub && (f = readdir(sub))) {
			size_t n = strlen(f->d_name);
			char file[PATH_MAX];
			if (n > 8 && strcmp(f->d_name + n - 8, ".h5.part") == 0 &&
			    join(file, sizeof file, path, f->d_name) == 0 && unlink(file) == 0)
				removed++;
		}
		if (sub)
			closedir(sub);
	}
	if (d)
		closedir(d);
	return removed;
}
