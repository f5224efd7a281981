/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Minimal test output for the C unit tests: one "ok - ..." or "not ok - ..."
 * line per check, "# ..." lines for diagnostics (selftests/run.py shows the
 * last one with the test's result), exit status 1 if any check failed.
 * Header-only so that each test stays a single .c file for the Makefile rule.
 */
#ifndef HOWLONG_SELFTEST_TAP_H
#define HOWLONG_SELFTEST_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

static int tap_failed, tap_passed;

__attribute__((format(printf, 2, 3), unused))
static bool tap_check(bool cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", cond ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (cond)
		tap_passed++;
	else
		tap_failed++;
	return cond;
}

__attribute__((format(printf, 1, 2), unused))
static void tap_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

__attribute__((unused))
static int tap_done(void)
{
	fflush(stdout);
	return tap_failed ? 1 : 0;
}

/* Deterministic xorshift64* so that a failure reproduces exactly. */
static uint64_t tap_rng_state = 0x9e3779b97f4a7c15ULL;

__attribute__((unused))
static uint64_t tap_rand(void)
{
	uint64_t x = tap_rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	tap_rng_state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, 1). */
__attribute__((unused))
static double tap_rand_unit(void)
{
	return (double)(tap_rand() >> 11) / 9007199254740992.0;
}

#endif /* HOWLONG_SELFTEST_TAP_H */
