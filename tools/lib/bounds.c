// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bounds.h"
#include "lib/hist.h"

/* 256 ns to 68.7 s: below, syscalls and wakeups are all alike; above,
 * nothing a latency tool sees. */
#define LOWEST_POW 8
#define HIGHEST_POW 36
/* --buckets LIST: values the histogram keeps apart (2^40 ns and more
 * share its open-ended slot). */
#define LARGEST_NS ((1ULL << HIST_MAX_POW) - 2)

uint64_t hl_bound_ns(const struct hl_bounds *b, uint32_t i)
{
	return hist_slot_lo(b->end[i]) - 1;
}

void hl_fmt_seconds(char *buf, size_t len, uint64_t ns)
{
	char frac[16];
	int n;

	if (!(ns % 1000000000ULL)) {
		snprintf(buf, len, "%llu", (unsigned long long)(ns / 1000000000ULL));
		return;
	}
	n = snprintf(frac, sizeof(frac), "%09llu",
		     (unsigned long long)(ns % 1000000000ULL));
	while (n > 0 && frac[n - 1] == '0')
		frac[--n] = '\0';
	snprintf(buf, len, "%llu.%s", (unsigned long long)(ns / 1000000000ULL),
		 frac);
}

static void powers(struct hl_bounds *b, uint32_t per_pow)
{
	uint32_t first = hist_slot(1ULL << LOWEST_POW);
	uint32_t last = hist_slot(1ULL << HIGHEST_POW);
	uint32_t step = HIST_SUB / per_pow;

	b->n = 0;
	for (uint32_t s = first; s <= last; s += step)
		b->end[b->n++] = s;
}

/* The slot end whose bound (lo - 1) is nearest to v. */
static uint32_t nearest_end(uint64_t v)
{
	uint32_t s = hist_slot(v + 1);
	uint64_t below = hist_slot_lo(s) - 1, above = hist_slot_lo(s + 1) - 1;

	return v - below <= above - v ? s : s + 1;
}

static int fail(char *err, size_t errlen, const char *arg, const char *why)
{
	snprintf(err, errlen, "invalid buckets '%s': %s", arg, why);
	return -1;
}

static int parse_list(const char *arg, struct hl_bounds *b, char *err,
		      size_t errlen)
{
	const char *p = arg;

	b->n = 0;
	for (;;) {
		char *end;
		double sec = strtod(p, &end);
		uint32_t e;

		if (end == p || (*end && *end != ',') || !isfinite(sec) ||
		    sec * 1e9 < 1 || sec * 1e9 > LARGEST_NS)
			return fail(err, errlen, arg, "expected log2, fine or "
				    "increasing seconds from 0.000000001 to "
				    "1099, e.g. 0.001,0.01,0.1,1");
		if (b->n == HL_MAX_BOUNDS)
			return fail(err, errlen, arg, "more than 1000 bounds");
		e = nearest_end((uint64_t)llround(sec * 1e9));
		if (b->n && e <= b->end[b->n - 1])
			return fail(err, errlen, arg, b->end[b->n - 1] == e ?
				    "two bounds fall on the same bucket edge" :
				    "bounds must increase");
		b->end[b->n++] = e;
		if (!*end)
			return 0;
		p = end + 1;
	}
}

int hl_bounds_parse(const char *arg, struct hl_bounds *b, char *err,
		    size_t errlen)
{
	if (!strcmp(arg, "log2")) {
		powers(b, 1);
		return 0;
	}
	if (!strcmp(arg, "fine")) {
		powers(b, HIST_SUB);
		return 0;
	}
	return parse_list(arg, b, err, errlen);
}
