/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* irqlat: types shared by progs/irqlat.bpf.c and tools/irqlat.c. */
#ifndef HOWLONG_IRQLAT_H
#define HOWLONG_IRQLAT_H

/* Softirq vectors: the kernel's NR_SOFTIRQS, the same on every kernel of
 * the matrix (hi ... rcu). */
#define IRQLAT_VECTORS 10

/* IRQ numbers -I can name: a bitmap of this many in .rodata (8 KiB). */
#define IRQLAT_IRQ_MAX 65536

/*
 * A histogram's id, from bit 0 up:
 *   24 bits  hard IRQs: which action of the IRQ (a shared line has
 *            several handlers), as bits of its struct irqaction's
 *            address; 0 for softirqs
 *   20 bits  the IRQ number, or the softirq vector
 *    2 bits  what was timed: enum irqlat_kind
 *   18 bits  with -C, the CPU plus one; else 0
 */
#define IRQLAT_TAG_MASK ((1ULL << 24) - 1)
#define IRQLAT_NUM_SHIFT 24
#define IRQLAT_NUM_MASK ((1ULL << 20) - 1)
#define IRQLAT_KIND_SHIFT 44
#define IRQLAT_KIND_MASK 3ULL
#define IRQLAT_CPU_SHIFT 46

enum irqlat_kind {
	IRQLAT_HARD,		/* irq_handler_entry -> exit */
	IRQLAT_SOFT,		/* softirq_entry -> exit */
	IRQLAT_WAIT,		/* softirq_raise -> entry */
};

/*
 * Without -C, softirq histograms are dense (one array lookup a sample):
 * run times of vectors 0-9, then waits of vectors 0-9.
 */
#define IRQLAT_DENSE_IDS (2 * IRQLAT_VECTORS)

static inline __u32 irqlat_dense_id(enum irqlat_kind kind, __u32 vec)
{
	return (kind == IRQLAT_WAIT) * IRQLAT_VECTORS + vec;
}

/*
 * Without -C, hard IRQs numbered below IRQLAT_DENSE_IRQ_MAX that user
 * space found in /proc/interrupts at the start, IRQLAT_DENSE_IRQS at
 * most, have a dense histogram each, taken by the first handler that
 * runs on the line; another handler of a shared line, and any other
 * IRQ, goes to the keyed histograms.
 */
#define IRQLAT_DENSE_IRQ_MAX 1024
#define IRQLAT_DENSE_IRQS 64

/* Who has a dense IRQ histogram: its handler's tag, and its name. */
struct irqlat_owner {
	__u64 tag;		/* IRQLAT_OWNED | tag, or 0: nobody yet */
	char name[16];
};

#define IRQLAT_OWNED (1ULL << 63)

/* What one CPU is in the middle of: a per-CPU array's only entry. */
struct irqlat_cpu {
	__u64 hard_ts;		/* handler entered at, or 0 */
	__u64 hard_id;		/* its histogram id */
	__u64 hard_dense;	/* its IRQ's dense histogram plus one, or 0 */
	__u64 soft_ts;		/* softirq handler entered at, or 0 */
	/* per vector: its first raise while pending, or 0 */
	__u64 raised[IRQLAT_VECTORS];
	/* classic tracepoints: the action's name */
	char name[16];
};

#endif /* HOWLONG_IRQLAT_H */
