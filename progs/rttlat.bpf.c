// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * rttlat: the smoothed round-trip time of TCP connections, sampled at
 * tcp:tcp_probe, which fires for each segment an established socket
 * receives (at the start of tcp_rcv_established(): the value before that
 * segment's acknowledgement is taken into account).
 *
 * The kernel keeps srtt_us as eight times the smoothed RTT in
 * microseconds; the classic tracepoint's srtt field is that value
 * shifted back (every kernel since 4.16), tp_btf and raw_tp read the
 * socket itself. A socket with no RTT measured yet (0) is not counted.
 * tcp_probe runs in softirq, in whichever task the segment arrived in,
 * so -p, -c and --comm cannot ask the current task: they name the
 * sockets to count by their inode numbers, which user space reads from
 * /proc/PID/fd of the processes they select (at the start and every
 * second) into the map owned.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "lib/hist.bpf.h"
#include "lib/sock.bpf.h"
#include "rttlat.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 key_mode = RTTLAT_KEY_NONE;
const volatile bool by_owner = false;		/* -p, -c, --comm */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RTTLAT_OWNED_MAX);
	__type(key, __u64);	/* inode number */
	__type(value, __u8);
} owned SEC(".maps");

static __always_inline void record(__u32 srtt_us, __u64 id)
{
	if (!srtt_us)
		return;
	if (key_mode == RTTLAT_KEY_NONE)
		hist_record(srtt_us * 1000ULL);
	else
		hist_record_keyed(id, srtt_us * 1000ULL, "");
}

static __always_inline int probe(const struct sock___hl *sk)
{
	const struct tcp_sock___hl *tp = (const void *)sk;
	__u32 srtt = BPF_CORE_READ(tp, srtt_us) >> 3;
	__u64 id = 0, ino;

	if (by_owner) {
		ino = sock_inode(sk);
		if (!bpf_map_lookup_elem(&owned, &ino))
			return 0;
	}
	if (srtt && key_mode != RTTLAT_KEY_NONE)
		id = sock_id(sk, key_mode == RTTLAT_KEY_REMOTE);
	record(srtt, id);
	return 0;
}

SEC("tp_btf/tcp_probe")
int BPF_PROG(probe_btf, const struct sock___hl *sk)
{
	return probe(sk);
}

SEC("raw_tp/tcp_probe")
int BPF_PROG(probe_raw, const struct sock___hl *sk)
{
	return probe(sk);
}

/*
 * The classic record (not with -p: Debian's 6.1 and 5.10 have no skaddr
 * in it, 6.12 has): saddr and daddr hold a struct sockaddr_in or
 * sockaddr_in6 (family, port in network order, address); the fields
 * around them moved over time (family came after 5.10, skaddr and
 * skbaddr after 6.1), which CO-RE follows.
 */
struct trace_event_raw_tcp_probe___hl {
	__u8 saddr[28];
	__u8 daddr[28];
	__u32 srtt;
} __hl_core;

SEC("tracepoint/tcp/tcp_probe")
int probe_tp(struct trace_event_raw_tcp_probe___hl *ctx)
{
	__u32 srtt = BPF_CORE_READ(ctx, srtt);
	__u8 sa[28];
	__u64 id = 0;
	__u16 family, port;
	__be32 a4;

	/* read, not loaded: the verifier allows the record only constant
	 * offsets */
	if (srtt && key_mode != RTTLAT_KEY_NONE) {
		if (key_mode == RTTLAT_KEY_REMOTE)
			BPF_CORE_READ_INTO(&sa, ctx, daddr);
		else
			BPF_CORE_READ_INTO(&sa, ctx, saddr);
		__builtin_memcpy(&family, sa, 2);
		__builtin_memcpy(&port, sa + 2, 2);
		__builtin_memcpy(&a4, sa + 4, 4);
		id = sock_endpoint_id(family, a4, sa + 8, sock_ntohs(port));
	}
	record(srtt, id);
	return 0;
}
