// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * jvmpauselat: how long does the JVM stop the world?
 * The measurement is in progs/jvmpauselat.bpf.c.
 */
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>
#include <linux/types.h>
#include "lib/common.h"
#include "jvmpauselat.h"
#include "jvmpauselat.skel.h"
#include "attach.h"
#include "cli.h"
#include "kfeatures.h"
#include "hist_maps.h"
#include "json.h"
#include "jvm.h"
#include "owner.h"
#include "report.h"
#include "tracer.h"
#include "usdt.h"
#include "util.h"

static int attach_markers(struct jvmpauselat_bpf *skel);
HL_SKEL_OPS(jvmpauselat_bpf, 1U << HL_USDT, attach_markers);

static const struct hl_marker_prog markers[] = {
	{ "sp_begin", "hs_private", "safepoint__begin" },
	{ "sp_end", "hs_private", "safepoint__end" },
	{ "label_op", "hotspot", "vmops__begin" },
	{ "label_gc", "hotspot", "gc__begin" },
	{}
};

/*
 * gc__begin only says whether a collection is full. The pauses of a
 * concurrent collector's cycle (G1's remark and cleanup, ZGC's,
 * Shenandoah's) say "not full" too but collect no young generation: their
 * operations, named here by prefix, tell them apart.
 */
static const char *const concurrent_ops[] = {
	"G1PauseRemark", "G1PauseCleanup", "G1Concurrent", "Z", "Shenandoah",
};

static struct {
	const char *jvm;
	char path[PATH_MAX];
	bool per_op, has_threshold;
	uint64_t threshold_ns;
	struct jvmpauselat_bpf *skel;
} cfg;

enum { OPT_JVM = 0x300, OPT_PER_OP };

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "JVM:", 4 },
	HL_JVM_OPTION(OPT_JVM, 4),
	{ "threshold", 'M', "MS", 0,
	  "Print each pause longer than MS milliseconds, with its operation",
	  4 },
	{ "per-op", OPT_PER_OP, NULL, 0,
	  "One histogram per VM operation (and young/full collection)", 4 },
	{}
};

