// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * jitlat: how long does the JVM spend JIT-compiling methods?
 * The measurement is in progs/jitlat.bpf.c.
 */
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <linux/types.h>
#include "lib/common.h"
#include "jitlat.h"
#include "jitlat.skel.h"
#include "attach.h"
#include "cli.h"
#include "kfeatures.h"
#include "hist_maps.h"
#include "json.h"
#include "jvm.h"
#include "owner.h"
#include "report.h"
#include "top.h"
#include "tracer.h"
#include "usdt.h"
#include "util.h"

#define PROVIDER "hotspot"
#define TOP_ROWS_KEPT 20000

static int attach_markers(struct jitlat_bpf *skel);
HL_SKEL_OPS(jitlat_bpf, 1U << HL_USDT, attach_markers);

static const char *const compiler_names[] = { "?", "C1", "C2", "other" };

static struct {
	const char *jvm;
	char path[PATH_MAX];
	bool per_compiler, has_threshold;
	uint64_t threshold_ns, top, seen[JIT_COUNTERS];
	struct jitlat_bpf *skel;
} cfg;

enum { OPT_JVM = 0x300, OPT_TOP, OPT_PER_COMPILER };

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "JVM:", 4 },
	HL_JVM_OPTION(OPT_JVM, 4),
	{ "threshold", 'M', "MS", 0,
	  "Print each compilation slower than MS milliseconds", 4 },
	{ "top", OPT_TOP, "N", 0,
	  "Table of the N methods with the most compile time", 4 },
	{ "per-compiler", OPT_PER_COMPILER, NULL, 0,
	  "One histogram per compiler (C1, C2)", 4 },
	{}
};

