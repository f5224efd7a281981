/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * TCP endpoints as histogram ids (progs/lib/sock.h), named for reports:
 * the address as text and the port as a number.
 */
#ifndef HOWLONG_TOOLS_SOCK_H
#define HOWLONG_TOOLS_SOCK_H

#include <stddef.h>
#include <stdint.h>
#include <bpf/libbpf.h>
#include "lib/common.h"
#include "report.h"

/* The address of endpoint id as text in buf ("127.0.0.1", "::1"); an
 * IPv6 one from the BPF side's sock_addrs map ("ipv6:<hash>" if it is no
 * longer there). Returns buf. */
const char *hl_sock_addr(struct bpf_map *addrs, uint64_t id, char *buf,
			 size_t len);

/* Two labels: addr_name (the address) and port_name (the port); returns
 * 2. scratch holds the address text. */
int hl_sock_label(struct bpf_map *addrs, uint64_t id, const char *addr_name,
		  const char *port_name, struct hl_label *l, char *scratch,
		  size_t len);

/*
 * Makes map (a hash from inode number to a byte) hold the inode numbers
 * of the sockets that the processes f selects have open, as
 * /proc/PID/fd shows them ("socket:[N]"), and nothing else: process
 * f->tgid (-p), those whose main thread is named f->comm (--comm), those
 * in f's cgroup or below (-c; cgroup is its path below the cgroup2
 * mount). Returns how many, or -errno (-ESRCH: the -p process is gone,
 * -E2BIG: the map is full).
 */
int hl_sock_inodes_sync(struct bpf_map *map, const struct filter_cfg *f,
			const char *cgroup);

#endif /* HOWLONG_TOOLS_SOCK_H */
