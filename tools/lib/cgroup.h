/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* cgroup v2 paths <-> the ids BPF sees (kernfs inode numbers). */
#ifndef HOWLONG_CGROUP_H
#define HOWLONG_CGROUP_H

#include <stddef.h>
#include <stdint.h>

/* Where cgroup2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on
 * hybrid systems), from /proc/self/mountinfo; NULL if it is not. */
const char *hl_cgroup2_root(void);

/* Id and depth below the cgroup2 root of PATH (absolute, or relative to
 * that root); 0 on success. */
int hl_cgroup_lookup(const char *path, uint64_t *id, uint32_t *level);
/* Path (relative to the cgroup2 mount, "/" for the root) of a cgroup id;
 * falls back to "cgroup:<id>" when it is gone. */
void hl_cgroup_name(uint64_t id, char *buf, size_t len);

#endif /* HOWLONG_CGROUP_H */
