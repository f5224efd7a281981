/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* A merged (all CPUs) histogram in user space, and the math on it. */
#ifndef HOWLONG_HISTO_H
#define HOWLONG_HISTO_H

#include <linux/types.h>
#include <stdbool.h>
#include <stdint.h>
#include "lib/hist.h"
#include "lib/common.h"

struct hl_hist {
	uint64_t slots[HIST_SLOTS];
	uint64_t count;
	uint64_t sum;
	uint64_t min;
	uint64_t max;
	uint64_t id;		/* the tool's key */
	uint64_t owner;		/* pid, tid or cgroup id: -P, -L, --per-cgroup */
	bool dense;		/* id is hist_record_dense()'s */
	char comm[COMM_LEN];
};

void hl_hist_init(struct hl_hist *h, uint64_t id);
void hl_hist_add(struct hl_hist *h, uint64_t v);
/* Fold one CPU's copy of the BPF-side global histogram in. */
void hl_hist_merge_cpu(struct hl_hist *h, const struct hist *cpu);
/* Fold one CPU's copy of a keyed histogram's cell for slot s in. */
void hl_hist_merge_cell(struct hl_hist *h, __u32 s,
			const struct hist_cell *cpu);

/* Add everything src holds to dst (ids and names stay dst's). */
void hl_hist_merge(struct hl_hist *dst, const struct hl_hist *src);

/* Regrouping h[0..*n): add *src to the histogram of id there, made at
 * h[*n] with src's name when there is none yet; src may be in h at or
 * after *n. */
void hl_hist_regroup(struct hl_hist *h, size_t *n, uint64_t id,
		     const struct hl_hist *src);

/*
 * Value at quantile q (0 < q <= 1): the midpoint of the slot holding the
 * ceil(q * count)-th smallest sample, clamped to [min, max]. Within
 * 1/(2 * HIST_SUB) of the exact sample at that rank; exact below HIST_SUB.
 */
uint64_t hl_hist_quantile(const struct hl_hist *h, double q);

#endif /* HOWLONG_HISTO_H */
