// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The socket inodes of pid, sorted, malloc'ed in *out; how many, or
 * -errno. */
static int socket_inodes(int pid, uint64_t **out)
{
	char path[64], link[64];
	uint64_t *v = NULL, *grown;
	size_t n = 0, cap = 0;
	unsigned long long ino;
	struct dirent *d;
	DIR *dir;
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		len = readlinkat(dirfd(dir), d->d_name, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (sscanf(link, "socket:[%llu]", &ino) != 1)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			grown = realloc(v, cap * sizeof(*v));
			if (!grown) {
				free(v);
				closedir(dir);
				return -ENOMEM;
			}
			v = grown;
		}
		v[n++] = ino;
	}
	closedir(dir);
	qsort(v, n, sizeof(*v), cmp_u64);
	*out = v;
	return n;
}

int hl_sock_inodes_sync(struct bpf_map *map, int pid)
{
	int fd = bpf_map__fd(map), n;
	uint64_t *inodes = NULL;
	__u64 key, next, *prev = NULL;
	__u8 one = 1;

	n = socket_inodes(pid, &inodes);
	if (n < 0)
		return n;
	/* those it no longer holds first: their numbers may come back */
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (!bsearch(&key, inodes, n, sizeof(*inodes), cmp_u64))
			bpf_map_delete_elem(fd, &key);
	}
	for (int i = 0; i < n; i++) {
		key = inodes[i];
		if (bpf_map_update_elem(fd, &key, &one, BPF_ANY)) {
			free(inodes);
			return -errno;
		}
	}
	free(inodes);
	return n;
}
