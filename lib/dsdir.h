/* Dataset directories as the tools that change them share them: one lock per
 * directory, a journal that makes a run's file moves recoverable, and the
 * removal of temporaries that killed runs left. Nothing here knows what the
 * entries are (physical tensors, observed pairs): only files and names. */
#ifndef AREPO_DSDIR_H
#define AREPO_DSDIR_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"

#define DSDIR_LOCK "dataset.lock"
#define DSDIR_JOURNAL "dataset.journal"

/* The lock of one directory: flock(2) on DIR/dataset.lock, held until
 * released or until every process that shares the descriptor (a tool and
 * its forked workers) has exited. The file records who holds it. */
struct dsdir_lock {
	int fd;         /* -1: nothing held (a read-only directory without a lock file) */
	dev_t dev;      /* of the directory */
	ino_t ino;
	int created;    /* the directory was made by dsdir_lock */
	char dir[PATH_MAX];
};

/* DSDIR_CREATE: make the directory if it is missing, also when a run that
 * held the lock removed it meanwhile (a new dataset it gave up). */
enum { DSDIR_NOWAIT = 1, DSDIR_CREATE = 2 };

/* Takes the lock of dir, waiting for its holder unless flags has
 * DSDIR_NOWAIT; then the error (1) names the holder: tool, pid, host and
 * since when. A directory on a read-only file system without a lock file is
 * not locked (nobody can change it). */
int dsdir_lock(struct dsdir_lock *l, const char *dir, int flags, struct arepo_err *err);
/* Closes the descriptor (never LOCK_UN: forked workers may share it). */
void dsdir_unlock(struct dsdir_lock *l);

/* The locks of several directories, taken in one global order (device,
 * inode) so that two runs never wait for each other; repeats taken once.
 * DSDIR_CREATE applies to dirs[0] only. */
struct dsdir_locks {
	struct dsdir_lock *l;
	size_t n;
};
int dsdir_lock_all(const char *const *dirs, size_t n, int flags, struct dsdir_locks *locks,
		   struct arepo_err *err);
void dsdir_unlock_all(struct dsdir_locks *locks);
/* Whether dir is one of the locked directories. */
int dsdir_locked(const struct dsdir_locks *locks, const char *dir);

/* A file as it was when journaled, so that a later run removes only that
 * file and not another one put at its name since. */
struct dsdir_file_id {
	uint64_t dev, ino, size;
	int64_t mtime_s, mtime_ns;
};

enum dsdir_outcome {
	DSDIR_PENDING,   /* not finished yet */
	DSDIR_DONE,      /* committed; the source is gone (or is kept: a copy) */
	DSDIR_UNDONE,    /* not committed; the placed file is removed */
	DSDIR_KEPT,      /* not committed but its source is gone: left in place */
	DSDIR_CHANGED,   /* committed, but the source changed since: left in place */
};

/* One file a run puts into the dataset directory, or (no dest) a source it
 * only removes once it committed: one the dataset has already. */
struct dsdir_move {
	char *dest;          /* relative to the dataset directory; "" for none */
	char *source;        /* absolute path; "" for a file already in place */
	int remove_source;   /* a move: the source goes once the run committed */
	struct dsdir_file_id id; /* of the source */
	int outcome;
};

/* A directory a run empties and removes once committed (a dataset merged
 * into another): catalog is the file that makes it one (checked unchanged). */
struct dsdir_consumed {
	char *dir;           /* absolute */
	char *catalog;       /* name inside dir */
	struct dsdir_file_id id;
	int outcome;
};

struct dsdir_journal {
	struct dsdir_move *moves;
	size_t nmoves, capmoves;
	struct dsdir_consumed *dirs;
	size_t ndirs, capdirs;
};

/* The absolute path of path with its directory resolved (the file itself
 * need not exist): how journals name sources. */
int dsdir_canonical(const char *path, char *out, size_t size);

int dsdir_journal_add_move(struct dsdir_journal *j, const char *dest, const char *source,
			   int remove_source, struct arepo_err *err);
int dsdir_journal_add_dir(struct dsdir_journal *j, const char *dir, const char *catalog,
			  struct arepo_err *err);
/* Writes DIR/dataset.journal, flushed to disk, before anything is placed. */
int dsdir_journal_write(const char *dir, const struct dsdir_journal *j, struct arepo_err *err);
/* Reads DIR/dataset.journal; an absent journal reads as an empty one. */
int dsdir_journal_read(const char *dir, struct dsdir_journal *j, struct arepo_err *err);

/* Finishes the run a journal describes, whoever ran it: committed(dest)
 * says whether the dataset's committed catalog names dest. Committed
 * moves remove their source (when still the same file); uncommitted ones
 * remove the placed file while its source is still there; the run
 * committed if any of its moves did (or it placed nothing): then its
 * sources without dest go, and consumed directories whose catalog is
 * unchanged.
 * Then the journal is removed. Outcomes are left in j. The locks of the
 * consumed directories must be held. Returns 0 or the first failure (1). */
int dsdir_journal_finish(const char *dir, struct dsdir_journal *j,
			 int (*committed)(const char *dest, void *ctx), void *ctx,
			 struct arepo_err *err);
void dsdir_journal_free(struct dsdir_journal *j);

/* Removes the temporaries (".NAME.part-PID-N", of any owner) in dir and its
 * subdirectories: called with dir's lock held, when nobody else can be
 * writing there. Returns how many were removed. */
int dsdir_remove_temporaries(const char *dir);

#endif
