/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Running copies of a binary: a container runs its image's own file, the
 * same program as the host's but another inode, in a mount namespace of
 * its own, and a uprobe on the host's file does not fire in it.
 */
#ifndef HOWLONG_COPIES_H
#define HOWLONG_COPIES_H

#include <stddef.h>
#include <sys/types.h>

struct hl_copies {
	char **paths;	/* each opens its copy from here */
	pid_t *pids;	/* a process that maps it */
	size_t n;
};

/*
 * The files running processes map that are copies of the file at path:
 * the same size and build id, another inode; each once, as a path that
 * opens it from here ("/proc/PID/root" + the name the process sees, or
 * its /proc/PID/map_files link when that does not reach it). 0, or
 * -ENOENT: path has no build id to compare by; -errno.
 */
int hl_copies_find(const char *path, struct hl_copies *out);
void hl_copies_free(struct hl_copies *c);

#endif /* HOWLONG_COPIES_H */