static error_t parse(int key, char *arg, struct argp_state *state)
{
	(void)state;
	switch (key) {
	case OPT_JVM: cfg.jvm = arg; break;
	case OPT_PER_COMPILER: cfg.per_compiler = true; break;
	case 'M':
		cfg.threshold_ns = hl_parse_ms(arg, "threshold");
		cfg.has_threshold = true;
		break;
	case OPT_TOP:
		if (!hl_parse_u64(arg, 1, 100000, &cfg.top))
			hl_usage_error("invalid --top '%s': expected a number "
				       "from 1 to 100000", arg);
		break;
	case ARGP_KEY_END:
		if (cfg.has_threshold + !!cfg.top + cfg.per_compiler > 1)
			hl_usage_error("-M, --top and --per-compiler exclude "
				       "each other");
		break;
	default: return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const char doc[] =
"Summarize how long HotSpot JIT compilations take, from the JVM's own "
"markers (no JVM flags needed), as a histogram with percentiles.\v"
"EXAMPLES:\n"
"  jitlat                    # every compilation of every JVM, at Ctrl-C\n"
"  jitlat -p 4242 1 10       # one JVM, ten one-second histograms\n"
"  jitlat --per-compiler     # C1 and C2 apart\n"
"  jitlat -M 50              # print compilations slower than 50 ms\n"
"  jitlat --top 10           # methods with the most compile time\n"
"  jitlat --jvm /usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so\n"
"\nSee jitlat(8).";

static bool events_mode(void)
{
	return cfg.has_threshold || cfg.top;
}

static int prepare(void *s, enum hl_method m, void *ctx)
{
	struct jitlat_bpf *skel = s;

	(void)m;
	(void)ctx;
	skel->rodata->filter_cfg = hl_opts.filter;
	skel->rodata->owner_mode = hl_owner;
	skel->rodata->have_task_storage = hl_tstore_setup(skel->obj);
	skel->rodata->key_mode = cfg.per_compiler ? JIT_KEY_COMPILER :
						    JIT_KEY_NONE;
	skel->rodata->threshold_ns = cfg.top ? 0 : cfg.threshold_ns;
	hl_select_programs(skel->obj, HL_USDT, events_mode() ? "_ev" : "_hist");
	bpf_map__set_autocreate(skel->maps.events, events_mode());
	return hl_hist_maps_size(skel->obj, cfg.per_compiler);
}

static const struct hl_marker_prog markers[] = {
	{ "begin", PROVIDER, "method__compile__begin" },
	{ "end", PROVIDER, "method__compile__end" },
	{}
};

static int attach_markers(struct jitlat_bpf *skel)
{
	return hl_attach_markers(skel->obj, cfg.path, markers,
				 hl_opts.filter.tgid);
}

static void resolve_target(void)
{
	hl_jvm_find(cfg.jvm, hl_opts.filter.tgid, cfg.path, sizeof(cfg.path));
	hl_usdt_require_all(cfg.path, markers);
	hl_check_addressable(cfg.path, hl_opts.filter.tgid);
}

static int counters(struct hl_label *c, int max)
{
	static const char *const names[JIT_COUNTERS] = {
		[JIT_CNT_FAILED] = "failed",
	};

	return hl_counter_labels(cfg.skel->maps.counters, names, JIT_COUNTERS,
				 cfg.seen, c, max);
}

static const char *compiler_name(uint64_t id)
{
	return id < sizeof(compiler_names) / sizeof(*compiler_names) ?
	       compiler_names[id] : "?";
}

static int label(const struct hl_hist *h, struct hl_label *l, char *scratch,
		 size_t len)
{
	(void)scratch;
	(void)len;
	l[0].name = "compiler";
	l[0].str = compiler_name(h->id);
	return 1;
}

static void print_event(const struct jit_event *e)
{
	char dur[16];

	if (hl_opts.json) {
		hl_json_begin(stdout, "event", "jitlat");
		fputs(",\"time\":", stdout);
		hl_json_time(stdout, hl_wall_ns());
		printf(",\"pid\":%u,\"tid\":%u,\"compiler\":\"%s\","
		       "\"duration_ns\":%llu,\"success\":%s,\"class\":",
		       e->pid, e->tid, compiler_name(e->compiler),
		       (unsigned long long)e->duration_ns,
		       e->success ? "true" : "false");
		hl_json_str(stdout, e->klass);
		fputs(",\"method\":", stdout);
		hl_json_str(stdout, e->method);
		fputs(",\"signature\":", stdout);
		hl_json_str(stdout, e->sig);
		fputs("}\n", stdout);
	} else {
		hl_fmt_duration(dur, sizeof(dur), e->duration_ns);
		if (hl_opts.timestamp)
			hl_print_time_inline(stdout, hl_wall_ns());
		printf("%-7u %-7u %-5s %9s %s%s.%s %s\n", e->pid, e->tid,
		       compiler_name(e->compiler), dur,
		       e->success ? "" : "FAILED ", e->klass, e->method,
		       e->sig);
	}
	fflush(stdout);
}

static int on_event(void *ctx, void *data, size_t size)
{
	const struct jit_event *e = data;
	char text[JIT_CLASS_MAX + JIT_METHOD_MAX + JIT_SIG_MAX + 2];

	if (size < sizeof(*e))
		return 0;
	if (!cfg.top) {
		print_event(e);
		return 0;
	}
	snprintf(text, sizeof(text), "%.*s.%.*s %.*s", JIT_CLASS_MAX,
		 e->klass, JIT_METHOD_MAX, e->method, JIT_SIG_MAX, e->sig);
	hl_top_add(ctx, text, e->duration_ns, !e->success);
	return 0;
}

static struct hl_tracer tracer = {
	.name = "jitlat", .user_space = true,
	.argp = { .options = options, .parser = parse, .children = hl_owner_children }, .doc = doc,
	.ops = &jitlat_bpf_ops, .prepare = prepare, .path = cfg.path,
	.loop = {
		.what = "JIT compilations", .report = { .counters = counters },
		.on_event = on_event, .noun = "compilations",
		.top_kept = TOP_ROWS_KEPT,
	},
};

int main(int argc, char **argv)
{
	static char header[64];

	hl_tracer_start(&tracer, argc, argv);
	resolve_target();
	tracer.keyed = cfg.per_compiler;
	if (cfg.per_compiler)
		tracer.loop.report.label = label;
	tracer.events = events_mode();
	tracer.loop.top_rows = cfg.top;
	snprintf(header, sizeof(header), "%-7s %-7s %-5s %9s %s", "PID",
		 "TID", "COMP", "DURATION", "METHOD");
	tracer.loop.header = header;
	cfg.skel = hl_tracer_attach(&tracer);
	return hl_tracer_run(&tracer);
}
