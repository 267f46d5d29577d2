/* Atomic outputs: a file (or a directory) is written under a temporary name
 * beside its target, flushed to disk, and renamed into place only when
 * complete, so an interrupted tool never leaves a file that looks finished. */
#ifndef AREPO_ATOMIC_H
#define AREPO_ATOMIC_H

#include <limits.h>
#include <stddef.h>

#include "log.h"

struct atomic_output {
	char target[PATH_MAX];
	char temp[PATH_MAX];
	int active;
};

/* Chooses the temporary name ".<name>.part-<host>-<pid>-<n>" in the
 * target's directory and registers it for removal if the process is
 * interrupted (SIGINT, SIGTERM, SIGHUP) or exits without committing.
 * Creates nothing; the first time a directory is seen, removes the stale
 * temporaries there (atomic_remove_stale). */
int atomic_begin(struct atomic_output *out, const char *target, struct arepo_err *err);
/* Flushes the temporary file (or every file of a temporary directory) to
 * disk, renames it onto the target, and flushes the directory. */
int atomic_commit(struct atomic_output *out, struct arepo_err *err);
/* Removes the temporary file or directory. */
void atomic_abort(struct atomic_output *out);

/* Writes a whole small file atomically. */
int atomic_write_file(const char *target, const void *data, size_t size, struct arepo_err *err);

/* Removes the temporaries that runs on this host left in dir when they were
 * killed (SIGKILL, a crash, a lost node): those whose owner's pid is no
 * longer alive here and that nobody holds locked. Temporaries of other
 * hosts (a shared file system) and of live processes are kept. Returns how
 * many were removed; each is logged at the info level. */
long atomic_remove_stale(const char *dir);

/* atomic_remove_stale of target's directory, once per process (as
 * atomic_begin does): for a tool to call at start, so that even a run that
 * has nothing to write removes what its killed predecessors left. */
void atomic_remove_stale_beside(const char *target);

/* Whether name is a temporary of atomic_begin's making, of any host. */
int atomic_is_temporary(const char *name);

/* Removes a file or a directory tree; 0 if it is gone (or was absent).
 * Safe in a signal handler. */
int remove_tree(const char *path);

/* Removes every temporary in dir, whatever its owner: for a directory
 * whose lock the caller holds (no live writer can be there). Returns how
 * many. */
long atomic_remove_temporaries(const char *dir);

#endif
