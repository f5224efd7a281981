// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A program with USDT markers of its own, the ground truth of the marker
 * tools' tests (selftests/tests/test_usdtlist.py).
 *
 *   markers declare   print what the source declares, one JSON line per
 *                     marker site (see markers.h), and exit
 *   markers fire      reach every marker site once, and exit
 *   markers wait      fire, print "ready", then block until stdin closes
 *                     (a process for -p to look at)
 *   markers spin      print "ready"; for each number N read from stdin,
 *                     fire two markers (one guarded) N times and print
 *                     "ns" and the time per round
 *
 * The markers: every integer width and signedness, a string and a
 * pointer, constants, an argument in memory, floating point (which
 * libbpf 1.1 cannot read), no arguments, one marker at two sites, and
 * one guarded by a semaphore (markers_guarded.c). New modes (threads,
 * timed intervals) go into the table in main().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "markers.h"

struct record {
	int32_t id;
	uint64_t bytes;
};

HL_SITE_FN static void fire_ints(int64_t v)
{
	MARK8(all__ints, (int8_t)v, (uint8_t)v, (int16_t)v, (uint16_t)v,
	      (int32_t)v, (uint32_t)v, (int64_t)v, (uint64_t)v);
}

HL_SITE_FN static void fire_strings(const char *str, void *ptr)
{
	MARK2(strings, str, ptr);
}

HL_SITE_FN static void fire_constants(void)
{
	MARK3(constants, 5, -7L, (uint8_t)200);
}

HL_SITE_FN static void fire_memory(const struct record *r)
{
	MARK2(in__memory, r->id, r->bytes);
}

HL_SITE_FN static void fire_floats(float f, double d)
{
	MARK2(floats, f, d);
}

HL_SITE_FN static void fire_no_args(void)
{
	MARK0(no__args);
}

/* One marker, two sites: what inlining does to real programs. */
HL_SITE_FN static void fire_twice_a(int n)
{
	MARK1(twice, n);
}

HL_SITE_FN static void fire_twice_b(long n)
{
	MARK1(twice, n);
}

extern const struct site_decl *const __start_hl_sites[];
extern const struct site_decl *const __stop_hl_sites[];

static int declare(void)
{
	for (const struct site_decl *const *p = __start_hl_sites;
	     p < __stop_hl_sites; p++) {
		const struct site_decl *d = *p;

		printf("{\"provider\":\"%s\",\"name\":\"%s\",\"semaphore\":%s,"
		       "\"args\":[", d->provider, d->name,
		       d->semaphore ? "true" : "false");
		for (int i = 0; i < d->nargs; i++)
			printf("%s\"%s\"", i ? "," : "", d->types[i]);
		puts("]}");
	}
	return fflush(stdout) ? 1 : 0;
}

static int fire(void)
{
	struct record r = { .id = 7, .bytes = 4096 };
	char text[] = "hello";

	fire_ints(-3);
	fire_strings(text, &r);
	fire_constants();
	fire_memory(&r);
	fire_floats(1.5f, 2.25);
	fire_no_args();
	fire_twice_a(1);
	fire_twice_b(2);
	fire_guarded(1, text);
	return 0;
}

static int wait_for_stdin(void)
{
	char buf[64];
	ssize_t n;

	fire();
	puts("ready");
	if (fflush(stdout))
		return 1;
	while ((n = read(0, buf, sizeof(buf))) != 0)
		if (n < 0 && errno != EINTR)
			return 1;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* For each "N" line on stdin: N rounds of an unguarded and a guarded
 * marker, then "ns PER_ROUND" (what a tool attached elsewhere costs this
 * process). */
static int spin(void)
{
	unsigned long n;
	uint64_t t0;

	puts("ready");
	fflush(stdout);
	while (scanf("%lu", &n) == 1) {
		t0 = now_ns();
		for (unsigned long i = 0; i < n; i++) {
			fire_no_args();
			fire_guarded(i, "spin");
		}
		printf("ns %.1f\n", n ? (double)(now_ns() - t0) / n : 0.0);
		if (fflush(stdout))
			return 1;
	}
	return 0;
}

static const struct mode {
	const char *name;
	int (*run)(void);
} modes[] = {
	{ "declare", declare },
	{ "fire", fire },
	{ "wait", wait_for_stdin },
	{ "spin", spin },
};

int main(int argc, char **argv)
{
	for (size_t i = 0; argc == 2 && i < sizeof(modes) / sizeof(*modes);
	     i++)
		if (!strcmp(argv[1], modes[i].name))
			return modes[i].run();
	fprintf(stderr, "usage: %s declare|fire|wait|spin\n", argv[0]);
	return 2;
}
