/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Types shared by every tool's BPF side and the user-space library. */
#ifndef HOWLONG_COMMON_H
#define HOWLONG_COMMON_H

#ifndef __VMLINUX_H__
#include <linux/types.h>	/* user space; BPF gets the types from vmlinux.h */
#endif

#define COMM_LEN 16

/* Which tasks to measure; zero fields match everything. */
struct filter_cfg {
	__u32 tgid;
	__u32 tid;
	__u64 cgroup_id;	/* cgroup v2 id (inode) of the -c directory */
	__u32 cgroup_level;	/* its depth below the root: 0 is the root */
	__u32 has_comm;
	char comm[COMM_LEN];
};

/* Whom a sample is counted for: one histogram per process (-P), thread
 * (-L) or cgroup (--per-cgroup) of the task measured, or none. */
enum hl_owner {
	HL_OWNER_NONE,
	HL_OWNER_PID,
	HL_OWNER_TID,
	HL_OWNER_CGROUP,
};

/* Why a sample could not be measured; reported together as "lost". */
enum lost_reason {
	LOST_HIST_FULL,		/* keyed histogram map full */
	LOST_START_FULL,	/* no room to store a start timestamp */
	LOST_NO_TASK,		/* the task behind a pid could not be found */
	LOST_EVENTS_FULL,	/* ring buffer full: an event was dropped */
	LOST_REASONS,
};

#endif /* HOWLONG_COMMON_H */
