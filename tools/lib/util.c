// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "util.h"

const char *hl_tool = "howlong";

static void vmsg(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", hl_tool);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void hl_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(HL_EXIT_USAGE);
}

void hl_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(HL_EXIT_FAIL);
}

void hl_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

bool hl_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

uint64_t hl_parse_ms(const char *arg, const char *what)
{
	char *end;
	double ms = strtod(arg, &end);

	if (end == arg || *end || !(ms >= 0) || ms > 86400000)
		hl_usage_error("invalid %s '%s': expected milliseconds from 0 "
			       "to 86400000", what, arg);
	return (uint64_t)(ms * 1e6);
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

uint64_t hl_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t hl_wall_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

bool hl_ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && !strcmp(s + ls - lx, suffix);
}
