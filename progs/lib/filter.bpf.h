/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Task filters (-p, -t, -c, --comm), applied to the task being measured,
 * which is rarely the current one. Disabled filters cost nothing: the
 * verifier removes branches on constant .rodata.
 */
#ifndef HOWLONG_FILTER_BPF_H
#define HOWLONG_FILTER_BPF_H

#include "lib/common.h"
#include "lib/kernel.bpf.h"

const volatile struct filter_cfg filter_cfg = {};

static __always_inline __u64 cgroup_ancestor_id(struct cgroup___hl *cg, __u32 lvl)
{
	struct cgroup___hl_old *old = (void *)cg;
	struct cgroup___hl *anc = NULL;
	__u64 id = 0;

	if (bpf_core_field_exists(cg->ancestors)) {
		bpf_probe_read_kernel(&anc, sizeof(anc), &cg->ancestors[lvl]);
		return BPF_CORE_READ(anc, kn, id);
	}
	bpf_probe_read_kernel(&id, sizeof(id), &old->ancestor_ids[lvl]);
	return id;
}

static __always_inline __u64 task_cgroup_id(struct task_struct___hl *t)
{
	return BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
}

/* True if t is in the filter cgroup or below it. */
static __always_inline bool cgroup_matches(struct task_struct___hl *t)
{
	struct cgroup___hl *cg = BPF_CORE_READ(t, cgroups, dfl_cgrp);
	__u32 lvl = filter_cfg.cgroup_level;

	if (!cg || BPF_CORE_READ(cg, level) < (int)lvl)
		return false;
	if (lvl > 255)
		return false;
	return cgroup_ancestor_id(cg, lvl) == filter_cfg.cgroup_id;
}

static __always_inline bool comm_matches(struct task_struct___hl *t)
{
	char comm[COMM_LEN];

	bpf_probe_read_kernel(comm, sizeof(comm), &t->comm);
	for (int i = 0; i < COMM_LEN; i++) {
		if (comm[i] != filter_cfg.comm[i])
			return false;
		if (!comm[i])
			break;
	}
	return true;
}

static __always_inline bool task_matches(struct task_struct___hl *t)
{
	if (filter_cfg.tid && BPF_CORE_READ(t, pid) != filter_cfg.tid)
		return false;
	if (filter_cfg.tgid && BPF_CORE_READ(t, tgid) != filter_cfg.tgid)
		return false;
	if (filter_cfg.has_comm && !comm_matches(t))
		return false;
	if (filter_cfg.cgroup_id && !cgroup_matches(t))
		return false;
	return true;
}

static __always_inline bool has_task_filter(void)
{
	return filter_cfg.tgid || filter_cfg.tid || filter_cfg.has_comm ||
	       filter_cfg.cgroup_id;
}

/* task_matches() for the current task, not even looked up unfiltered. */
static __always_inline bool current_matches(void)
{
	return !has_task_filter() ||
	       task_matches((void *)bpf_get_current_task());
}

#endif /* HOWLONG_FILTER_BPF_H */
