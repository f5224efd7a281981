/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* connlat: types shared by progs/connlat.bpf.c and tools/connlat.c. */
#ifndef HOWLONG_CONNLAT_H
#define HOWLONG_CONNLAT_H

#include "lib/sock.h"

/*
 * A histogram's id: with -R the remote endpoint (lib/sock.h), else 0;
 * with SOCK_TOOL_BIT for a failed connect. The owner (-P, -L,
 * --per-cgroup) is the histogram key's own field.
 */
#define TCPCONN_FAILED_BIT SOCK_TOOL_BIT

/* Connects in progress at once, at most (more are counted lost). */
#define TCPCONN_INFLIGHT 16384

/* A connect taking longer than the threshold (-M). */
struct tcpconn_event {
	__u64 duration_ns;
	__u64 remote;		/* the endpoint's id (lib/sock.h) */
	__u32 pid;
	__u32 tid;
	__u32 failed;
	char comm[16];
};

#endif /* HOWLONG_CONNLAT_H */
