/* --backend cuda or auto settled the same way by every tool with a CUDA
 * backend (see cuda_device.h); built with or without nvcc. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cuda_device.h"
#include "log.h"

/* Whether this task is the first of its run to fall back to the CPU: with
 * --gpu-lock DIR, the one that creates DIR/no-gpu-noted.RUN, RUN being the
 * Slurm array (or job) id, else the process group (a make run's); without,
 * every task is. So that a run of many tasks says it once. */
static int first_to_fall_back(const char *lock_dir)
{
	if (!lock_dir)
		return 1;
	const char *id = getenv("SLURM_ARRAY_JOB_ID");
	if (!id || !*id)
		id = getenv("SLURM_JOB_ID");
	char path[PATH_MAX];
	if (id && *id)
		snprintf(path, sizeof path, "%s/no-gpu-noted.slurm-%s", lock_dir, id);
	else
		snprintf(path, sizeof path, "%s/no-gpu-noted.pgid-%ld", lock_dir, (long)getpgrp());
	mkdir(lock_dir, 0777); /* as the GPU's lock files would */
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0666);
	if (fd < 0)
		return errno != EEXIST;
	close(fd);
	return 1;
}

int cuda_choose(int required, int ordinal, const char *lock_dir, struct cuda_device *dev,
		struct arepo_err *err)
{
	dev->lock_fd = -1;
#if AREPO_WITH_CUDA
	struct arepo_err why = { 0 };
	if (cuda_open(ordinal, lock_dir, dev, &why) == 0)
		return 1;
	const char *reason = why.msg;
#else
	(void)ordinal;
	const char *reason = "this build has no CUDA backend (it was made with CUDA=0 or without nvcc)";
#endif
	if (required) {
		err_set(err, EXIT_RUNTIME, "--backend cuda: %s", reason);
		return -1;
	}
	log_msg(first_to_fall_back(lock_dir) ? LOG_WARN : LOG_INFO, "%s; using the CPU", reason);
	return 0;
}
