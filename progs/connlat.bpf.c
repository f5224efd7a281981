// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * connlat: how long active TCP connects take, from the socket's
 * SYN_SENT state (set in connect(), before the SYN is sent) to
 * ESTABLISHED (the SYN-ACK processed), from sock:inet_sock_set_state.
 * A connect that leaves SYN_SENT for CLOSE instead (reset, refused,
 * timed out, or the socket closed first) is timed as failed.
 *
 * The ESTABLISHED transition runs in softirq, in whichever task the
 * packet arrived in: who connected (the filters, -P/-L/--per-cgroup, the
 * event's process) is taken at SYN_SENT, in the connecting task, and kept
 * with the connect in a hash keyed by the socket's address until it
 * leaves SYN_SENT (every connect does: no entry outlives its socket).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "lib/hist.bpf.h"
#include "lib/events.bpf.h"
#include "lib/filter.bpf.h"
#include "lib/owner.bpf.h"
#include "lib/sock.bpf.h"
#include "connlat.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TCP_ESTABLISHED_ 1
#define TCP_SYN_SENT_ 2

const volatile bool per_remote = false;		/* -R */
const volatile bool send_events = false;	/* -M */
const volatile __u64 threshold_ns = 0;

struct start {
	__u64 ts;
	__u64 id;		/* the remote endpoint's (-R, -M), or 0 */
	__u64 owner;		/* -P, -L, --per-cgroup: the connecting task's */
	__u32 pid;
	__u32 tid;
	char comm[16];		/* the owner's name, or the thread's (-M) */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPCONN_INFLIGHT);
	__type(key, __u64);
	__type(value, struct start);
} inflight SEC(".maps");

/* In the connecting task: who, and to where (remote: its id). */
static __always_inline void syn_sent(__u64 sk, __u64 remote)
{
	struct task_struct___hl *t = (void *)bpf_get_current_task();
	struct start s = { .ts = bpf_ktime_get_ns() };
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	if (!task_matches(t))
		return;
	if (per_remote || send_events)
		s.id = remote;
	s.owner = owner_id(t);
	if (send_events)
		bpf_get_current_comm(s.comm, sizeof(s.comm));
	else if (owner_mode == HL_OWNER_PID || owner_mode == HL_OWNER_TID)
		bpf_probe_read_kernel_str(s.comm, sizeof(s.comm),
					  owner_comm(t));
	s.pid = pid_tgid >> 32;
	s.tid = (__u32)pid_tgid;
	if (bpf_map_update_elem(&inflight, &sk, &s, BPF_ANY))
		lost_inc(LOST_START_FULL);
}

static __always_inline void done(__u64 sk, bool ok)
{
	struct start *s = bpf_map_lookup_elem(&inflight, &sk);
	struct tcpconn_event e;
	__u64 d;

	if (!s)
		return;
	d = bpf_ktime_get_ns() - s->ts;
	if (!send_events) {
		hist_record_owned(s->id | (ok ? 0 : TCPCONN_FAILED_BIT),
				  s->owner, d, s->comm);
	} else if (d >= threshold_ns) {
		e.duration_ns = d;
		e.remote = s->id;
		e.pid = s->pid;
		e.tid = s->tid;
		e.failed = !ok;
		__builtin_memcpy(e.comm, s->comm, sizeof(e.comm));
		events_output(&e, sizeof(e));
	}
	bpf_map_delete_elem(&inflight, &sk);
}

/* tp_btf and raw_tp: the socket itself. */
static __always_inline int set_state(const struct sock___hl *sk, int old,
				     int new, bool btf)
{
	__u64 key = addr_bits((__u64)sk, btf, &inflight);

	if (new == TCP_SYN_SENT_) {
		if (sock_is_tcp(sk))
			syn_sent(key, per_remote || send_events ?
				 sock_id(sk, true) : 0);
	} else if (old == TCP_SYN_SENT_) {
		done(key, new == TCP_ESTABLISHED_);
	}
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(state_btf, const struct sock___hl *sk, int old, int new)
{
	return set_state(sk, old, new, true);
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(state_raw, const struct sock___hl *sk, int old, int new)
{
	return set_state(sk, old, new, false);
}

/* The classic tracepoint's record (the same from 4.16 to 6.18). */
struct trace_event_raw_inet_sock_set_state___hl {
	const void *skaddr;
	int oldstate;
	int newstate;
	__u16 dport;		/* host order */
	__u16 family;
	__u16 protocol;
	__u8 daddr[4];
	__u8 daddr_v6[16];
} __hl_core;

/* Fields read, not loaded: the verifier allows the record only constant
 * offsets, and clang computes some of these. */
SEC("tracepoint/sock/inet_sock_set_state")
int state_tp(struct trace_event_raw_inet_sock_set_state___hl *ctx)
{
	__u64 sk = (__u64)BPF_CORE_READ(ctx, skaddr), remote = 0;
	int old = BPF_CORE_READ(ctx, oldstate);
	int new = BPF_CORE_READ(ctx, newstate);
	__u8 a6[16];
	__be32 a4;

	if (new == TCP_SYN_SENT_) {
		if (BPF_CORE_READ(ctx, protocol) != HL_IPPROTO_TCP)
			return 0;
		if (per_remote || send_events) {
			BPF_CORE_READ_INTO(&a4, ctx, daddr);
			BPF_CORE_READ_INTO(&a6, ctx, daddr_v6);
			remote = sock_endpoint_id(BPF_CORE_READ(ctx, family),
						  a4, a6,
						  BPF_CORE_READ(ctx, dport));
		}
		syn_sent(sk, remote);
	} else if (old == TCP_SYN_SENT_) {
		done(sk, new == TCP_ESTABLISHED_);
	}
	return 0;
}
