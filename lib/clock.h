/* Wall-clock seconds for the timings the tools report (--stats), from the
 * monotonic clock; C and CUDA sources alike. */
#ifndef AREPO_CLOCK_H
#define AREPO_CLOCK_H

#include <time.h>

static inline double monotonic_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
