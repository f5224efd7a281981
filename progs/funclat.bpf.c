// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * funclat: how long user-space functions take.
 *
 * A uprobe at each function's entry pushes a frame on the thread's
 * stack, a uretprobe at its return pops it: recursion nests naturally.
 * Each frame keeps the stack pointer at entry, which the return finds
 * again (less what the return popped: 8 bytes on x86-64, none on arm64).
 * Calls that never return normally (longjmp, C++ exceptions)
 * leave frames behind; a live caller's frame always sits above its
 * callee's, so at each entry the frames at or below the new one, and at
 * each return those below the returning one, are dead: dropped and
 * counted.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "lib/hist.bpf.h"
#include "lib/kernel.bpf.h"
#include "lib/filter.bpf.h"
#include "lib/owner.bpf.h"
#include "lib/counters.bpf.h"
#include "lib/tstore.bpf.h"
#include "funclat.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

DEFINE_THREAD_STORAGE(stacks, struct func_stack, 16384);

/* Before 5.15 a uprobe has no attach cookie to say which function it is
 * in: user space then maps the addresses the probes sit at instead. */
const volatile bool have_cookie = true;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FUNC_MAX);
	__type(key, __u64);
	__type(value, __u32);
} fn_of_ip SEC(".maps");

static __always_inline __u32 function_of(struct pt_regs *ctx)
{
	__u64 ip;
	__u32 *fn;

	if (have_cookie)
		return bpf_get_attach_cookie(ctx);
	ip = PT_REGS_IP(ctx);	/* a uprobe's handler sees the probe's */
	fn = bpf_map_lookup_elem(&fn_of_ip, &ip);
	return fn ? *fn : FUNC_MAX;
}

/* Drop the frames of calls that were left without returning: their
 * entry stack pointer is below sp (or at it, for a new call: entering). */
static __always_inline void unwind(struct func_stack *st, __u64 sp,
				   bool entering)
{
	for (int i = 0; i < FUNC_DEPTH; i++) {
		__u32 d = st->depth;
		__u64 top;

		if (!d || d > FUNC_DEPTH)
			return;
		top = st->f[(d - 1) & (FUNC_DEPTH - 1)].sp;
		if (top > sp || (top == sp && !entering))
			return;
		st->depth = d - 1;
		counter_inc(FUNC_CNT_UNWOUND);
	}
}

SEC("uprobe")
int func_entry(struct pt_regs *ctx)
{
	struct task_struct___hl *t = (void *)bpf_get_current_task();
	__u64 sp = PT_REGS_SP(ctx);
	struct func_stack *st;
	__u32 d, fn = function_of(ctx);
	struct func_frame *f;

	if (fn >= FUNC_MAX || !task_matches(t))
		return 0;
	st = stacks_get(true);
	if (!st) {
		lost_inc(LOST_START_FULL);
		return 0;
	}
	unwind(st, sp, true);
	d = st->depth++;
	if (d >= FUNC_DEPTH) {
		counter_inc(FUNC_CNT_DEEP);
		return 0;
	}
	f = &st->f[d & (FUNC_DEPTH - 1)];
	f->fn = fn;
	f->sp = sp;
	f->ts = bpf_ktime_get_ns();
	return 0;
}

/* A function's stack pointer at entry, as its return finds it: x86's ret
 * has popped the address the call pushed; arm64's bl keeps the address
 * in the link register and the stack pointer comes back as it was. */
#if defined(__TARGET_ARCH_x86)
#define SP_POPPED_AT_RETURN 8
#else
#define SP_POPPED_AT_RETURN 0
#endif

SEC("uretprobe")
int func_return(struct pt_regs *ctx)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 entry_sp = PT_REGS_SP(ctx) - SP_POPPED_AT_RETURN;
	struct func_stack *st;
	struct func_frame *f;
	__u32 d;

	st = stacks_get(false);
	if (!st || !st->depth)
		return 0;
	if (st->depth > FUNC_DEPTH) {
		st->depth--;
		return 0;
	}
	unwind(st, entry_sp, false);
	d = st->depth;
	if (!d)
		return 0;
	f = &st->f[(d - 1) & (FUNC_DEPTH - 1)];
	if (f->sp != entry_sp)	/* not ours: entered before we attached */
		return 0;
	st->depth = d - 1;
	hist_record_current(f->fn, now - f->ts, true);
	return 0;
}
