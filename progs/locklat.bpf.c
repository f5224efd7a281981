// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * locklat: how long tasks wait for kernel locks, from lock:contention_begin
 * to lock:contention_end on the same thread (Linux 5.19), one histogram
 * per kind of lock (and per caller with -S, per owner with -P, -L,
 * --per-cgroup).
 *
 * A wait can begin inside another: a mutex's slow path spins on the
 * mutex (begin, flags MUTEX|SPIN), contends on its wait_lock (a
 * spinlock's begin and end), then sleeps (begin again, MUTEX) until its
 * end; an interrupt handler can contend on a spinlock while the thread it
 * interrupted spins on another. So a thread keeps a small stack of waits
 * by lock: a begin on a lock already waited for continues that wait (as
 * perf lock does: one wait, timed from its first begin, of its first
 * kind), a begin on another lock is a wait of its own, and an end closes
 * the wait on its lock. A wait deeper than LOCKLAT_DEPTH is counted lost;
 * an end without a begin (a wait begun before the start) is ignored, and
 * so is a lock contended inside our own end program, whose end would not
 * run it again (counted lost).
 * The end programs come first in this file, so that the skeleton attaches
 * them first: every begin seen then has its end seen.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "lib/hist.bpf.h"
#include "lib/filter.bpf.h"
#include "lib/owner.bpf.h"
#include "lib/tstore.bpf.h"
#include "locklat.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile bool by_stack = false;	/* -S */
/* flags -> dense histogram + 1, or 0: keyed (user space fills it) */
const volatile __u8 dense_kind[LOCKLAT_F_MASK + 1];

DEFINE_THREAD_STORAGE(waits, struct locklat_waits, 65536);

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 1);		/* LOCKLAT_STACKS with -S */
	__type(key, __u32);
	__uint(value_size, LOCKLAT_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

static __always_inline int begin(__u64 lock, __u32 flags)
{
	struct locklat_waits *s;
	__u32 d;

	if (!current_matches())
		return 0;
	/* Kept by thread id (no task storage in scheduler code before
	 * 6.4), the idle tasks of all CPUs would share id 0: an interrupt's
	 * wait while a CPU idles cannot be kept. */
	if (!have_task_storage && !(__u32)bpf_get_current_pid_tgid()) {
		lost_inc(LOST_START_FULL);
		return 0;
	}
	s = waits_get(true);
	if (!s) {
		lost_inc(LOST_START_FULL);
		return 0;
	}
	/* A lock contended inside our own end program (a map's bucket
	 * lock, or an interrupt's): its end would not run our end program
	 * again, which is still running; so it is not timed, and counted
	 * lost. (A begin the kernel does not run because this program
	 * already runs on the CPU is counted by the kernel: user space adds
	 * those recursion misses to the lost.) */
	if (s->recording) {
		lost_inc(LOST_START_FULL);
		return 0;
	}
	d = s->depth;
	for (int i = 0; i < LOCKLAT_DEPTH; i++)
		if (i < d && s->w[i].lock == lock)
			return 0;	/* the same wait goes on */
	if (d >= LOCKLAT_DEPTH) {
		lost_inc(LOST_START_FULL);
		return 0;
	}
	s->w[d].lock = lock;
	s->w[d].flags = flags;
	s->w[d].ts = bpf_ktime_get_ns();
	s->depth = d + 1;
	return 0;
}

static __noinline int end(void *ctx, __u64 lock)
{
	struct locklat_waits *s = waits_get(false);
	__u32 d, i = LOCKLAT_DEPTH;
	__u64 now, id;
	long sid;

	if (!s || !s->depth)
		return 0;
	now = bpf_ktime_get_ns();
	/* from here on, a wait begun on this thread (an interrupt's) would
	 * end while this program runs, and not run it: see begin() */
	s->recording = 1;
	d = s->depth;
	/* the innermost wait on this lock: nearly always the last */
	for (int j = 0; j < LOCKLAT_DEPTH; j++)
		if (j < d && s->w[j].lock == lock)
			i = j;
	if (i >= LOCKLAT_DEPTH)
		goto out;
	id = s->w[i].flags & LOCKLAT_F_MASK;
	/* a mutex spins first: the same kind of wait either way */
	if (id & LOCKLAT_F_MUTEX)
		id &= ~(__u64)LOCKLAT_F_SPIN;
	if (dense_kind[id]) {
		hist_record_dense(dense_kind[id] - 1, now - s->w[i].ts);
		goto done;
	}
	if (by_stack) {
		sid = bpf_get_stackid(ctx, &stacks, 0);
		if (sid >= 0)
			id |= (__u64)(sid + 1) << LOCKLAT_STACK_SHIFT;
	}
	hist_record_current(id, now - s->w[i].ts, true);
done:
	/* out of order (rare): the waits above move down one */
	for (int j = 0; j + 1 < LOCKLAT_DEPTH; j++)
		if (j >= i && j + 1 < d)
			s->w[j] = s->w[j + 1];
	s->depth = d - 1;
out:
	s->recording = 0;
	return 0;
}

SEC("tp_btf/contention_end")
int BPF_PROG(end_btf, void *lock, int ret)
{
	/* a void * argument is a number to the verifier */
	return end(ctx, (__u64)lock);
}

SEC("raw_tp/contention_end")
int BPF_PROG(end_raw, void *lock, int ret)
{
	return end(ctx, (__u64)lock);
}

SEC("tp_btf/contention_begin")
int BPF_PROG(begin_btf, void *lock, unsigned int flags)
{
	return begin((__u64)lock, flags);
}

SEC("raw_tp/contention_begin")
int BPF_PROG(begin_raw, void *lock, unsigned int flags)
{
	return begin((__u64)lock, flags);
}
