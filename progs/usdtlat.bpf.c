// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * usdtlat: how long from one user-space marker to another.
 *
 * Any binary's START and END markers, given on the command line, are
 * paired either per thread (a stack, so nested pairs match innermost
 * first) or by an argument value both carry (--key, for pairs that cross
 * threads). START's clock is read after its arguments are copied and
 * END's before anything else, so the tool's own work stays outside the
 * interval. Starts that never end are expired by user space.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/usdt.bpf.h>
#include "lib/hist.bpf.h"
#define EVENTS_RING_SIZE (1 << 22)
#include "lib/events.bpf.h"
#include "lib/kernel.bpf.h"
#include "lib/filter.bpf.h"
#include "lib/owner.bpf.h"
#include "lib/counters.bpf.h"
#include "lib/ustr.bpf.h"
#include "usdtlat.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __s32 key_start_arg = -1;	/* --key */
const volatile __s32 key_end_arg = -1;
const volatile __s32 by_arg = -1;		/* --by */
const volatile bool by_str = false;
const volatile __u32 nshown = 0;		/* -a */
const volatile __s32 shown_arg[USDT_SHOWN] = {};
const volatile __u32 shown_str_mask = 0;
const volatile bool events_mode = false;	/* -t */
const volatile __u64 threshold_ns = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, __u32);			/* thread id */
	__type(value, struct usdt_stack);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u64);			/* the --key argument */
	__type(value, struct usdt_start);
} keyed SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct usdt_name);
} by_names SEC(".maps");

/* Too big for the BPF stack: a zeroed stack to insert, an event to fill. */
struct scratch {
	struct usdt_stack zero;
	struct usdt_event ev;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

static __always_inline struct scratch *get_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch, &zero);
}

static __always_inline void read_by(struct pt_regs *ctx, struct usdt_start *s)
{
	long v = 0;

	if (bpf_usdt_arg(ctx, by_arg, &v))
		v = 0;
	if (!by_str) {
		s->by = v;
		return;
	}
	if (bpf_probe_read_user_str(s->by_str, sizeof(s->by_str),
				    (const void *)v) < 0)
		s->by_str[0] = '\0';
	s->by = str_hash(s->by_str, USDT_STR_MAX);
	bpf_map_update_elem(&by_names, &s->by, s->by_str, BPF_NOEXIST);
}

static __always_inline void read_shown(struct pt_regs *ctx,
				       struct usdt_start *s)
{
	long v;

	for (__u32 i = 0; i < USDT_SHOWN; i++) {
		if (i >= nshown)
			break;
		if (bpf_usdt_arg(ctx, shown_arg[i], &v))
			v = 0;
		s->shown[i] = v;
		if (!(shown_str_mask & (1U << i)))
			continue;
		if (bpf_probe_read_user_str(s->str[i], sizeof(s->str[i]),
					    (const void *)v) < 0)
			s->str[i][0] = '\0';
	}
}

static __always_inline void fill_start(struct pt_regs *ctx,
				       struct usdt_start *s)
{
	__u64 id = bpf_get_current_pid_tgid();

	s->pid = id >> 32;
	s->tid = (__u32)id;
	if (by_arg >= 0)
		read_by(ctx, s);
	if (nshown)
		read_shown(ctx, s);
	s->ts = bpf_ktime_get_ns();
}

static __always_inline void finish(struct usdt_start *s, __u64 now)
{
	struct scratch *sc;
	__u64 d = now - s->ts;

	if (!events_mode) {
		hist_record_current(by_arg >= 0 ? s->by : 0, d, by_arg >= 0);
		return;
	}
	if (d < threshold_ns || !(sc = get_scratch()))
		return;
	sc->ev.duration_ns = d;
	sc->ev.end_tid = (__u32)bpf_get_current_pid_tgid();
	__builtin_memcpy(&sc->ev.start, s, sizeof(*s));
	events_output(&sc->ev, sizeof(sc->ev));
}

static __always_inline bool traced(void)
{
	return task_matches((struct task_struct___hl *)bpf_get_current_task());
}

SEC("usdt")
int BPF_USDT(start_thread)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), d;
	struct usdt_stack *st;
	struct scratch *sc;

	if (!traced())
		return 0;
	st = bpf_map_lookup_elem(&stacks, &tid);
	if (!st) {
		sc = get_scratch();
		if (!sc || bpf_map_update_elem(&stacks, &tid, &sc->zero,
					       BPF_NOEXIST))
			goto lost;
		st = bpf_map_lookup_elem(&stacks, &tid);
		if (!st)
			goto lost;
	}
	d = st->depth;
	if (d >= USDT_DEPTH)
		goto lost;
	fill_start(ctx, &st->s[d & (USDT_DEPTH - 1)]);
	st->depth = d + 1;
	return 0;
lost:
	lost_inc(LOST_START_FULL);
	return 0;
}

SEC("usdt")
int BPF_USDT(end_thread)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), d;
	struct usdt_stack *st = bpf_map_lookup_elem(&stacks, &tid);

	if (!st || !st->depth) {
		if (traced())
			counter_inc(USDT_CNT_UNMATCHED);
		return 0;
	}
	d = st->depth - 1;
	st->depth = d;
	finish(&st->s[d & (USDT_DEPTH - 1)], now);
	return 0;
}

SEC("usdt")
int BPF_USDT(start_key)
{
	struct scratch *sc;
	long key;

	if (!traced() || bpf_usdt_arg(ctx, key_start_arg, &key))
		return 0;
	sc = get_scratch();
	if (!sc)
		return 0;
	fill_start(ctx, &sc->ev.start);
	/* An open START with the same key never ended: replace it. */
	if (!bpf_map_update_elem(&keyed, &key, &sc->ev.start, BPF_NOEXIST))
		return 0;
	lost_inc(LOST_START_FULL);
	bpf_map_update_elem(&keyed, &key, &sc->ev.start, BPF_EXIST);
	return 0;
}

SEC("usdt")
int BPF_USDT(end_key)
{
	__u64 now = bpf_ktime_get_ns();
	struct usdt_start *s;
	long key;

	if (bpf_usdt_arg(ctx, key_end_arg, &key))
		return 0;
	s = bpf_map_lookup_elem(&keyed, &key);
	if (!s) {
		counter_inc(USDT_CNT_UNMATCHED);
		return 0;
	}
	finish(s, now);
	bpf_map_delete_elem(&keyed, &key);
	return 0;
}
