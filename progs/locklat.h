/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* locklat: types shared by progs/locklat.bpf.c and tools/locklat.c. */
#ifndef HOWLONG_LOCKLAT_H
#define HOWLONG_LOCKLAT_H

/*
 * lock:contention_begin's flags (include/trace/events/lock.h, the same
 * from 5.19 to 6.18): the kind of lock waited for.
 */
#define LOCKLAT_F_SPIN		(1U << 0)
#define LOCKLAT_F_READ		(1U << 1)
#define LOCKLAT_F_WRITE		(1U << 2)
#define LOCKLAT_F_RT		(1U << 3)
#define LOCKLAT_F_PERCPU	(1U << 4)
#define LOCKLAT_F_MUTEX		(1U << 5)
#define LOCKLAT_F_MASK		0xffULL

/* The kinds with a dense histogram each (no -S, no owner): a flags
 * value's index plus one in the BPF side's dense_kind[], 0 for keyed. */
#define LOCKLAT_DENSE_KINDS	11

/*
 * A histogram's id: the kernel stack's id + 1 with -S (0: none) from bit
 * 8, the flags of the wait's first contention_begin below. The owner
 * (-P, -L, --per-cgroup) is the histogram key's own field.
 */
#define LOCKLAT_STACK_SHIFT	8
#define LOCKLAT_STACK_MASK	0xffffffULL

/* Kernel stacks kept for -S, and how deep each. */
#define LOCKLAT_STACKS		16384
#define LOCKLAT_STACK_DEPTH	32

/*
 * Waits a thread is in at once: a mutex's slow path contends on its
 * wait_lock, an interrupt handler on a spinlock while the thread it
 * interrupted was spinning on another.
 */
/* a wait inside 4 others is counted lost */
#define LOCKLAT_DEPTH	4

struct locklat_wait {
	__u64 lock;
	__u64 ts;
	__u32 flags;
	__u32 pad;
};

struct locklat_waits {
	struct locklat_wait w[LOCKLAT_DEPTH];
	__u32 depth;
	__u32 recording;	/* the end program runs for this thread */
};

#endif /* HOWLONG_LOCKLAT_H */
