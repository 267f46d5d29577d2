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

/* Chooses the temporary name ".<name>.part-<pid>-<n>" in the target's
 * directory and registers it for removal if the process is interrupted
 * (SIGINT, SIGTERM, SIGHUP) or exits without committing. Creates nothing. */
int atomic_begin(struct atomic_output *out, const char *target, struct arepo_err *err);
/* Flushes the temporary file (or every file of a temporary directory) to
 * disk, renames it onto the target, and flushes the directory. */
int atomic_commit(struct atomic_output *out, struct arepo_err *err);
/* Removes the temporary file or directory. */
void atomic_abort(struct atomic_output *out);

/* Writes a whole small file atomically. */
int atomic_write_file(const char *target, const void *data, size_t size, struct arepo_err *err);

/* Removes a file or a directory tree; 0 if it is gone (or was absent). */
int remove_tree(const char *path);

/* Whether name (no directory part) is a temporary name of atomic_begin;
 * *pid is then the process that chose it. */
int atomic_is_temp(const char *name, long *pid);
/* Removes the temporaries in dir whose owner is no longer running (a run
 * killed by SIGKILL, which no handler sees), or all of them with any_owner
 * (for a directory whose lock the caller holds). Returns how many. */
int atomic_remove_stale(const char *dir, int any_owner);

#endif
