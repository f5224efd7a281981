// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * reclaimlat: how long tasks stall reclaiming memory, from each kind's
 * vmscan begin tracepoint to its end on the same thread: direct reclaim
 * (the page allocator's), memory cgroup reclaim (a charge over the
 * cgroup's limit or high mark) and cgroup v1 soft limit reclaim, which
 * runs inside direct reclaim and kswapd. One histogram per kind (and per
 * owner with -P, -L, --per-cgroup).
 *
 * No argument of the tracepoints is read (the begins' prototypes changed
 * over the years: may_writepage went in 5.x, more changes are proposed):
 * the thread stalled is the current one. Each kind keeps
 * its own start in thread storage, so the nested kinds are each timed.
 * User space attaches only the kinds this kernel has (the memcg ones need
 * CONFIG_MEMCG).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "lib/hist.bpf.h"
#include "lib/filter.bpf.h"
#include "lib/owner.bpf.h"
#include "lib/tstore.bpf.h"
#include "reclaimlat.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

DEFINE_THREAD_STORAGE(starts, struct reclaimlat_starts, 65536);

static __always_inline int begin(enum reclaimlat_kind kind)
{
	struct reclaimlat_starts *s;

	if (!current_matches())
		return 0;
	s = starts_get(true);
	if (!s) {
		lost_inc(LOST_START_FULL);
		return 0;
	}
	s->ts[kind] = bpf_ktime_get_ns();
	return 0;
}

static __noinline int end(enum reclaimlat_kind kind)
{
	struct reclaimlat_starts *s = starts_get(false);
	__u64 now = bpf_ktime_get_ns();

	if (!s || kind >= RECLAIM_KINDS || !s->ts[kind])
		return 0;
	if (owner_mode == HL_OWNER_NONE) {
		/* a whole histogram per kind: no cell to make for a new
		 * bucket, and stalls are spread over many */
		hist_record_dense(kind, now - s->ts[kind]);
	} else {
		hist_record_current(kind, now - s->ts[kind], true);
	}
	s->ts[kind] = 0;
	return 0;
}

/* Ends first: the skeleton attaches them first, so that every begin seen
 * has its end seen. */
#define RECLAIM_HOOKS(name, kind, tp)					\
SEC("tp_btf/" #tp "_end")						\
int BPF_PROG(name##_end_btf) { return end(kind); }			\
SEC("raw_tp/" #tp "_end")						\
int BPF_PROG(name##_end_raw) { return end(kind); }			\
SEC("tp_btf/" #tp "_begin")						\
int BPF_PROG(name##_begin_btf) { return begin(kind); }			\
SEC("raw_tp/" #tp "_begin")						\
int BPF_PROG(name##_begin_raw) { return begin(kind); }

/* user space turns off a kind by its programs' prefix */
RECLAIM_HOOKS(direct, RECLAIM_DIRECT, mm_vmscan_direct_reclaim)
RECLAIM_HOOKS(memcg, RECLAIM_MEMCG, mm_vmscan_memcg_reclaim)
RECLAIM_HOOKS(softlimit, RECLAIM_SOFTLIMIT, mm_vmscan_memcg_softlimit_reclaim)
