/* Threads for the CPU backends: how many this process may use, and running
 * one function on several threads, the calling thread among them. */
#ifndef AREPO_PARALLEL_H
#define AREPO_PARALLEL_H

#include <stddef.h>

/* The CPUs in this process's affinity mask (at least 1). */
int cpu_count(void);

/* Runs fn(arg_i) for i < threads on threads threads, arg_i being args +
 * i * stride bytes; the caller runs arg_0. When a thread cannot be started
 * the started ones (and the caller) do the work: fn must share it through
 * the arguments. Returns how many threads ran (at least 1) after all have
 * finished; the first non-NULL result is stored in *result (may be NULL). */
int parallel_run(int threads, void *(*fn)(void *), void *args, size_t stride, void **result);

#endif
