/* --backend cuda or auto settled the same way by every tool with a CUDA
 * backend (see cuda_device.h); built with or without nvcc. */
#include <stdio.h>

#include "cuda_device.h"

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
	(void)lock_dir;
	const char *reason = "this build has no CUDA backend (it was made with CUDA=0 or without nvcc)";
#endif
	if (required) {
		err_set(err, EXIT_RUNTIME, "--backend cuda: %s", reason);
		return -1;
	}
	log_warn("%s; using the CPU", reason);
	return 0;
}
