// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * schedlat: run-queue latency, from the moment a task is queued runnable
 * (woken, new, or preempted) until it gets the CPU.
 *
 * Default: stamp wakeups and preemptions with the BPF clock and match
 * them at the switch in, on whatever CPU that is.
 *
 * --run-delay (rodata run_delay; the wakeup programs are not loaded): the
 * kernel already stamps every enqueue in task->sched_info.last_queued with
 * the run-queue clock and, right after the sched_switch tracepoint, adds
 * rq->clock - last_queued to the task's run_delay (/proc/PID/schedstat).
 * Reading the same two numbers at that tracepoint gives exactly the
 * kernel's own figure with one hook and no clock call. But that figure is
 * biased: a wakeup that preempts skips the next clock update (the wait
 * reads as 0), and a task that migrates while queued is timed from its
 * last enqueue only.
 *
 * Each hook has an entry point per attach method (tp_btf, raw_tp, classic
 * tracepoint); user space loads the set of the method it chose. The branch
 * of the algorithm not taken is dead code to the verifier.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "lib/hist.bpf.h"
#include "lib/filter.bpf.h"
#include "lib/owner.bpf.h"
#include "lib/tstore.bpf.h"
#include "schedlat.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Timestamps for the fallback: task storage with tp_btf where the kernel
 * has it (5.11), else a hash by thread id; user space creates one. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} start_task SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SCHEDLAT_START_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} start_tid SEC(".maps");

static __always_inline void record(struct task_struct___hl *t, __u64 delta)
{
	hist_record_task(t, 0, delta, false);
}

/* One out-of-line copy shared by all nine programs keeps the object
 * small; the call costs a few nanoseconds. */
static __noinline int measure(struct task_struct___hl *t, __u64 delta)
{
	if (task_matches(t))
		record(t, delta);
	return 0;
}

/* --run-delay: read the kernel's accounting (the wakeup programs are not
 * loaded, and the switch programs take this branch alone). */
const volatile bool run_delay = false;

/* ---- sched_info algorithm ---- */

/*
 * rq->clock is what the kernel subtracts last_queued from; it was updated
 * at the start of __schedule() and not since. next sits on this CPU, so its
 * cfs_rq leads to this CPU's rq.
 */
static __always_inline int switch_si_btf(struct task_struct___hl *next)
{
	__u64 queued = next->sched_info.last_queued;

	if (!queued)
		return 0;
	return measure(next, next->se.cfs_rq->rq->clock - queued);
}

static __always_inline int switch_si_probed(struct task_struct___hl *next)
{
	__u64 queued = BPF_CORE_READ(next, sched_info.last_queued);

	if (!queued)
		return 0;
	return measure(next, BPF_CORE_READ(next, se.cfs_rq, rq, clock) -
			     queued);
}

/*
 * Classic tracepoints pass pids, not tasks. current is still prev, and
 * rq->curr already points to next (__schedule sets it before the
 * tracepoint); the pid check guards that assumption.
 */
static __always_inline struct task_struct___hl *next_task(__u32 next_pid)
{
	struct task_struct___hl *prev = (struct task_struct___hl *)bpf_get_current_task();
	struct task_struct___hl *next = BPF_CORE_READ(prev, se.cfs_rq, rq, curr);

	if (BPF_CORE_READ(next, pid) != next_pid) {
		lost_inc(LOST_NO_TASK);
		return NULL;
	}
	return next;
}

static __always_inline int switch_si_tp(struct trace_event_raw_sched_switch *ctx)
{
	struct task_struct___hl *next;

	if (!ctx->next_pid)
		return 0;
	next = next_task(ctx->next_pid);
	return next ? switch_si_probed(next) : 0;
}

/* ---- timestamp fallback ---- */

/* prev_state as the classic tracepoint reports it: 0 or only the
 * preempted bit (TASK_REPORT_MAX, 0x100) means still runnable. */
#define CLASSIC_STATE_MASK 0xff

