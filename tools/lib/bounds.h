/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Exported bucket bounds (--buckets), placed on edges of the log-linear
 * histogram so that every cumulative count is exact, never interpolated.
 */
#ifndef HOWLONG_BOUNDS_H
#define HOWLONG_BOUNDS_H

#include <stddef.h>
#include <stdint.h>

#define HL_MAX_BOUNDS 1000

/* Bucket i holds the slots below end[i] (and from end[i - 1] on): its
 * upper bound is hist_slot_lo(end[i]) - 1 ns. */
struct hl_bounds {
	uint32_t n;
	uint32_t end[HL_MAX_BOUNDS];
};

/* "log2", "fine" or comma-separated seconds, each moved to the nearest
 * edge; 0, or -1 with a one-line reason in err. */
int hl_bounds_parse(const char *arg, struct hl_bounds *b, char *err,
		    size_t errlen);

/* Largest value (ns) bucket i holds. */
uint64_t hl_bound_ns(const struct hl_bounds *b, uint32_t i);

/* ns as exact decimal seconds, no trailing zeros: 1023 -> "0.000001023". */
void hl_fmt_seconds(char *buf, size_t len, uint64_t ns);

#endif /* HOWLONG_BOUNDS_H */
