// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
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

struct inodes {
	uint64_t *v;
	size_t n, cap;
};

/* Adds the socket inodes of pid; -errno if they cannot be read. */
static int add_socket_inodes(int pid, struct inodes *in)
{
	char path[64], link[64];
	unsigned long long ino;
	struct dirent *d;
	uint64_t *grown;
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
		if (in->n == in->cap) {
			in->cap = in->cap ? 2 * in->cap : 64;
			grown = realloc(in->v, in->cap * sizeof(*in->v));
			if (!grown) {
				closedir(dir);
				return -ENOMEM;
			}
			in->v = grown;
		}
		in->v[in->n++] = ino;
	}
	closedir(dir);
	return 0;
}

/* The first line of /proc/PID/NAME that starts with prefix, without
 * the prefix and its newline; false if none. */
static bool proc_line(int pid, const char *name, const char *prefix,
		      char *buf, size_t len)
{
	size_t n = strlen(prefix);
	char path[64];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(buf, len, f))
		found = !strncmp(buf, prefix, n);
	fclose(f);
	if (found) {
		memmove(buf, buf + n, strlen(buf + n) + 1);
		buf[strcspn(buf, "\n")] = '\0';
	}
	return found;
}

static bool process_matches(int pid, const struct filter_cfg *f,
			    const char *cgroup)
{
	char line[4096];
	size_t n;

	if (f->has_comm &&
	    (!proc_line(pid, "comm", "", line, sizeof(line)) ||
	     strcmp(line, f->comm)))
		return false;
	/* cgroup v2's line is "0::/path", among v1's on hybrid systems */
	if (cgroup) {
		if (!proc_line(pid, "cgroup", "0::", line, sizeof(line)))
			return false;
		n = strlen(cgroup);
		if (strcmp(cgroup, "/") &&
		    (strncmp(line, cgroup, n) || (line[n] && line[n] != '/')))
			return false;
	}
	return true;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int gather(const struct filter_cfg *f, const char *cgroup,
		  struct inodes *in)
{
	struct dirent *d;
	DIR *proc;
	int pid, err = 0;

	if (f->tgid)
		return add_socket_inodes(f->tgid, in);
	proc = opendir("/proc");
	if (!proc)
		return -errno;
	while (!err && (d = readdir(proc))) {
		pid = atoi(d->d_name);
		/* a process may exit meanwhile: its sockets go with it */
		if (pid > 0 && process_matches(pid, f, cgroup) &&
		    add_socket_inodes(pid, in) == -ENOMEM)
			err = -ENOMEM;
	}
	closedir(proc);
	return err;
}

int hl_sock_inodes_sync(struct bpf_map *map, const struct filter_cfg *f,
			const char *cgroup)
{
	struct inodes in = {};
	int fd = bpf_map__fd(map), err;
	__u64 key, next, *prev = NULL;
	__u8 one = 1;

	err = gather(f, cgroup, &in);
	if (err) {
		free(in.v);
		return err;
	}
	if (in.n)
		qsort(in.v, in.n, sizeof(*in.v), cmp_u64);
	/* those no longer held first: their numbers may come back */
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (!in.n || !bsearch(&key, in.v, in.n, sizeof(*in.v), cmp_u64))
			bpf_map_delete_elem(fd, &key);
	}
	for (size_t i = 0; i < in.n && !err; i++) {
		key = in.v[i];
		if (bpf_map_update_elem(fd, &key, &one, BPF_ANY))
			err = -errno;
	}
	free(in.v);
	return err ? err : (int)in.n;
}