static __always_inline void stamp_tid(__u32 tid, __u64 now)
{
	if (tid && bpf_map_update_elem(&start_tid, &tid, &now, BPF_ANY))
		lost_inc(LOST_START_FULL);
}

static __always_inline int end_tid(struct task_struct___hl *next, __u32 tid,
				   __u64 now)
{
	__u64 *ts = bpf_map_lookup_elem(&start_tid, &tid);
	__u64 start;

	if (!ts)
		return 0;
	start = *ts;
	bpf_map_delete_elem(&start_tid, &tid);
	return measure(next, now - start);
}

static __always_inline void stamp_task(struct task_struct___hl *t, __u64 now)
{
	__u64 *ts = bpf_task_storage_get(&start_task, (void *)t, NULL,
					 BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (ts)
		*ts = now;
	else
		lost_inc(LOST_START_FULL);
}

static __always_inline void stamp_btf(struct task_struct___hl *t, __u64 now)
{
	if (have_task_storage)
		stamp_task(t, now);
	else
		stamp_tid(t->pid, now);
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(wakeup_btf, struct task_struct___hl *p)
{
	stamp_btf(p, bpf_ktime_get_ns());
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(wakeup_new_btf, struct task_struct___hl *p)
{
	stamp_btf(p, bpf_ktime_get_ns());
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(switch_btf, bool preempt, struct task_struct___hl *prev,
	     struct task_struct___hl *next)
{
	__u64 now, start, *ts;

	if (run_delay)
		return switch_si_btf(next);
	now = bpf_ktime_get_ns();

	if ((preempt || btf_task_runnable(prev)) && prev->pid)
		stamp_btf(prev, now);
	if (!have_task_storage)
		return end_tid(next, next->pid, now);
	ts = bpf_task_storage_get(&start_task, (void *)next, NULL, 0);
	if (!ts || !*ts)
		return 0;
	start = *ts;
	*ts = 0;
	return measure(next, now - start);
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(wakeup_raw, struct task_struct___hl *p)
{
	stamp_tid(BPF_CORE_READ(p, pid), bpf_ktime_get_ns());
	return 0;
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(wakeup_new_raw, struct task_struct___hl *p)
{
	stamp_tid(BPF_CORE_READ(p, pid), bpf_ktime_get_ns());
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(switch_raw, bool preempt, struct task_struct___hl *prev,
	     struct task_struct___hl *next)
{
	__u64 now;

	if (run_delay)
		return switch_si_probed(next);
	now = bpf_ktime_get_ns();

	if (preempt || task_runnable(prev))
		stamp_tid(BPF_CORE_READ(prev, pid), now);
	return end_tid(next, BPF_CORE_READ(next, pid), now);
}

SEC("tracepoint/sched/sched_wakeup")
int wakeup_tp(struct trace_event_raw_sched_wakeup_template *ctx)
{
	stamp_tid(ctx->pid, bpf_ktime_get_ns());
	return 0;
}

SEC("tracepoint/sched/sched_wakeup_new")
int wakeup_new_tp(struct trace_event_raw_sched_wakeup_template *ctx)
{
	stamp_tid(ctx->pid, bpf_ktime_get_ns());
	return 0;
}

SEC("tracepoint/sched/sched_switch")
int switch_tp(struct trace_event_raw_sched_switch *ctx)
{
	__u32 tid = ctx->next_pid;
	struct task_struct___hl *next;
	__u64 now;

	if (run_delay)
		return switch_si_tp(ctx);
	now = bpf_ktime_get_ns();

	if (!(ctx->prev_state & CLASSIC_STATE_MASK))
		stamp_tid(ctx->prev_pid, now);
	if (!tid || !bpf_map_lookup_elem(&start_tid, &tid))
		return 0;
	next = next_task(tid);
	if (!next) {
		bpf_map_delete_elem(&start_tid, &tid);
		return 0;
	}
	return end_tid(next, tid, now);
}
