// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * reclaimlat: how long do allocations stall reclaiming memory?
 * The measurement itself is in progs/reclaimlat.bpf.c.
 */
#include <argp.h>
#include <stdio.h>
#include <string.h>
#include <linux/btf.h>
#include <linux/types.h>
#include "lib/common.h"
#include "reclaimlat.h"
#include "reclaimlat.skel.h"
#include "attach.h"
#include "cli.h"
#include "hist_maps.h"
#include "kfeatures.h"
#include "lean_btf.h"
#include "owner.h"
#include "tracer.h"
#include "util.h"

HL_SKEL_OPS(reclaimlat_bpf, (1U << HL_TP_BTF) | (1U << HL_RAW_TP),
	    reclaimlat_bpf__attach);

static const char doc[] =
"Summarize how long tasks stall reclaiming memory themselves: direct "
"reclaim by the page allocator, memory cgroup reclaim at a cgroup's limit "
"and cgroup v1 soft limit reclaim, as one histogram with percentiles per "
"kind.\v"
"EXAMPLES:\n"
"  reclaimlat                  # every stall of the machine, until Ctrl-C\n"
"  reclaimlat -P 5 1           # per process, over 5 s\n"
"  reclaimlat --per-cgroup -m  # per cgroup (v2), in ms\n"
"  reclaimlat -c /sys/fs/cgroup/db -L  # one cgroup's threads\n"
"  reclaimlat -j 1             # JSON Lines every second\n"
"  reclaimlat --listen 9105    # for Prometheus, on :9105\n"
"\nSoft limit reclaim runs inside direct reclaim (and kswapd): its stalls "
"are also part of the direct ones they happened in. Stalls in progress at "
"the start are not counted. See reclaimlat(8).";

static const struct {
	const char *prefix;	/* of its programs */
	const char *tracepoint;	/* the begin's, for -v and the check */
	const char *label;
} kinds[RECLAIM_KINDS] = {
	[RECLAIM_DIRECT] = { "direct_", "mm_vmscan_direct_reclaim_begin",
			     "direct" },
	[RECLAIM_MEMCG] = { "memcg_", "mm_vmscan_memcg_reclaim_begin",
			    "memcg" },
	[RECLAIM_SOFTLIMIT] = { "softlimit_",
				"mm_vmscan_memcg_softlimit_reclaim_begin",
				"softlimit" },
};

/* Each kind whose two tracepoints this kernel has (the memcg ones need
 * CONFIG_MEMCG), from its BTF; the others are not loaded. */
static int choose_kinds(struct bpf_object *obj)
{
	char names[2][96];
	const char *list[3] = { names[0], names[1], NULL };
	int n = 0, have;

	for (int k = 0; k < RECLAIM_KINDS; k++) {
		snprintf(names[0], sizeof(names[0]), "btf_trace_%s",
			 kinds[k].tracepoint);
		snprintf(names[1], sizeof(names[1]), "btf_trace_%.*s_end",
			 (int)strlen(kinds[k].tracepoint) - 6,
			 kinds[k].tracepoint);
		have = lean_btf_count_named(BTF_KIND_TYPEDEF, list);
		if (have < 0)
			return have;
		hl_autoload_prefix(obj, kinds[k].prefix, have == 2);
		if (hl_opts.verbose)
			hl_warn("%s reclaim: %s", kinds[k].label, have == 2 ?
				"timed" : "no such tracepoints here");
		n += have == 2;
	}
	return n ? 0 : -ENOENT;
}

static struct hl_tracer tracer;

static int prepare(void *s, enum hl_method m, void *ctx)
{
	struct reclaimlat_bpf *skel = s;

	(void)ctx;
	skel->rodata->filter_cfg = hl_opts.filter;
	skel->rodata->owner_mode = hl_owner;
	if (!hl_select_programs(skel->obj, m, NULL))
		return -ENOENT;
	skel->rodata->have_task_storage = hl_tstore_setup(skel->obj);
	return choose_kinds(skel->obj) ?:
	       hl_hist_dense_size(skel->obj,
				  tracer.keyed ? 0 : RECLAIM_KINDS) ?:
	       hl_hist_maps_size(skel->obj, tracer.keyed);
}

static int label(const struct hl_hist *h, struct hl_label *l, char *scratch,
		 size_t len)
{
	unsigned int kind = h->id & RECLAIMLAT_KIND_MASK;

	(void)scratch;
	(void)len;
	l[0].name = "reclaim";
	l[0].str = kind < RECLAIM_KINDS ? kinds[kind].label : "unknown";
	return 1;
}

static struct hl_tracer tracer = {
	.name = "reclaimlat",
	.argp = { .children = hl_owner_children },
	.doc = doc,
	.ops = &reclaimlat_bpf_ops, .prepare = prepare,
	.loop = { .what = "memory reclaim stalls",
		  .report = { .label = label } },
};

int main(int argc, char **argv)
{
	hl_tracer_start(&tracer, argc, argv);
	/* per owner: keyed; else a dense histogram per kind */
	tracer.keyed = hl_owner != HL_OWNER_NONE;
	hl_tracer_attach(&tracer);
	return hl_tracer_run(&tracer);
}
