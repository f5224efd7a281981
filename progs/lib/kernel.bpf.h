/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The few kernel fields howlong reads, as CO-RE "flavors" of the vmlinux.h
 * types: libbpf matches them to the running kernel by name (the ___hl
 * suffix is ignored) and relocates every offset. Using the full vmlinux.h
 * structs instead would embed their whole type closure (~180 KB of BTF) in
 * every tool binary.
 */
#ifndef HOWLONG_KERNEL_BPF_H
#define HOWLONG_KERNEL_BPF_H

#define __hl_core __attribute__((preserve_access_index))

struct sched_info___hl {
	unsigned long long last_queued;
} __hl_core;

struct kernfs_node___hl {
	__u64 id;
} __hl_core;

struct cgroup___hl {
	int level;
	struct kernfs_node___hl *kn;
	struct cgroup___hl *ancestors[];
} __hl_core;

/* Kernels before 6.1 kept ancestor ids instead of ancestor pointers. */
struct cgroup___hl_old {
	int level;
	__u64 ancestor_ids[];
} __hl_core;

struct css_set___hl {
	struct cgroup___hl *dfl_cgrp;
} __hl_core;

struct rq___hl;

/* With CONFIG_FAIR_GROUP_SCHED (every mainstream distro kernel) each
 * task's se.cfs_rq is its CPU's cfs_rq, which points back at the rq: the
 * way to this CPU's rq that needs no kallsyms (the runqueues ksym does). */
struct cfs_rq___hl {
	struct rq___hl *rq;
} __hl_core;

struct sched_entity___hl {
	struct cfs_rq___hl *cfs_rq;
} __hl_core;

struct mm_struct___hl {
	unsigned long arg_start;	/* the process title lives here */
} __hl_core;

struct task_struct___hl {
	unsigned int __state;
	unsigned int flags;		/* PF_* */
	int pid;
	int tgid;
	char comm[16];
	struct sched_info___hl sched_info;
	struct sched_entity___hl se;
	struct task_struct___hl *group_leader;
	struct task_struct___hl *real_parent;
	struct mm_struct___hl *mm;
	struct css_set___hl *cgroups;
} __hl_core;

#define HL_PF_EXITING 0x00000004	/* include/linux/sched.h, every kernel */

/*
 * A kernel address as a number to hash or tell apart. A tp_btf argument
 * is a typed pointer, on which the verifier allows no arithmetic, but a
 * privileged program may subtract two pointers into a number: less a
 * fixed address of the program's own (base: a map or a global), it is as
 * good as the address. In assembly, so that clang cannot fold the
 * subtraction away. raw_tp arguments are numbers already.
 */
static __always_inline __u64 addr_bits(__u64 p, bool btf, const void *base)
{
	if (btf)
		asm volatile("%[p] -= %[base]" : [p] "+r"(p) : [base] "r"(base));
	return p;
}

/* Before 5.14 the state was a long named state. */
struct task_struct___hl_pre514 {
	long state;
} __hl_core;

/* TASK_RUNNING: a task switched out in this state stays on the run queue
 * (sched_switch passes the state as an argument only since 5.18). */
static __always_inline bool task_runnable(struct task_struct___hl *t)
{
	struct task_struct___hl_pre514 *old = (void *)t;

	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state) == 0;
	return BPF_CORE_READ(old, state) == 0;
}

/* The same for a task tp_btf passes: read directly, no helper call. */
static __always_inline bool btf_task_runnable(struct task_struct___hl *t)
{
	struct task_struct___hl_pre514 *old = (void *)t;

	if (bpf_core_field_exists(t->__state))
		return t->__state == 0;
	return old->state == 0;
}

struct rq___hl {
	__u64 clock;
	struct task_struct___hl *curr;
} __hl_core;


#endif /* HOWLONG_KERNEL_BPF_H */
