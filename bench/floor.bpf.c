// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The floor for bench/schedlat.py, syslat.py, biolat.py, irqlat.py and
 * connlat.py:
 * locklat.py:
 * empty tp_btf programs on every tracepoint those tools or their peers
 * attach to. What one of these costs per run is the price of the hook
 * itself (trampoline, plus bpf_stats' own clock reads when
 * kernel.bpf_stats_enabled=1); a tool's cost above it is what its
 * program body adds.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/sched_switch")
int BPF_PROG(floor_switch) { return 0; }

SEC("tp_btf/sched_wakeup")
int BPF_PROG(floor_wakeup) { return 0; }

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(floor_wakeup_new) { return 0; }

SEC("tp_btf/sys_enter")
int BPF_PROG(floor_sys_enter) { return 0; }

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_sys_exit) { return 0; }

/* bench/biolat.py: the block request tracepoints biolat and biolatency use */
SEC("tp_btf/block_rq_insert")
int BPF_PROG(floor_rq_insert) { return 0; }

SEC("tp_btf/block_rq_issue")
int BPF_PROG(floor_rq_issue) { return 0; }

SEC("tp_btf/block_rq_complete")
int BPF_PROG(floor_rq_complete) { return 0; }

/* bench/irqlat.py: the interrupt tracepoints irqlat, hardirqs and
 * softirqs use */
SEC("tp_btf/irq_handler_entry")
int BPF_PROG(floor_irq_entry) { return 0; }

SEC("tp_btf/irq_handler_exit")
int BPF_PROG(floor_irq_exit) { return 0; }

SEC("tp_btf/softirq_entry")
int BPF_PROG(floor_soft_entry) { return 0; }

SEC("tp_btf/softirq_exit")
int BPF_PROG(floor_soft_exit) { return 0; }

/* bench/irqlat.py's "clock" rows: the least any latency tool does, a
 * clock read at both ends, stored where the other end finds it. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} clock_seen SEC(".maps");

static __always_inline int read_clock(void)
{
	__u32 zero = 0;
	__u64 *t = bpf_map_lookup_elem(&clock_seen, &zero);

	if (t)
		*t = bpf_ktime_get_ns() - *t;
	return 0;
}

SEC("tp_btf/irq_handler_entry")
int BPF_PROG(clock_irq_entry) { return read_clock(); }

SEC("tp_btf/irq_handler_exit")
int BPF_PROG(clock_irq_exit) { return read_clock(); }

SEC("tp_btf/softirq_entry")
int BPF_PROG(clock_soft_entry) { return read_clock(); }

SEC("tp_btf/softirq_exit")
int BPF_PROG(clock_soft_exit) { return read_clock(); }

/* bench/connlat.py: the TCP tracepoints connlat and rttlat use */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(floor_sock_state) { return 0; }

SEC("tp_btf/tcp_probe")
int BPF_PROG(floor_tcp_probe) { return 0; }
/* bench/locklat.py: the lock contention tracepoints (Linux 5.19) */
SEC("tp_btf/contention_begin")
int BPF_PROG(floor_lock_begin) { return 0; }

SEC("tp_btf/contention_end")
int BPF_PROG(floor_lock_end) { return 0; }
