/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * TCP sockets on the BPF side (connlat, rttlat): the few struct sock
 * fields read, as CO-RE flavors, and an endpoint (address and port) as a
 * histogram id (lib/sock.h): an IPv4 one whole, an IPv6 one hashed, with
 * its address kept in the map sock_addrs for user space to name it.
 */
#ifndef HOWLONG_SOCK_BPF_H
#define HOWLONG_SOCK_BPF_H

#include "lib/kernel.bpf.h"
#include "lib/sock.h"

#define HL_AF_INET 2
#define HL_AF_INET6 10
#define HL_IPPROTO_TCP 6

struct sock_common___hl {
	unsigned short skc_family;
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
} __hl_core;

struct socket___hl;

struct sock___hl {
	struct sock_common___hl __sk_common;
	__u16 sk_protocol;
	struct socket___hl *sk_socket;	/* NULL once the file is closed */
} __hl_core;

struct inode___hl {
	unsigned long i_ino;
} __hl_core;

/* A struct socket is the first member of a struct socket_alloc, its
 * inode (the number /proc/PID/fd shows) follows; CO-RE finds where. */
struct socket_alloc___hl {
	struct inode___hl vfs_inode;
} __hl_core;

struct tcp_sock___hl {
	__u32 srtt_us;		/* smoothed RTT << 3, in microseconds */
} __hl_core;

/* Names of the IPv6 endpoints seen (IPv4 ones are their id). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct sock_addr6);
} sock_addrs SEC(".maps");

static __always_inline __u16 sock_ntohs(__u16 v)
{
	return __builtin_bswap16(v);
}

/* FNV-1a over the 16 bytes, folded to the id's width. */
static __always_inline __u64 sock_addr6_hash(const __u8 *a)
{
	__u64 h = 0xcbf29ce484222325ULL;

#pragma unroll
	for (int i = 0; i < 16; i++)
		h = (h ^ a[i]) * 0x100000001b3ULL;
	return (h ^ (h >> SOCK_ADDR_BITS)) & SOCK_ADDR_MASK;
}

/*
 * The id of an endpoint: family, address (network order) and port (host
 * order). An IPv6 address is remembered for user space the first time.
 */
static __always_inline __u64 sock_endpoint_id(__u16 family, __be32 addr4,
					      const __u8 *addr6, __u16 port)
{
	struct sock_addr6 name;
	__u64 id;

	if (family != HL_AF_INET6)
		return (__u64)addr4 << SOCK_ADDR_SHIFT | port;
	id = SOCK_V6_BIT | sock_addr6_hash(addr6) << SOCK_ADDR_SHIFT | port;
	if (!bpf_map_lookup_elem(&sock_addrs, &id)) {
		__builtin_memcpy(name.addr, addr6, sizeof(name.addr));
		bpf_map_update_elem(&sock_addrs, &id, &name, BPF_NOEXIST);
	}
	return id;
}

/* The remote (remote) or local endpoint of sk, read from the socket. */
static __always_inline __u64 sock_id(const struct sock___hl *sk, bool remote)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	struct in6_addr a6 = {};
	__be32 a4 = 0;
	__u16 port;

	if (remote)
		port = sock_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	else
		port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (family == HL_AF_INET6) {
		if (remote)
			BPF_CORE_READ_INTO(&a6, sk, __sk_common.skc_v6_daddr);
		else
			BPF_CORE_READ_INTO(&a6, sk,
					   __sk_common.skc_v6_rcv_saddr);
	} else if (remote) {
		a4 = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	} else {
		a4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
	}
	return sock_endpoint_id(family, a4, (const __u8 *)&a6, port);
}

/* The inode number of sk's socket file ("socket:[N]"), 0 if none. */
static __always_inline __u64 sock_inode(const struct sock___hl *sk)
{
	struct socket_alloc___hl *sa = (void *)BPF_CORE_READ(sk, sk_socket);

	return sa ? BPF_CORE_READ(sa, vfs_inode.i_ino) : 0;
}

static __always_inline bool sock_is_tcp(const struct sock___hl *sk)
{
	return BPF_CORE_READ(sk, sk_protocol) == HL_IPPROTO_TCP;
}

#endif /* HOWLONG_SOCK_BPF_H */
