// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * locklat: how long do tasks wait for kernel locks?
 * The measurement itself is in progs/locklat.bpf.c.
 */
#include <argp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/btf.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include "lib/common.h"
#include "locklat.h"
#include "locklat.skel.h"
#include "attach.h"
#include "cli.h"
#include "hist_maps.h"
#include "kfeatures.h"
#include "ksyms.h"
#include "lean_btf.h"
#include "owner.h"
#include "tracer.h"
#include "util.h"

HL_SKEL_OPS(locklat_bpf, (1U << HL_TP_BTF) | (1U << HL_RAW_TP),
	    locklat_bpf__attach);

static struct {
	bool callers;		/* -S */
	struct locklat_bpf *skel;
	struct hl_ksyms *ksyms;
	/* kernel text of lock functions: sched and lock sections */
	uint64_t text[2][2];
} cfg;

static struct hl_tracer tracer;

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "Histograms:", 4 },
	{ "callers", 'S', NULL, 0,
	  "One histogram per caller: the first kernel function outside the "
	  "lock's own code", 4 },
	{}
};

static error_t parse(int key, char *arg, struct argp_state *state)
{
	(void)arg;
	(void)state;
	switch (key) {
	case 'S': cfg.callers = true; break;
	default: return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const char doc[] =
"Summarize how long tasks wait for contended kernel locks (spinlocks, "
"mutexes, rwsems, ...), as one histogram with percentiles per kind of "
"lock.\v"
"EXAMPLES:\n"
"  locklat                     # every wait of the machine, until Ctrl-C\n"
"  locklat -S 5 1              # per kind and caller, over 5 s\n"
"  locklat -p 1234 -S          # one process's waits, by caller\n"
"  locklat -P -m 10            # per process, in ms, every 10 s\n"
"  locklat -j 1                # JSON Lines every second\n"
"  locklat --listen 9104       # for Prometheus, on :9104\n"
"\nA wait is timed from the kernel's lock:contention_begin to its "
"contention_end (Linux 5.19); an interrupt handler's wait counts for the "
"task it interrupted. Waits in progress at the start are not counted. "
"See locklat(8).";

/* Decided from the kernel's BTF (or tracefs), never by failing a load;
 * in prepare(), after a bad --attach was refused as a usage error. */
static void need_tracepoints(void)
{
	static const char *const names[] = { "btf_trace_contention_begin",
					     "btf_trace_contention_end",
					     NULL };
	int n = lean_btf_count_named(BTF_KIND_TYPEDEF, names);

	/* tracefs only if the BTF could not be read after all */
	if (n == 2 || (n < 0 && !access("/sys/kernel/tracing/events/lock/"
					 "contention_begin", F_OK)))
		return;
	hl_die("needs Linux 5.19 (lock:contention_begin)");
}

/* The flags of each dense histogram (a mutex's SPIN is dropped). */
static const unsigned int dense_flags[LOCKLAT_DENSE_KINDS] = {
	LOCKLAT_F_SPIN, LOCKLAT_F_SPIN | LOCKLAT_F_READ,
	LOCKLAT_F_SPIN | LOCKLAT_F_WRITE, LOCKLAT_F_READ, LOCKLAT_F_WRITE,
	LOCKLAT_F_MUTEX, LOCKLAT_F_RT, LOCKLAT_F_RT | LOCKLAT_F_READ,
	LOCKLAT_F_RT | LOCKLAT_F_WRITE, LOCKLAT_F_PERCPU | LOCKLAT_F_READ,
	LOCKLAT_F_PERCPU | LOCKLAT_F_WRITE,
};

static int prepare(void *s, enum hl_method m, void *ctx)
{
	struct locklat_bpf *skel = s;

	(void)ctx;
	need_tracepoints();
	skel->rodata->filter_cfg = hl_opts.filter;
	skel->rodata->owner_mode = hl_owner;
	skel->rodata->by_stack = cfg.callers;
	if (!hl_select_programs(skel->obj, m, NULL))
		return -ENOENT;
	/* by kind alone: a whole histogram per known kind, one array
	 * lookup a wait (flags it does not know go keyed) */
	if (!cfg.callers && hl_owner == HL_OWNER_NONE) {
		__u8 *kind = (__u8 *)skel->rodata->dense_kind;

		for (int i = 0; i < LOCKLAT_DENSE_KINDS; i++)
			kind[dense_flags[i]] = i + 1;
		if (hl_hist_dense_size(skel->obj, LOCKLAT_DENSE_KINDS))
			return -EINVAL;
	}
	if (cfg.callers &&
	    bpf_map__set_max_entries(skel->maps.stacks, LOCKLAT_STACKS))
		return -EINVAL;
	/* contention_begin fires under the run-queue lock too */
	skel->rodata->have_task_storage = hl_tstore_setup_sched(skel->obj);
	return hl_hist_maps_size(skel->obj, true);
}

/* ------------------------------------------------------------------ */
/* -S: callers, from kernel stacks */

/* Functions of the lock's own code: the sched and lock text sections
 * (mutex, rwsem, spinlock entry points), the slow paths outside them,
 * and the tracing that called us. */
static bool lock_function(uint64_t ip, const char *name)
{
	static const char *const prefixes[] = {
		"bpf_", "__bpf_", "__traceiter_", "trace_contention",
		"queued_", "native_queued_", "__pv_queued_", "pv_",
		"do_raw_", "_raw_", "__raw_", "mutex_", "__mutex_",
		"rwsem_", "__rwsem_", "down_", "__down_", "rt_mutex",
		"__rt_mutex", "rt_spin", "rwbase_", "percpu_down",
		"__percpu_down", "percpu_rwsem", "__percpu_rwsem", "osq_",
	};

	for (int i = 0; i < 2; i++)
		if (ip >= cfg.text[i][0] && ip < cfg.text[i][1])
			return true;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(name, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

static void load_ksyms(void)
{
	static const char *const edges[2][2] = {
		{ "__sched_text_start", "__sched_text_end" },
		{ "__lock_text_start", "__lock_text_end" },
	};

	cfg.ksyms = hl_ksyms_load();
	if (!cfg.ksyms)
		hl_die("-S: cannot read kernel symbols from /proc/kallsyms: %s",
		       strerror(errno));
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++)
			cfg.text[i][j] = hl_ksym_addr(cfg.ksyms, edges[i][j]);
}

/* Callers by name, once each; the index is what regroup() keys by. */
#define CALLERS_MAX 4096
static const char *callers[CALLERS_MAX] = { "[unknown]" };
static unsigned int ncallers = 1;
/* stack id + 1 -> caller index + 1 (0: not looked up yet) */
static unsigned short stack_caller[LOCKLAT_STACKS + 1];

static unsigned int caller_index(const char *name)
{
	unsigned int i;

	for (i = 0; i < ncallers; i++)
		if (!strcmp(callers[i], name))
			return i;
	if (ncallers == CALLERS_MAX)
		return 0;
	callers[ncallers] = name;	/* lives in cfg.ksyms */
	return ncallers++;
}

/* The first frame after the lock's own code, the stack read from the top
 * (the tracepoint's caller first). */
static unsigned int stack_to_caller(__u32 sid)
{
	__u64 ips[LOCKLAT_STACK_DEPTH] = {};
	bool in_lock = false;
	const char *name;

	if (bpf_map__lookup_elem(cfg.skel->maps.stacks, &sid, sizeof(sid),
				 ips, sizeof(ips), 0))
		return 0;
	for (int i = 0; i < LOCKLAT_STACK_DEPTH && ips[i]; i++) {
		name = hl_ksym_name(cfg.ksyms, ips[i]);
		if (!name)
			continue;	/* BPF programs: ours, or another's */
		if (lock_function(ips[i], name))
			in_lock = true;
		else if (in_lock)
			return caller_index(name);
	}
	return 0;
}

static __u64 caller_of(__u64 stack)
{
	if (!stack || stack > LOCKLAT_STACKS)
		return 0;
	if (!stack_caller[stack])
		stack_caller[stack] = stack_to_caller(stack - 1) + 1;
	return stack_caller[stack] - 1;
}

/* With -S: the histograms of one kind and owner whose stacks have the
 * same caller added up, the stack's id replaced by the caller's index. */
static size_t regroup(struct hl_hist *h, size_t n)
{
	size_t out = 0;
	__u64 id, stack;

	for (size_t i = 0; i < n; i++) {
		stack = h[i].id >> LOCKLAT_STACK_SHIFT & LOCKLAT_STACK_MASK;
		id = (h[i].id & ~(LOCKLAT_STACK_MASK << LOCKLAT_STACK_SHIFT)) |
		     caller_of(stack) << LOCKLAT_STACK_SHIFT;
		hl_hist_regroup(h, &out, id, &h[i]);
	}
	return out;
}

/*
 * Waits whose begin the kernel did not run our program for, because it
 * already ran on that CPU (an interrupt's lock while it ran), by the
 * kernel's count of such misses (Linux 5.12): lost, as the others.
 */
static void count_misses(void)
{
	static __u64 seen;
	struct bpf_program *prog;
	__u64 total = 0;

	bpf_object__for_each_program(prog, cfg.skel->obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		/* an end missed is of a wait already counted lost */
		if (strncmp(bpf_program__name(prog), "begin_", 6))
			continue;
		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
			total += info.recursion_misses;
	}
	if (total > seen)
		hl_hist_lost_add(&tracer.maps, total - seen);
	seen = total;
}

/* ------------------------------------------------------------------ */

/* perf lock's names for the same flags, where it has them. */
static const char *kind_name(unsigned int f)
{
	static char other[24];

	switch (f) {
	case LOCKLAT_F_SPIN: return "spinlock";
	case LOCKLAT_F_SPIN | LOCKLAT_F_READ: return "rwlock-read";
	case LOCKLAT_F_SPIN | LOCKLAT_F_WRITE: return "rwlock-write";
	case LOCKLAT_F_READ: return "rwsem-read";
	case LOCKLAT_F_WRITE: return "rwsem-write";
	case LOCKLAT_F_RT: return "rtmutex";
	case LOCKLAT_F_RT | LOCKLAT_F_READ: return "rwlock-rt-read";
	case LOCKLAT_F_RT | LOCKLAT_F_WRITE: return "rwlock-rt-write";
	case LOCKLAT_F_PERCPU | LOCKLAT_F_READ: return "percpu-rwsem-read";
	case LOCKLAT_F_PERCPU | LOCKLAT_F_WRITE: return "percpu-rwsem-write";
	case LOCKLAT_F_MUTEX: return "mutex";
	default:
		snprintf(other, sizeof(other), "flags-0x%x", f);
		return other;
	}
}

static int label(const struct hl_hist *h, struct hl_label *l, char *scratch,
		 size_t len)
{
	unsigned int caller = h->id >> LOCKLAT_STACK_SHIFT &
			      LOCKLAT_STACK_MASK;
	int n = 0;

	(void)scratch;
	(void)len;
	l[n].name = "lock";
	l[n++].str = kind_name(h->dense ? dense_flags[h->id %
						      LOCKLAT_DENSE_KINDS] :
				   h->id & LOCKLAT_F_MASK);
	if (cfg.callers) {
		l[n].name = "caller";
		l[n++].str = caller < ncallers ? callers[caller] : "[unknown]";
	}
	return n;
}

static struct hl_tracer tracer = {
	.name = "locklat",
	.argp = { .options = options, .parser = parse,
		  .children = hl_owner_children },
	.doc = doc,
	.ops = &locklat_bpf_ops, .prepare = prepare,
	.keyed = true,
	.loop = { .what = "kernel lock waits",
		  .report = { .label = label },
		  .housekeeping = count_misses },
};

int main(int argc, char **argv)
{
	hl_tracer_start(&tracer, argc, argv);
	if (cfg.callers) {
		load_ksyms();
		tracer.loop.report.regroup = regroup;
	}
	cfg.skel = hl_tracer_attach(&tracer);
	return hl_tracer_run(&tracer);
}
