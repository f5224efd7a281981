/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A tool's own per-interval counts (pgquerylat's errors, jitlat's failed
 * compilations), read by user space with hl_percpu_sum(). Atomic: the
 * sleepable programs that may bump them can be preempted mid-update.
 */
#ifndef HOWLONG_COUNTERS_BPF_H
#define HOWLONG_COUNTERS_BPF_H

#define HL_COUNTERS 8

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HL_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void counter_inc(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &which);

	if (c)
		__sync_fetch_and_add(c, 1);
}

#endif /* HOWLONG_COUNTERS_BPF_H */
