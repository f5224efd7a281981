/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A TCP endpoint (address and port) as a histogram id, shared by
 * progs/lib/sock.bpf.h and tools/lib/sock.c:
 *
 *   bit 63       IPv6
 *   bit 62       free for the tool (connlat: the connect failed)
 *   bits 16..61  the IPv4 address (network order, as a number), or a
 *                46-bit hash of the IPv6 address (kept in sock_addrs)
 *   bits 0..15   the port
 */
#ifndef HOWLONG_SOCK_H
#define HOWLONG_SOCK_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SOCK_V6_BIT (1ULL << 63)
#define SOCK_TOOL_BIT (1ULL << 62)
#define SOCK_ADDR_SHIFT 16
#define SOCK_ADDR_BITS 46
#define SOCK_ADDR_MASK ((1ULL << SOCK_ADDR_BITS) - 1)
#define SOCK_PORT_MASK 0xffffULL

struct sock_addr6 {
	__u8 addr[16];
};

#endif /* HOWLONG_SOCK_H */
