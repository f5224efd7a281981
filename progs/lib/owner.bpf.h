/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * -P, -L, --per-cgroup on the BPF side: the id of the histogram a task's
 * sample belongs to, and the name to show with it. User space sets
 * owner_mode (tools/lib/owner.c).
 */
#ifndef HOWLONG_OWNER_BPF_H
#define HOWLONG_OWNER_BPF_H

#include "lib/common.h"
#include "lib/filter.bpf.h"

const volatile __u32 owner_mode = HL_OWNER_NONE;

static __always_inline __u64 owner_id(struct task_struct___hl *t)
{
	switch (owner_mode) {
	case HL_OWNER_PID:
		return BPF_CORE_READ(t, tgid);
	case HL_OWNER_TID:
		return BPF_CORE_READ(t, pid);
	case HL_OWNER_CGROUP:
		return task_cgroup_id(t);
	default:
		return 0;
	}
}

/* Kernel address of the command name shown with a new owner. */
static __always_inline const void *owner_comm(struct task_struct___hl *t)
{
	switch (owner_mode) {
	case HL_OWNER_PID:
		return &BPF_CORE_READ(t, group_leader)->comm;
	case HL_OWNER_TID:
		return &t->comm;
	default:
		return "";
	}
}

#endif /* HOWLONG_OWNER_BPF_H */
