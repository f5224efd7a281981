// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * syslat: how long system calls take, from raw_syscalls:sys_enter to
 * sys_exit on the same thread, one histogram per call (and per owner,
 * and per outcome with -e).
 *
 * Every system call of the machine passes through both hooks, and most
 * return on the CPU they entered on without leaving it: the enter side
 * filters first and writes the call into its CPU's slot, which the exit
 * side reads back when the slot is still its thread's. A thread that
 * leaves the CPU inside a call (it blocks, is preempted or migrated:
 * always through sched_switch) takes its call along into its own thread
 * storage, and every switch empties the slot, so a slot holding a
 * thread's id is that thread's call in progress. Thread storage is thus
 * paid per switch inside a call, not per call. exit and exit_group never
 * return: their start dies with the thread. Each hook exists for each
 * attach method; user space loads one set, chosen from what the kernel
 * has.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "lib/hist.bpf.h"
#include "lib/filter.bpf.h"
#include "lib/owner.bpf.h"
#include "lib/tstore.bpf.h"
#include "syslat.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile bool split_errors = false;	/* -e */
const volatile bool some_calls = false;		/* -s: only wanted[] */
const volatile __u8 wanted[SYSLAT_NR_MAX];

DEFINE_THREAD_STORAGE(calls, struct syslat_call, 65536);

/* The call in progress on this CPU, of the thread that is running. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct syslat_call);
} on_cpu SEC(".maps");

static __always_inline struct syslat_call *cpu_slot(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&on_cpu, &zero);
}

static __always_inline int enter(long nr)
{
	struct syslat_call *c;

	if ((unsigned long)nr >= SYSLAT_NR_MAX)
		return 0;
	if (some_calls && !wanted[nr])
		return 0;
	if (!current_matches())
		return 0;
	c = cpu_slot();
	if (!c)
		return 0;
	c->tid = (__u32)bpf_get_current_pid_tgid();
	c->nr = nr;
	c->ts = bpf_ktime_get_ns();
	return 0;
}

/*
 * The current thread leaves its CPU: its call, if any, goes with it;
 * not that of an exiting thread (exit, exit_group), which never returns
 * and would be found by a later thread of the same id.
 */
static __always_inline int leave_cpu(void)
{
	struct syslat_call *c = cpu_slot(), *t;
	struct task_struct___hl *task;

	if (!c || !c->ts)
		return 0;
	task = (void *)bpf_get_current_task();
	if (c->tid == (__u32)bpf_get_current_pid_tgid() &&
	    !(BPF_CORE_READ(task, flags) & HL_PF_EXITING)) {
		t = calls_get(true);
		if (t)
			*t = *c;
		else
			lost_inc(LOST_START_FULL);
	}
	c->ts = 0;
	return 0;
}

/* The current thread's call: from its CPU's slot, else its storage. */
static __always_inline struct syslat_call *own_call(void)
{
	struct syslat_call *c = cpu_slot();

	if (c && c->ts && c->tid == (__u32)bpf_get_current_pid_tgid())
		return c;
	c = calls_get(false);
	return c && c->ts ? c : NULL;
}

static __noinline int leave(long ret)
{
	struct task_struct___hl *t = owner_mode ?
		(void *)bpf_get_current_task() : NULL;
	struct syslat_call *c = own_call();
	__u64 now, id;

	if (!c)
		return 0;
	now = bpf_ktime_get_ns();
	id = c->nr & SYSLAT_NR_MASK;
	if (split_errors && ret < 0 && ret >= -4095)
		id |= SYSLAT_ERR_BIT;
	hist_record_task(t, id, now - c->ts, true);
	c->ts = 0;
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(enter_btf, struct pt_regs *regs, long id)
{
	return enter(id);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_btf, struct pt_regs *regs, long ret)
{
	return leave(ret);
}

SEC("raw_tp/sys_enter")
int BPF_PROG(enter_raw, struct pt_regs *regs, long id)
{
	return enter(id);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(exit_raw, struct pt_regs *regs, long ret)
{
	return leave(ret);
}

SEC("tracepoint/raw_syscalls/sys_enter")
int enter_tp(struct trace_event_raw_sys_enter *ctx)
{
	return enter(ctx->id);
}

SEC("tracepoint/raw_syscalls/sys_exit")
int exit_tp(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx->ret);
}

/* Who leaves the CPU is the current thread: no argument is read. */
SEC("tp_btf/sched_switch")
int BPF_PROG(switch_btf)
{
	return leave_cpu();
}

SEC("raw_tp/sched_switch")
int BPF_PROG(switch_raw)
{
	return leave_cpu();
}

SEC("tracepoint/sched/sched_switch")
int switch_tp(void *ctx)
{
	return leave_cpu();
}
