// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * syslat: how long do system calls take?
 * The measurement itself is in progs/syslat.bpf.c.
 */
#include <argp.h>
#include <stdio.h>
#include <string.h>
#include <linux/types.h>
#include "lib/common.h"
#include "syslat.h"
#include "syslat.skel.h"
#include "attach.h"
#include "cli.h"
#include "hist_maps.h"
#include "kfeatures.h"
#include "owner.h"
#include "syscalls.h"
#include "tracer.h"
#include "util.h"

HL_SKEL_OPS(syslat_bpf, HL_TRACEPOINT_METHODS, syslat_bpf__attach);

static struct {
	bool errors;
	bool some;		/* -s given */
	__u8 wanted[SYSLAT_NR_MAX];
} cfg;

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "Histograms:", 4 },
	{ "syscall", 's', "NAME[,NAME...]", 0,
	  "Only these system calls (repeatable)", 4 },
	{ "errors", 'e', NULL, 0,
	  "Calls that failed (returned -1 with errno) apart from those that "
	  "did not", 4 },
	{}
};

static void want(char *list)
{
	char *save = NULL, *name = strtok_r(list, ",", &save);

	if (!name)
		hl_usage_error("invalid --syscall '%s': expected NAME[,NAME...]",
			       list);
	for (; name; name = strtok_r(NULL, ",", &save)) {
		int nr = hl_syscall_nr(name);

		if (nr < 0 || nr >= SYSLAT_NR_MAX)
			hl_usage_error("unknown system call '%s'", name);
		cfg.wanted[nr] = 1;
	}
	cfg.some = true;
}

static error_t parse(int key, char *arg, struct argp_state *state)
{
	(void)state;
	switch (key) {
	case 's': want(arg); break;
	case 'e': cfg.errors = true; break;
	default: return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const char doc[] =
"Summarize how long system calls take, from entry to return, as one "
"histogram with percentiles per call.\v"
"EXAMPLES:\n"
"  syslat                      # every call of the machine, until Ctrl-C\n"
"  syslat -p 1234 5 1          # one process, over 5 s\n"
"  syslat -s read,write -e     # reads and writes, failures apart\n"
"  syslat -P -s fsync 10       # fsync per process, every 10 s\n"
"  syslat --comm nginx -j 1    # JSON Lines every second\n"
"  syslat -e --listen 9101     # for Prometheus, on :9101\n"
"\nNames are those of this architecture's table. Calls that never return "
"(exit, exit_group) and calls in flight at the start are not counted. "
"See syslat(8).";

static int prepare(void *s, enum hl_method m, void *ctx)
{
	struct syslat_bpf *skel = s;

	(void)ctx;
	skel->rodata->filter_cfg = hl_opts.filter;
	skel->rodata->owner_mode = hl_owner;
	skel->rodata->split_errors = cfg.errors;
	skel->rodata->some_calls = cfg.some;
	memcpy((void *)skel->rodata->wanted, cfg.wanted, sizeof(cfg.wanted));
	if (!hl_select_programs(skel->obj, m, NULL))
		return -ENOENT;
	/* a call is moved into thread storage in sched_switch */
	skel->rodata->have_task_storage = hl_tstore_setup_sched(skel->obj);
	return hl_hist_maps_size(skel->obj, true);
}

static int label(const struct hl_hist *h, struct hl_label *l, char *scratch,
		 size_t len)
{
	static char name[32];
	int n = 0;

	(void)scratch;
	(void)len;
	l[n].name = "syscall";
	l[n++].str = hl_syscall_label(h->id & SYSLAT_NR_MASK, name,
				      sizeof(name));
	if (cfg.errors) {
		l[n].name = "result";
		l[n++].str = h->id & SYSLAT_ERR_BIT ? "error" : "ok";
	}
	return n;
}

static struct hl_tracer tracer = {
	.name = "syslat",
	.argp = { .options = options, .parser = parse, .children = hl_owner_children },
	.doc = doc,
	.ops = &syslat_bpf_ops, .prepare = prepare,
	.keyed = true,
	.loop = { .what = "system call latency",
		  .report = { .label = label } },
};

int main(int argc, char **argv)
{
	hl_tracer_start(&tracer, argc, argv);
	hl_tracer_attach(&tracer);
	return hl_tracer_run(&tracer);
}
