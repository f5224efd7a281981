/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Log-linear latency histogram, shared by the BPF side (which fills it) and
 * user space (which merges, folds and prints it).
 *
 * Values below HIST_SUB are counted exactly. Every power of two above is
 * split into HIST_SUB equal sub-buckets, so a bucket is never wider than
 * 1/HIST_SUB of its lower bound: reporting a bucket's midpoint is within
 * 1/(2*HIST_SUB) = 3.125% of any value in it. Values of 2^HIST_MAX_POW ns
 * (about 18 minutes) and more share the last, open-ended slot; max stays
 * exact.
 */
#ifndef HOWLONG_HIST_H
#define HOWLONG_HIST_H

#ifndef __VMLINUX_H__
#include <linux/types.h>	/* user space; BPF gets the types from vmlinux.h */
#endif

#define HIST_SUB_BITS	4
#define HIST_SUB	(1U << HIST_SUB_BITS)
#define HIST_MAX_POW	40
/* Log-linear slots up to 2^HIST_MAX_POW, plus one open-ended slot. */
#define HIST_SLOTS	((HIST_MAX_POW - HIST_SUB_BITS + 1) * HIST_SUB + 1)

/* One histogram; per-CPU copies are summed by user space. */
struct hist {
	__u64 slots[HIST_SLOTS];
	__u64 sum;
	__u64 max;
	__u64 nmin;	/* ~min: zero-initialised memory then means "empty" */
};

/*
 * Keyed histograms: one cell per (key, buffer, slot) in a per-CPU hash,
 * with the slot's count and the exact sum and extremes of its samples,
 * so that a sample costs one lookup; user space adds a key's cells up.
 */
struct hist_slot_key {
	__u64 id;	/* what the tool keys by */
	__u64 owner;	/* pid, tid or cgroup id with -P, -L, --per-cgroup */
	__u32 buf;	/* double buffer the sample went to */
	__u32 slot;
};

struct hist_cell {
	__u64 count;
	__u64 sum;
	__u64 max;
	__u64 nmin;	/* ~min, as in struct hist */
};

/* And a key's name (its task's comm), once per buffer. */
struct hist_name_key {
	__u64 id;
	__u64 owner;
	__u32 buf;
	__u32 pad;
};

struct hist_name {
	char comm[16];
};

/* Index of the highest set bit; v must be non-zero. Branchy on purpose:
 * the BPF instruction set has no count-leading-zeros. */
static inline __u32 hist_log2(__u64 v)
{
	__u32 r = 0, s;

	s = (v > 0xFFFFFFFFULL) << 5; v >>= s; r |= s;
	s = (v > 0xFFFF) << 4; v >>= s; r |= s;
	s = (v > 0xFF) << 3; v >>= s; r |= s;
	s = (v > 0xF) << 2; v >>= s; r |= s;
	s = (v > 0x3) << 1; v >>= s; r |= s;
	r |= (v >> 1);
	return r;
}

static inline __u32 hist_slot(__u64 v)
{
	__u32 k;

	if (v < HIST_SUB)
		return v;
	k = hist_log2(v);
	if (k >= HIST_MAX_POW)
		return HIST_SLOTS - 1;
	return (k - HIST_SUB_BITS + 1) * HIST_SUB +
	       ((v >> (k - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

/* Smallest value that falls into slot s. */
static inline __u64 hist_slot_lo(__u32 s)
{
	__u32 k;

	if (s < HIST_SUB)
		return s;
	k = s / HIST_SUB + HIST_SUB_BITS - 1;
	return (1ULL << k) + (__u64)(s % HIST_SUB) * (1ULL << (k - HIST_SUB_BITS));
}

/* One past the largest value of slot s (the last slot is open-ended). */
static inline __u64 hist_slot_hi(__u32 s)
{
	if (s + 1 >= HIST_SLOTS)
		return ~0ULL;
	return hist_slot_lo(s + 1);
}

#endif /* HOWLONG_HIST_H */
