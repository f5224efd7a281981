// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * syslat: how long system calls take, from raw_syscalls:sys_enter to
 * sys_exit on the same thread, one histogram per call (and per owner,
 * and per outcome with -e).
 *
 * Every system call of the machine passes through both hooks: the enter
 * side filters first and stores two words; the exit side does nothing
 * for a thread that stored none. exit and exit_group never return: their
 * start dies with the thread. Each hook exists for each attach method;
 * user space loads one set, chosen from what the kernel has.
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

static __always_inline int enter(long nr)
{
	struct syslat_call *c;

	if ((unsigned long)nr >= SYSLAT_NR_MAX)
		return 0;
	if (some_calls && !wanted[nr])
		return 0;
	if (!task_matches((void *)bpf_get_current_task()))
		return 0;
	c = calls_get(true);
	if (!c) {
		lost_inc(LOST_START_FULL);
		return 0;
	}
	c->nr = nr;
	c->ts = bpf_ktime_get_ns();
	return 0;
}

static __noinline int leave(long ret)
{
	struct task_struct___hl *t = (void *)bpf_get_current_task();
	struct syslat_call *c = calls_get(false);
	__u64 now, id;

	if (!c || !c->ts)
		return 0;
	now = bpf_ktime_get_ns();
	id = c->nr & SYSLAT_NR_MASK;
	if (split_errors && ret < 0 && ret >= -4095)
		id |= SYSLAT_ERR_BIT;
	id |= owner_id(t) << SYSLAT_OWNER_SHIFT;
	hist_record_keyed(id, now - c->ts, owner_comm(t));
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