static error_t parse(int key, char *arg, struct argp_state *state)
{
	(void)state;
	switch (key) {
	case OPT_JVM: cfg.jvm = arg; break;
	case OPT_PER_OP: cfg.per_op = true; break;
	case 'M':
		cfg.threshold_ns = hl_parse_ms(arg, "threshold");
		cfg.has_threshold = true;
		break;
	case ARGP_KEY_END:
		if (cfg.has_threshold && cfg.per_op)
			hl_usage_error("-M and --per-op exclude each other");
		break;
	default: return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const char doc[] =
"Summarize how long HotSpot JVMs stop the world: every safepoint pause, "
"from the request to stop the Java threads until they run again, from the "
"JVM's own markers (no JVM flags needed), as a histogram with "
"percentiles.\v"
"EXAMPLES:\n"
"  jvmpauselat                  # every pause of every JVM, at Ctrl-C\n"
"  jvmpauselat -p 4242 10 6     # one JVM, six ten-second histograms\n"
"  jvmpauselat --per-op         # per VM operation, GCs young/full apart\n"
"  jvmpauselat -M 20            # print each pause longer than 20 ms\n"
"  jvmpauselat -M 0 -j          # every pause as a JSON line\n"
"  jvmpauselat --jvm /usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so\n"
"\nSee jvmpauselat(8).";

static int prepare(void *s, enum hl_method m, void *ctx)
{
	struct jvmpauselat_bpf *skel = s;
	bool labels = cfg.per_op || cfg.has_threshold;

	(void)m;
	(void)ctx;
	skel->rodata->filter_cfg = hl_opts.filter;
	skel->rodata->owner_mode = hl_owner;
	skel->rodata->have_task_storage = hl_tstore_setup(skel->obj);
	skel->rodata->per_op = cfg.per_op;
	skel->rodata->threshold_ns = cfg.threshold_ns;
	bpf_program__set_autoload(skel->progs.label_op, labels);
	bpf_program__set_autoload(skel->progs.label_gc, labels);
	bpf_program__set_autoload(skel->progs.sp_end_hist, !cfg.has_threshold);
	bpf_program__set_autoload(skel->progs.sp_end_ev, cfg.has_threshold);
	bpf_map__set_autocreate(skel->maps.events, cfg.has_threshold);
	return hl_hist_maps_size(skel->obj, cfg.per_op);
}

static int attach_markers(struct jvmpauselat_bpf *skel)
{
	return hl_attach_markers(skel->obj, cfg.path, markers,
				 hl_opts.filter.tgid);
}

/* "young", "full", "concurrent", or NULL for a pause that collected
 * nothing. */
static const char *gc_name(uint32_t gc, const char *op)
{
	size_t i;

	if (gc == PAUSE_GC_FULL)
		return "full";
	if (gc != PAUSE_GC_YOUNG)
		return NULL;
	for (i = 0; i < sizeof(concurrent_ops) / sizeof(*concurrent_ops); i++)
		if (!strncmp(op, concurrent_ops[i], strlen(concurrent_ops[i])))
			return "concurrent";
	return "young";
}

/* A pause in which no VM operation began (none is known to do so). */
static const char *op_or_none(const char *op)
{
	return *op ? op : "(none)";
}

static int label(const struct hl_hist *h, struct hl_label *l, char *scratch,
		 size_t len)
{
	__u64 hash = h->id >> PAUSE_KEY_GC_BITS;
	uint32_t gc_kind = h->id & ((1U << PAUSE_KEY_GC_BITS) - 1);
	struct pause_op_name op;
	const char *gc;

	/* Hash 0: no operation began in those pauses. */
	op.name[0] = '\0';
	if (hash && bpf_map__lookup_elem(cfg.skel->maps.op_names, &hash,
					 sizeof(hash), &op, sizeof(op), 0))
		strcpy(op.name, "?");
	op.name[sizeof(op.name) - 1] = '\0';
	gc = gc_name(gc_kind, op.name);
	snprintf(scratch, len, "%s", op_or_none(op.name));
	l[0].name = "op";
	l[0].str = scratch;
	if (!gc)
		return 1;
	l[1].name = "gc";
	l[1].str = gc;
	return 2;
}

static void print_event(const struct pause_event *e)
{
	const char *gc = gc_name(e->gc, e->op.name);
	char dur[16], reach[16];

	if (hl_opts.json) {
		hl_json_begin(stdout, "event", "jvmpauselat");
		fputs(",\"time\":", stdout);
		hl_json_time(stdout, hl_wall_ns());
		printf(",\"pid\":%u,\"tid\":%u,\"duration_ns\":%llu,"
		       "\"reach_ns\":%llu,\"op\":", e->pid, e->tid,
		       (unsigned long long)e->duration_ns,
		       (unsigned long long)e->reach_ns);
		hl_json_str(stdout, e->op.name);
		fputs(",\"gc\":", stdout);
		if (gc)
			hl_json_str(stdout, gc);
		else
			fputs("null", stdout);
		fputs("}\n", stdout);
	} else {
		hl_fmt_duration(dur, sizeof(dur), e->duration_ns);
		hl_fmt_duration(reach, sizeof(reach), e->reach_ns);
		if (hl_opts.timestamp)
			hl_print_time_inline(stdout, hl_wall_ns());
		printf("%-7u %-7u %9s %9s %-5s %s\n", e->pid, e->tid, dur,
		       reach, gc ? gc : "-", op_or_none(e->op.name));
	}
	fflush(stdout);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct pause_event e;

	(void)ctx;
	if (size < sizeof(e))
		return 0;
	memcpy(&e, data, sizeof(e));
	e.op.name[sizeof(e.op.name) - 1] = '\0';
	print_event(&e);
	return 0;
}

static struct hl_tracer tracer = {
	.name = "jvmpauselat", .user_space = true,
	.argp = { .options = options, .parser = parse, .children = hl_owner_children }, .doc = doc,
	.ops = &jvmpauselat_bpf_ops, .prepare = prepare, .path = cfg.path,
	.loop = { .what = "JVM pauses", .on_event = on_event,
		  .noun = "pauses" },
};

int main(int argc, char **argv)
{
	static char header[64];

	hl_tracer_start(&tracer, argc, argv);
	hl_jvm_find(cfg.jvm, hl_opts.filter.tgid, cfg.path, sizeof(cfg.path));
	hl_usdt_require_all(cfg.path, markers);
	hl_check_addressable(cfg.path, hl_opts.filter.tgid);
	tracer.keyed = cfg.per_op;
	if (cfg.per_op)
		tracer.loop.report.label = label;
	tracer.events = cfg.has_threshold;
	snprintf(header, sizeof(header), "%-7s %-7s %9s %9s %-5s %s", "PID",
		 "TID", "PAUSE", "REACH", "GC", "OPERATION");
	tracer.loop.header = header;
	cfg.skel = hl_tracer_attach(&tracer);
	return hl_tracer_run(&tracer);
}
