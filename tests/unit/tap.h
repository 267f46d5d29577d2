/* A minimal TAP producer for the C unit tests (run by prove). */
#ifndef AREPO_TAP_H
#define AREPO_TAP_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int tap_count, tap_failed;

static int tap_ok(int pass, const char *name)
{
	tap_count++;
	if (!pass)
		tap_failed++;
	printf("%sok %d - %s\n", pass ? "" : "not ", tap_count, name);
	fflush(stdout);
	return pass;
}

#define ok(cond, ...)                                          \
	do {                                                   \
		char tap_name_[8192];                           \
		snprintf(tap_name_, sizeof tap_name_, __VA_ARGS__); \
		tap_ok((cond) != 0, tap_name_);                \
	} while (0)

#define is_int(got, want, ...)                                                       \
	do {                                                                         \
		long long g_ = (long long)(got), w_ = (long long)(want);             \
		char tap_name_[8192];                                                 \
		snprintf(tap_name_, sizeof tap_name_, __VA_ARGS__);                  \
		if (!tap_ok(g_ == w_, tap_name_))                                    \
			printf("#   got %lld, expected %lld\n", g_, w_);         \
	} while (0)

/* Bitwise equality of doubles (so that -0.0 differs from 0.0 and NaNs match). */
#define is_double(got, want, ...)                                                    \
	do {                                                                         \
		double g_ = (got), w_ = (want);                                      \
		char tap_name_[8192];                                                 \
		snprintf(tap_name_, sizeof tap_name_, __VA_ARGS__);                  \
		if (!tap_ok(memcmp(&g_, &w_, sizeof g_) == 0, tap_name_))            \
			printf("#   got %.17g, expected %.17g\n", g_, w_);       \
	} while (0)

#define contains(text, part, ...)                                                    \
	do {                                                                         \
		char tap_name_[8192];                                                 \
		snprintf(tap_name_, sizeof tap_name_, __VA_ARGS__);                  \
		if (!tap_ok(strstr((text), (part)) != NULL, tap_name_))              \
			printf("#   '%s' does not contain '%s'\n", (text), (part)); \
	} while (0)

/* A test that cannot run here, said as such (never as a pass). */
static inline void tap_skip(const char *reason)
{
	printf("ok %d # SKIP %s\n", ++tap_count, reason);
	fflush(stdout);
}

static int tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
