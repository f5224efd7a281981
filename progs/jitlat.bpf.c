// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * jitlat: how long HotSpot spends JIT-compiling methods.
 *
 * hotspot:method__compile__begin and method__compile__end fire on the
 * compiler thread around each compile task, with the compiler, class,
 * method and signature as (pointer, length) pairs; end adds success.
 * A compile is timed per thread from begin to end. "_hist" programs only
 * fill the histogram; "_ev" programs also copy the names and send each
 * finished compile to user space (--threshold, --top).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/usdt.bpf.h>
#include "lib/hist.bpf.h"
#include "lib/events.bpf.h"
#include "lib/kernel.bpf.h"
#include "lib/filter.bpf.h"
#include "lib/owner.bpf.h"
#include "lib/counters.bpf.h"
#include "lib/tstore.bpf.h"
#include "lib/ustr.bpf.h"
#include "jitlat.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 key_mode = JIT_KEY_NONE;
const volatile __u64 threshold_ns = 0;

struct compile {
	__u64 start_ns;
	struct jit_event ev;
};

DEFINE_THREAD_STORAGE(compiles, struct compile, 4096);

static __always_inline __u32 compiler_of(const char *name, long len)
{
	char c[2] = {};

	if (len != 2 || bpf_probe_read_user(c, sizeof(c), name))
		return JIT_OTHER;
	if (c[0] == 'C' && c[1] == '1')
		return JIT_C1;
	return c[0] == 'C' && c[1] == '2' ? JIT_C2 : JIT_OTHER;
}

static __always_inline struct compile *begin(const char *comp, long comp_len)
{
	struct compile *c;

	if (!task_matches((struct task_struct___hl *)bpf_get_current_task()))
		return NULL;
	c = compiles_get(true);
	if (!c)
		return NULL;
	c->ev.compiler = compiler_of(comp, comp_len);
	c->start_ns = bpf_ktime_get_ns();
	return c;
}

static __always_inline void end(long success, bool send)
{
	struct compile *c = compiles_get(false);
	__u64 d;

	if (!c || !c->start_ns)
		return;
	d = bpf_ktime_get_ns() - c->start_ns;
	c->start_ns = 0;
	c->ev.success = !!success;
	if (!success)
		counter_inc(JIT_CNT_FAILED);
	if (!send) {
		hist_record_current(key_mode == JIT_KEY_COMPILER ?
				    c->ev.compiler : 0, d,
				    key_mode == JIT_KEY_COMPILER);
		return;
	}
	if (d < threshold_ns)
		return;
	c->ev.duration_ns = d;
	c->ev.pid = bpf_get_current_pid_tgid() >> 32;
	c->ev.tid = (__u32)bpf_get_current_pid_tgid();
	events_output(&c->ev, sizeof(c->ev));
}

SEC("usdt")
int BPF_USDT(begin_hist, const char *comp, long comp_len)
{
	begin(comp, comp_len);
	return 0;
}

SEC("usdt")
int BPF_USDT(begin_ev, const char *comp, long comp_len, const char *klass,
	     long klass_len, const char *method, long method_len,
	     const char *sig, long sig_len)
{
	struct compile *c = begin(comp, comp_len);

	if (!c)
		return 0;
	copy_name(c->ev.klass, sizeof(c->ev.klass), klass, klass_len);
	copy_name(c->ev.method, sizeof(c->ev.method), method, method_len);
	copy_name(c->ev.sig, sizeof(c->ev.sig), sig, sig_len);
	return 0;
}

/* end's 9th argument, success; BPF_USDT would read all nine. */
static __always_inline long success_of(struct pt_regs *ctx)
{
	long ok = 0;

	bpf_usdt_arg(ctx, 8, &ok);
	return ok;
}

SEC("usdt")
int BPF_USDT(end_hist)
{
	end(success_of(ctx), false);
	return 0;
}

SEC("usdt")
int BPF_USDT(end_ev)
{
	end(success_of(ctx), true);
	return 0;
}
