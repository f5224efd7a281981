/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Which container a cgroup path belongs to, as people name containers:
 * the runtime and the short id `docker ps` and `crictl ps` print, and the
 * pod of a Kubernetes container.
 */
#ifndef HOWLONG_CONTAINER_H
#define HOWLONG_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>

/* "docker:0123456789ab", "pod:1a2b3c4d/containerd:0123456789ab",
 * "lxc:web", "nspawn:db" ... for a cgroup path (as hl_cgroup_name()
 * gives it); false, buf empty, if no runtime's pattern matches. */
bool hl_container_name(const char *path, char *buf, size_t len);

#endif /* HOWLONG_CONTAINER_H */
