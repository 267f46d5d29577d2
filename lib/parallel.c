/* Threads for the CPU backends (see parallel.h). */
#define _GNU_SOURCE
#include "parallel.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

int cpu_count(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

int parallel_run(int threads, void *(*fn)(void *), void *args, size_t stride, void **result)
{
	pthread_t *tid = threads > 1 ? calloc((size_t)threads, sizeof *tid) : NULL;
	int started = 1;
	if (tid)
		for (; started < threads; started++)
			if (pthread_create(&tid[started], NULL, fn, (char *)args + (size_t)started * stride))
				break;
	void *first = fn(args);
	for (int t = 1; t < started; t++) {
		void *r;
		pthread_join(tid[t], &r);
		if (!first)
			first = r;
	}
	free(tid);
	if (result)
		*result = first;
	return started;
}
