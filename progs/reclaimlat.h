/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* reclaimlat: types shared by progs/reclaimlat.bpf.c and tools/reclaimlat.c. */
#ifndef HOWLONG_RECLAIMLAT_H
#define HOWLONG_RECLAIMLAT_H

/* The kinds of reclaim a task can stall in, one pair of tracepoints each. */
enum reclaimlat_kind {
	RECLAIM_DIRECT,		/* mm_vmscan_direct_reclaim_begin/end */
	RECLAIM_MEMCG,		/* mm_vmscan_memcg_reclaim_begin/end */
	/* mm_vmscan_memcg_softlimit_reclaim_begin/end */
	RECLAIM_SOFTLIMIT,
	RECLAIM_KINDS,
};

/* A histogram's id: the kind. The owner (-P, -L, --per-cgroup) is the
 * histogram key's own field. */
#define RECLAIMLAT_KIND_MASK	0xffULL

/* A thread's reclaims in progress: a soft limit reclaim runs inside a
 * direct one, so each kind has its own start (0: none). */
struct reclaimlat_starts {
	__u64 ts[RECLAIM_KINDS];
};

#endif /* HOWLONG_RECLAIMLAT_H */
