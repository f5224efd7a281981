// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * jvmpauselat: how long HotSpot stops the world.
 *
 * Every stop-the-world pause is a safepoint, begun and ended by the VM
 * thread: hs_private:safepoint__begin fires as it starts to stop the
 * Java threads, safepoint__end once it has let them go. A pause is timed
 * per VM thread from begin to end, which is the span the JVM's own
 * -Xlog:safepoint "Total" covers (reaching the safepoint, cleanup, the
 * operation).
 *
 * Labels cost two more marker hits inside the pause, so they are only
 * attached when asked for (--per-op, --threshold): the first
 * hotspot:vmops__begin in the pause names the VM operation (and marks
 * the safepoint as reached), hotspot:gc__begin(is_full) says whether it
 * collected, young or full. vmops__end and gc__end carry nothing needed.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/usdt.bpf.h>
#include "lib/hist.bpf.h"
#define EVENTS_RING_SIZE (1 << 18)
#include "lib/events.bpf.h"
#include "lib/kernel.bpf.h"
#include "lib/filter.bpf.h"
#include "lib/owner.bpf.h"
#include "lib/ustr.bpf.h"
#include "lib/tstore.bpf.h"
#include "jvmpauselat.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile bool per_op = false;
const volatile __u64 threshold_ns = 0;

struct pause {
	__u64 start_ns;
	__u64 op_hash;
	struct pause_event ev;
};

DEFINE_THREAD_STORAGE(pauses, struct pause, 1024);

/* --per-op: the name behind each key's hash, for user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct pause_op_name);
} op_names SEC(".maps");

static __always_inline struct pause *open_pause(void)
{
	struct pause *p = pauses_get(false);

	return p && p->start_ns ? p : NULL;
}

SEC("usdt")
int BPF_USDT(sp_begin)
{
	/* First: a VM thread's first pause allocates its storage. */
	__u64 now = bpf_ktime_get_ns();
	struct pause *p;

	if (!task_matches((struct task_struct___hl *)bpf_get_current_task()))
		return 0;
	p = pauses_get(true);
	if (!p) {
		lost_inc(LOST_START_FULL);
		return 0;
	}
	p->ev.reach_ns = 0;
	p->ev.gc = PAUSE_GC_NONE;
	p->ev.op.name[0] = '\0';
	p->op_hash = 0;
	p->start_ns = now;
	return 0;
}

/* Nested operations run inside the first one's pause: it names it. */
SEC("usdt")
int BPF_USDT(label_op, const char *name, long len)
{
	struct pause *p = open_pause();

	if (!p || p->ev.reach_ns)
		return 0;
	p->ev.reach_ns = bpf_ktime_get_ns();
	copy_name(p->ev.op.name, sizeof(p->ev.op.name), name, len);
	if (!per_op)
		return 0;
	/* Shifted: the gc kind goes below it in a key. */
	p->op_hash = str_hash(p->ev.op.name, PAUSE_OP_MAX) >>
		     PAUSE_KEY_GC_BITS;
	bpf_map_update_elem(&op_names, &p->op_hash, &p->ev.op, BPF_NOEXIST);
	return 0;
}

SEC("usdt")
int BPF_USDT(label_gc, long is_full)
{
	struct pause *p = open_pause();
	__u32 gc = is_full & 0xff ? PAUSE_GC_FULL : PAUSE_GC_YOUNG;

	if (p && gc > p->ev.gc)
		p->ev.gc = gc;
	return 0;
}

static __always_inline struct pause *close_pause(__u64 *d)
{
	struct pause *p = open_pause();

	if (!p)
		return NULL;
	*d = bpf_ktime_get_ns() - p->start_ns;
	if (p->ev.reach_ns)
		p->ev.reach_ns -= p->start_ns;
	p->start_ns = 0;
	return p;
}

SEC("usdt")
int BPF_USDT(sp_end_hist)
{
	struct pause *p;
	__u64 d;

	p = close_pause(&d);
	if (!p)
		return 0;
	hist_record_current(per_op ? p->op_hash << PAUSE_KEY_GC_BITS |
			    p->ev.gc : 0, d, per_op);
	return 0;
}

SEC("usdt")
int BPF_USDT(sp_end_ev)
{
	struct pause *p;
	__u64 d;

	p = close_pause(&d);
	if (!p || d < threshold_ns)
		return 0;
	p->ev.duration_ns = d;
	p->ev.pid = bpf_get_current_pid_tgid() >> 32;
	p->ev.tid = (__u32)bpf_get_current_pid_tgid();
	events_output(&p->ev, sizeof(p->ev));
	return 0;
}
