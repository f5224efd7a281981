// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>
#include "lib/sock.h"
#include "sock.h"

const char *hl_sock_addr(struct bpf_map *addrs, uint64_t id, char *buf,
			 size_t len)
{
	struct sock_addr6 a6;
	uint32_t a4;
	__u64 key = id & ~SOCK_TOOL_BIT;

	if (!(id & SOCK_V6_BIT)) {
		/* the address's bytes in network order, as the kernel's */
		a4 = (uint32_t)(id >> SOCK_ADDR_SHIFT);
		if (!inet_ntop(AF_INET, &a4, buf, len))
			snprintf(buf, len, "?");
		return buf;
	}
	if (addrs && !bpf_map_lookup_elem(bpf_map__fd(addrs), &key, &a6) &&
	    inet_ntop(AF_INET6, a6.addr, buf, len))
		return buf;
	snprintf(buf, len, "ipv6:%012llx", (unsigned long long)
		 (id >> SOCK_ADDR_SHIFT & SOCK_ADDR_MASK));
	return buf;
}

int hl_sock_label(struct bpf_map *addrs, uint64_t id, const char *addr_name,
		  const char *port_name, struct hl_label *l, char *scratch,
		  size_t len)
{
	l[0].name = addr_name;
	l[0].str = hl_sock_addr(addrs, id, scratch, len);
	l[1].name = port_name;
	l[1].str = NULL;
	l[1].num = id & SOCK_PORT_MASK;
	return 2;
}
