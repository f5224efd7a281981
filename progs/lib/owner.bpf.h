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
#include "lib/hist.bpf.h"

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

/* A sample of task t's, under key id (a tool that has one histogram says
 * !keyed), in its owner's histogram with -P, -L or --per-cgroup. */
static __always_inline void hist_record_task(struct task_struct___hl *t,
					     __u64 id, __u64 v, bool keyed)
{
	if (owner_mode != HL_OWNER_NONE)
		hist_record_owned(id, owner_id(t), v, owner_comm(t));
	else if (keyed)
		hist_record_keyed(id, v, "");
	else
		hist_record(v);
}

/* The same for the task running now, looked up only when it counts. */
static __always_inline void hist_record_current(__u64 id, __u64 v, bool keyed)
{
	struct task_struct___hl *t = owner_mode != HL_OWNER_NONE ?
		(void *)bpf_get_current_task() : NULL;

	hist_record_task(t, id, v, keyed);
}

#endif /* HOWLONG_OWNER_BPF_H */
