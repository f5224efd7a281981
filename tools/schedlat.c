// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * schedlat: how long do runnable tasks wait for a CPU?
 * The measurement itself is in progs/schedlat.bpf.c.
 */
#include <argp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>
#include "lib/common.h"
#include "schedlat.h"
#include "schedlat.skel.h"
#include "attach.h"
#include "cli.h"
#include "kfeatures.h"
#include "hist_maps.h"
#include "owner.h"
#include "tracer.h"
#include "util.h"

HL_SKEL_OPS(schedlat_bpf, HL_TRACEPOINT_METHODS, schedlat_bpf__attach);

static struct {
	bool run_delay;		/* read sched_info instead of timing */
	bool own_timestamps;	/* given explicitly */
} cfg;

enum { OPT_TIMESTAMPS = 0x200, OPT_RUN_DELAY };

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "Histograms:", 4 },
	{ "own-timestamps", OPT_TIMESTAMPS, NULL, 0,
	  "Time each wait from the wakeup or preemption to the switch in, "
	  "with BPF's clock (the default)", 4 },
	{ "run-delay", OPT_RUN_DELAY, NULL, 0,
	  "Read the kernel's sched_info accounting instead (the run_delay of "
	  "/proc/PID/schedstat): cheaper, but a wakeup that preempts reads "
	  "as 0 ns and a task that migrates while queued is timed from its "
	  "last enqueue", 4 },
	{}
};

static error_t parse(int key, char *arg, struct argp_state *state)
{
	(void)arg;
	(void)state;
	switch (key) {
	case OPT_TIMESTAMPS: cfg.own_timestamps = true; break;
	case OPT_RUN_DELAY: cfg.run_delay = true; break;
	case ARGP_KEY_END:
		if (cfg.run_delay && cfg.own_timestamps)
			hl_usage_error("--run-delay and --own-timestamps "
				       "exclude each other");
		break;
	default: return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const char doc[] =
"Summarize run-queue latency: how long runnable tasks (woken, new or "
"preempted) wait before they get a CPU, as a histogram with percentiles.\v"
"EXAMPLES:\n"
"  schedlat              # one histogram, printed at Ctrl-C\n"
"  schedlat 1 5          # five one-second histograms\n"
"  schedlat -mT 10       # milliseconds, timestamped, every 10 s\n"
"  schedlat -P 5 1       # one histogram per process, over 5 s\n"
"  schedlat -p 1234 -L   # threads of process 1234, one each\n"
"  schedlat -c system.slice/nginx.service   # one cgroup and below\n"
"  schedlat --per-cgroup 5 1               # compare cgroups\n"
"  schedlat --comm postgres -j 1           # JSON Lines every second\n"
"  schedlat --listen 9100                  # for Prometheus, on :9100\n"
"\nEach wait is timed from the moment the task is queued runnable to the "
"moment it runs, across migrations. Percentiles are within 3.2% of the "
"exact value. See schedlat(8).";

static int prepare(void *s, enum hl_method m, void *ctx)
{
	struct schedlat_bpf *skel = s;
	bool ts = !cfg.run_delay;
	/* Only tp_btf programs pass a task that task storage accepts, and
	 * the wakeup and switch hooks create it: only where that is safe. */
	bool task_storage = m == HL_TP_BTF && hl_kernel_sched_task_storage();

	(void)ctx;
	skel->rodata->filter_cfg = hl_opts.filter;
	skel->rodata->owner_mode = hl_owner;
	if (!hl_select_programs(skel->obj, m, NULL))
		return -ENOENT;
	skel->rodata->run_delay = cfg.run_delay;
	hl_autoload_prefix(skel->obj, "wakeup", ts);
	skel->rodata->have_task_storage = task_storage;
	bpf_map__set_autocreate(skel->maps.start_task, ts && task_storage);
	bpf_map__set_autocreate(skel->maps.start_tid, ts && !task_storage);
	return hl_hist_maps_size(skel->obj, false);
}

static struct hl_tracer tracer = {
	.name = "schedlat",
	.argp = { .options = options, .parser = parse, .children = hl_owner_children },
	.doc = doc,
	.ops = &schedlat_bpf_ops, .prepare = prepare,
	.loop = { .what = "run queue latency" },
};

int main(int argc, char **argv)
{
	hl_tracer_start(&tracer, argc, argv);
	if (cfg.run_delay && access("/proc/self/schedstat", F_OK))
		hl_die("--run-delay reads the kernel's sched_info accounting, "
		       "which this kernel lacks (CONFIG_SCHED_INFO)");
	hl_tracer_attach(&tracer);
	if (hl_opts.verbose)
		hl_warn("measuring with %s", cfg.run_delay ?
			"the kernel's sched_info run-queue accounting" :
			"own wakeup/preemption timestamps");
	return hl_tracer_run(&tracer);
}
