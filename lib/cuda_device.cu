/* Opening a GPU for the CUDA backends (see cuda_device.h): the device
 * checks, the per-device lock files, the CUDA errors in the user's terms. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cuda_runtime.h>

#include "cuda_device.h"

int cuda_fail(struct arepo_err *err, cudaError_t e, const char *what)
{
	if (e == cudaErrorMemoryAllocation)
		err_set(err, EXIT_RUNTIME, "out of GPU memory while %s", what);
	else
		err_set(err, EXIT_RUNTIME, "CUDA error while %s: %s", what, cudaGetErrorString(e));
	return -1;
}

/* Why no GPU can be used, in the user's terms. */
static int no_gpu(cudaError_t e, struct arepo_err *err)
{
	int driver = 0, runtime = 0;
	cudaDriverGetVersion(&driver);
	cudaRuntimeGetVersion(&runtime);
	const char *visible = getenv("CUDA_VISIBLE_DEVICES");
	if (driver == 0)
		err_set(err, EXIT_RUNTIME, "no usable GPU: no NVIDIA driver is installed");
	else if (e == cudaErrorInsufficientDriver)
		err_set(err, EXIT_RUNTIME,
			"no usable GPU: the NVIDIA driver supports CUDA %d.%d, older than the "
			 "CUDA %d.%d of this build; update the driver",
			 driver / 1000, driver % 1000 / 10, runtime / 1000, runtime % 1000 / 10);
	else if (e == cudaErrorNoDevice || e == cudaSuccess)
		err_set(err, EXIT_RUNTIME, "no usable GPU: none is visible%s%s%s", visible ? " (CUDA_VISIBLE_DEVICES=" : "",
			 visible ? visible : "", visible ? ")" : "");
	else
		err_set(err, EXIT_RUNTIME, "no usable GPU: %s", cudaGetErrorString(e));
	return -1;
}

/* Takes the lock file of one device in lock_dir (flock: released when the
 * process ends, however it ends). Files are named by PCI bus id, which every
 * process sees alike whatever its CUDA_VISIBLE_DEVICES. Waits while every
 * candidate is held. */
static int take_lock(const char *lock_dir, int ordinal, int count, struct cuda_device *dev,
		     struct arepo_err *err)
{
	if (mkdir(lock_dir, 0777) != 0 && errno != EEXIST) {
		err_set(err, EXIT_RUNTIME, "--gpu-lock %s: %s", lock_dir, strerror(errno));
		return -1;
	}
	int first = ordinal < 0 ? 0 : ordinal, last = ordinal < 0 ? count - 1 : ordinal;
	int told = 0;
	for (;;) {
		for (int d = first; d <= last; d++) {
			char bus[64];
			cudaError_t e = cudaDeviceGetPCIBusId(bus, (int)sizeof bus, d);
			if (e != cudaSuccess)
				return cuda_fail(err, e, "reading a GPU's PCI bus id");
			for (char *c = bus; *c; c++)
				*c = (char)tolower((unsigned char)*c);
			char path[PATH_MAX];
			if (snprintf(path, sizeof path, "%s/gpu-%s.lock", lock_dir, bus) >= (int)sizeof path) {
				err_set(err, EXIT_RUNTIME, "--gpu-lock %s: path too long", lock_dir);
				return -1;
			}
			int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
			if (fd < 0) {
				err_set(err, EXIT_RUNTIME, "--gpu-lock: cannot open %s: %s", path, strerror(errno));
				return -1;
			}
			if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
				/* The holder's pid, for whoever looks. */
				if (ftruncate(fd, 0) == 0)
					dprintf(fd, "%ld\n", (long)getpid());
				dev->ordinal = d;
				dev->lock_fd = fd;
				return 0;
			}
			int saved = errno;
			close(fd);
			if (saved != EWOULDBLOCK) {
				err_set(err, EXIT_RUNTIME, "--gpu-lock: cannot lock %s: %s", path, strerror(saved));
				return -1;
			}
		}
		if (!told) {
			log_info("every GPU under --gpu-lock %s is taken; waiting", lock_dir);
			told = 1;
		}
		usleep(200 * 1000);
	}
}

extern "C" int cuda_open(int ordinal, const char *lock_dir, struct cuda_device *dev, struct arepo_err *err)
{
	memset(dev, 0, sizeof *dev);
	dev->lock_fd = -1;
	int count = 0;
	cudaError_t e = cudaGetDeviceCount(&count);
	if (e != cudaSuccess || count == 0)
		return no_gpu(e, err);
	if (ordinal >= count) {
		err_set(err, EXIT_RUNTIME, "--device %d: %d GPU%s visible (0 to %d)", ordinal, count,
			 count == 1 ? " is" : "s are", count - 1);
		return -1;
	}
	if (lock_dir) {
		if (take_lock(lock_dir, ordinal, count, dev, err))
			return -1;
	} else {
		dev->ordinal = ordinal < 0 ? 0 : ordinal;
	}
	cudaDeviceProp prop;
	char bus[64] = "";
	if ((e = cudaGetDeviceProperties(&prop, dev->ordinal)) != cudaSuccess ||
	    (e = cudaDeviceGetPCIBusId(bus, (int)sizeof bus, dev->ordinal)) != cudaSuccess)
		return cuda_fail(err, e, "reading the GPU's properties");
	snprintf(dev->name, sizeof dev->name, "%.200s (%.40s)", prop.name, bus);
	if (prop.major < 8) {
		err_set(err, EXIT_RUNTIME, "GPU %d, %s, has compute capability %d.%d; this build needs 8.0 or newer",
			 dev->ordinal, dev->name, prop.major, prop.minor);
		return -1;
	}
	/* Creates the context now, so that a busy or broken device fails here. */
	if ((e = cudaSetDevice(dev->ordinal)) != cudaSuccess || (e = cudaFree(0)) != cudaSuccess) {
		err_set(err, EXIT_RUNTIME, "cannot use GPU %d, %s: %s", dev->ordinal, dev->name,
			 cudaGetErrorString(e));
		return -1;
	}
	return 0;
}
