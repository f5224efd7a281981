// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * usdtlat: how long from one user-space marker to another, in any binary.
 * The measurement is in progs/usdtlat.bpf.c.
 */
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <linux/types.h>
#include "lib/common.h"
#include "usdtlat.h"
#include "usdtlat.skel.h"
#include "attach.h"
#include "cli.h"
#include "hist_maps.h"
#include "json.h"
#include "owner.h"
#include "report.h"
#include "target.h"
#include "tracer.h"
#include "usdt.h"
#include "util.h"

#define DEFAULT_TIMEOUT_S 10
#define MAX_TIMEOUT_S 86400

static int attach_markers(struct usdtlat_bpf *skel);
HL_SKEL_OPS(usdtlat_bpf, 1U << HL_USDT, attach_markers);

/* An argument of a marker, as -a, --by and --key name them. */
struct arg_ref {
	int n;
	bool str;
};

/* "provider:name" of the command line, split. */
struct marker {
	char provider[128];
	char name[128];
	int nargs;
};

static struct {
	const char *binary;
	char path[PATH_MAX];
	struct marker start, end;
	bool by_key, has_by, has_threshold;
	int key_start, key_end;
	struct arg_ref by, shown[USDT_SHOWN];
	char by_label[8];	/* "arg11": the --by key's name */
	int nshown;
	uint64_t threshold_ns, timeout_ns, seen[USDT_COUNTERS];
	struct usdtlat_bpf *skel;
} cfg = { .timeout_ns = DEFAULT_TIMEOUT_S * 1000000000ULL };

static struct hl_tracer tracer;	/* defined after its callbacks */

enum { OPT_KEY = 0x300, OPT_BY, OPT_TIMEOUT };

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "Pairing and output:", 4 },
	{ "key", OPT_KEY, "N[,M]", 0,
	  "Pair START and END by the value of argument N of both (START's N, "
	  "END's M), across threads; default: on one thread, innermost first",
	  4 },
	{ "by", OPT_BY, "N[:str]", 0,
	  "One histogram per value of START's argument N (:str: a string)",
	  4 },
	{ "threshold", 'M', "MS", 0,
	  "Print each interval longer than MS milliseconds", 4 },
	{ "arg", 'a', "N[:str]", 0,
	  "With -M, print START's argument N (repeatable, 4 at most)", 4 },
	{ "timeout", OPT_TIMEOUT, "S", 0,
	  "A START open for S seconds never ends: drop it, count it lost "
	  "(default 10)", 4 },
	{}
};

static void parse_marker(const char *arg, const char *what, struct marker *m)
{
	const char *colon = strchr(arg, ':');

	if (!colon || colon == arg || !colon[1] || strchr(colon + 1, ':') ||
	    (size_t)(colon - arg) >= sizeof(m->provider) ||
	    strlen(colon + 1) >= sizeof(m->name))
		hl_usage_error("invalid %s marker '%s': expected "
			       "PROVIDER:NAME", what, arg);
	snprintf(m->provider, sizeof(m->provider), "%.*s",
		 (int)(colon - arg), arg);
	snprintf(m->name, sizeof(m->name), "%s", colon + 1);
}

static int parse_index(const char *s, const char *what, const char *arg)
{
	uint64_t v;

	if (!hl_parse_u64(s, 0, 11, &v))
		hl_usage_error("invalid %s '%s': expected an argument number "
			       "from 0 to 11", what, arg);
	return (int)v;
}

/* "N" or "N:str". */
static struct arg_ref parse_arg_ref(char *arg, const char *what)
{
	struct arg_ref r = { 0, false };
	char *colon = strchr(arg, ':'), n[16];

	if (colon && strcmp(colon, ":str"))
		hl_usage_error("invalid %s '%s': expected N or N:str", what,
			       arg);
	snprintf(n, sizeof(n), "%.*s", colon ? (int)(colon - arg) : 15, arg);
	r.n = parse_index(n, what, arg);
	r.str = colon != NULL;
	return r;
}

static void parse_key(char *arg)
{
	char *comma = strchr(arg, ','), n[16];

	snprintf(n, sizeof(n), "%.*s", comma ? (int)(comma - arg) : 15, arg);
	cfg.key_start = parse_index(n, "--key", arg);
	cfg.key_end = comma ? parse_index(comma + 1, "--key", arg) :
			      cfg.key_start;
	cfg.by_key = true;
}

static void parse_positional(struct argp_state *state, char *arg)
{
	if (state->arg_num == 0)
		cfg.binary = arg;
	else if (state->arg_num == 1)
		parse_marker(arg, "START", &cfg.start);
	else
		parse_marker(arg, "END", &cfg.end);
}

static void check_options(void)
{
	if (!cfg.end.name[0])
		hl_usage_error("expected BINARY PROVIDER:START PROVIDER:END");
	if (!strcmp(cfg.start.provider, cfg.end.provider) &&
	    !strcmp(cfg.start.name, cfg.end.name))
		hl_usage_error("START and END are the same marker");
	if (cfg.nshown && !cfg.has_threshold)
		hl_usage_error("-a prints arguments of -M events: add -M");
	if (cfg.has_by && cfg.has_threshold)
		hl_usage_error("--by and -M exclude each other");
}

static error_t parse(int key, char *arg, struct argp_state *state)
{
	uint64_t v;

	switch (key) {
	case OPT_KEY: parse_key(arg); break;
	case OPT_BY:
		cfg.by = parse_arg_ref(arg, "--by");
		snprintf(cfg.by_label, sizeof(cfg.by_label), "arg%d", cfg.by.n);
		cfg.has_by = true;
		break;
	case 'a':
		if (cfg.nshown == USDT_SHOWN)
			hl_usage_error("at most %d -a arguments", USDT_SHOWN);
		cfg.shown[cfg.nshown++] = parse_arg_ref(arg, "-a");
		break;
	case 'M':
		cfg.threshold_ns = hl_parse_ms(arg, "threshold");
		cfg.has_threshold = true;
		break;
	case OPT_TIMEOUT:
		if (!hl_parse_u64(arg, 1, MAX_TIMEOUT_S, &v))
			hl_usage_error("invalid --timeout '%s': expected "
				       "seconds from 1 to %d", arg,
				       MAX_TIMEOUT_S);
		cfg.timeout_ns = v * 1000000000ULL;
		break;
	case ARGP_KEY_ARG:
		if (state->arg_num >= 3)
			return ARGP_ERR_UNKNOWN;	/* interval, count */
		parse_positional(state, arg);
		break;
	case ARGP_KEY_END: check_options(); break;
	default: return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const char doc[] =
"Summarize the time from one user-space marker (USDT) to another in any "
"binary, as a histogram with percentiles. START and END pair on one thread "
"(nested pairs innermost first), or by an argument value with --key.\v"
"EXAMPLES:\n"
"  usdtlat /usr/bin/python3.11 python:gc__start python:gc__done\n"
"  usdtlat -p 4242 libjvm.so \\\n"
"      hotspot:thread__park__begin hotspot:thread__park__end\n"
"  usdtlat --by 0 /usr/bin/python3.11 python:gc__start python:gc__done\n"
"  usdtlat -M 10 -a 0:str ./server app:req__start app:req__done\n"
"  usdtlat --key 0 ./server app:job__queued app:job__done 5\n"
"\nList a binary's markers with usdtlist(8). See usdtlat(8).";

static void resolve_target(void)
{
	struct hl_usdt_list l;
	const struct hl_usdt *s;
	int err;

	err = hl_target_resolve(cfg.binary, hl_opts.filter.tgid, cfg.path,
				sizeof(cfg.path));
	if (err)
		hl_target_die(cfg.binary, err);
	hl_usdt_read_or_die(cfg.path, &l);
	hl_usdt_require(&l, cfg.path, cfg.start.provider, cfg.start.name);
	hl_usdt_require(&l, cfg.path, cfg.end.provider, cfg.end.name);
	s = hl_usdt_find(&l, cfg.start.provider, cfg.start.name, NULL);
	cfg.start.nargs = s->nargs;
	s = hl_usdt_find(&l, cfg.end.provider, cfg.end.name, NULL);
	cfg.end.nargs = s->nargs;
	hl_usdt_free(&l);
}

static void check_arg(int n, const struct marker *m, const char *what)
{
	if (n >= m->nargs)
		hl_usage_error("%s: %s:%s has %d argument%s (0 to %d)", what,
			       m->provider, m->name, m->nargs,
			       m->nargs == 1 ? "" : "s", m->nargs - 1);
}

static void check_args(void)
{
	if (cfg.by_key) {
		check_arg(cfg.key_start, &cfg.start, "--key");
		check_arg(cfg.key_end, &cfg.end, "--key");
	}
	if (cfg.has_by)
		check_arg(cfg.by.n, &cfg.start, "--by");
	for (int i = 0; i < cfg.nshown; i++)
		check_arg(cfg.shown[i].n, &cfg.start, "-a");
}

static int prepare(void *s, enum hl_method m, void *ctx)
{
	struct usdtlat_bpf *skel = s;
	struct usdtlat_bpf__rodata *ro = skel->rodata;

	(void)m;
	(void)ctx;
	ro->filter_cfg = hl_opts.filter;
	ro->owner_mode = hl_owner;
	ro->key_start_arg = cfg.by_key ? cfg.key_start : -1;
	ro->key_end_arg = cfg.by_key ? cfg.key_end : -1;
	ro->by_arg = cfg.has_by ? cfg.by.n : -1;
	ro->by_str = cfg.by.str;
	ro->nshown = cfg.nshown;
	for (int i = 0; i < cfg.nshown; i++) {
		ro->shown_arg[i] = cfg.shown[i].n;
		if (cfg.shown[i].str)
			ro->shown_str_mask |= 1U << i;
	}
	ro->events_mode = cfg.has_threshold;
	ro->threshold_ns = cfg.threshold_ns;
	hl_select_programs(skel->obj, HL_USDT, cfg.by_key ? "_key" :
							 "_thread");
	bpf_map__set_autocreate(skel->maps.events, cfg.has_threshold);
	return hl_hist_maps_size(skel->obj, cfg.has_by);
}

static int attach_markers(struct usdtlat_bpf *skel)
{
	const struct hl_marker_prog markers[] = {
		{ "start_", cfg.start.provider, cfg.start.name },
		{ "end_", cfg.end.provider, cfg.end.name },
		{}
	};

	return hl_attach_markers(skel->obj, cfg.path, markers,
				 hl_opts.filter.tgid);
}

/* A START open longer than the timeout will not end (its END was missed
 * or its thread died): drop it and count it lost. */
static bool stale(uint64_t ts, uint64_t now)
{
	return ts && now > ts && now - ts > cfg.timeout_ns;
}

static void expire_threads(uint64_t now)
{
	int fd = bpf_map__fd(cfg.skel->maps.stacks);
	struct usdt_stack st;
	__u32 key, next, *prev = NULL;
	const struct usdt_start *top;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &st))
			continue;
		top = &st.s[st.depth ? (st.depth - 1) % USDT_DEPTH : 0];
		if (!stale(top->ts, now))
			continue;
		/* Deleting the key get_next_key stands on restarts the
		 * walk: fine, stale entries are gone by then. */
		if (!bpf_map_delete_elem(fd, &key)) {
			hl_hist_lost_add(&tracer.maps, st.depth);
			prev = NULL;
		}
	}
}

static void expire_keys(uint64_t now)
{
	int fd = bpf_map__fd(cfg.skel->maps.keyed);
	struct usdt_start s;
	__u64 key, next, *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &s) || !stale(s.ts, now))
			continue;
		if (!bpf_map_delete_elem(fd, &key)) {
			hl_hist_lost_add(&tracer.maps, 1);
			prev = NULL;
		}
	}
}

static void expire(void)
{
	if (cfg.by_key)
		expire_keys(hl_now_ns());
	else
		expire_threads(hl_now_ns());
}

static int counters(struct hl_label *c, int max)
{
	static const char *const names[USDT_COUNTERS] = {
		[USDT_CNT_UNMATCHED] = "unmatched",
	};

	return hl_counter_labels(cfg.skel->maps.counters, names,
				 USDT_COUNTERS, cfg.seen, c, max);
}

static int label(const struct hl_hist *h, struct hl_label *l, char *scratch,
		 size_t len)
{
	struct usdt_name name;
	__u64 id = h->id;

	l[0].name = cfg.by_label;
	if (!cfg.by.str) {
		l[0].str = NULL;
		l[0].num = id;
		return 1;
	}
	if (bpf_map__lookup_elem(cfg.skel->maps.by_names, &id, sizeof(id),
				 &name, sizeof(name), 0))
		strcpy(name.s, "?");
	name.s[sizeof(name.s) - 1] = '\0';
	snprintf(scratch, len, "%s", name.s);
	l[0].str = scratch;
	return 1;
}

static void print_arg_json(const struct usdt_start *s, int i)
{
	printf(",\"arg%d\":", cfg.shown[i].n);
	if (cfg.shown[i].str)
		hl_json_str(stdout, s->str[i]);
	else
		printf("%lld", (long long)s->shown[i]);
}

static void print_event(const struct usdt_event *e)
{
	const struct usdt_start *s = &e->start;
	char dur[16];

	if (hl_opts.json) {
		hl_json_begin(stdout, "event", "usdtlat");
		fputs(",\"time\":", stdout);
		hl_json_time(stdout, hl_wall_ns());
		printf(",\"pid\":%u,\"tid\":%u,\"end_tid\":%u,"
		       "\"duration_ns\":%llu", s->pid, s->tid, e->end_tid,
		       (unsigned long long)e->duration_ns);
		for (int i = 0; i < cfg.nshown; i++)
			print_arg_json(s, i);
		fputs("}\n", stdout);
		return;
	}
	hl_fmt_duration(dur, sizeof(dur), e->duration_ns);
	if (hl_opts.timestamp)
		hl_print_time_inline(stdout, hl_wall_ns());
	printf("%-7u %-7u %9s", s->pid, s->tid, dur);
	for (int i = 0; i < cfg.nshown; i++)
		if (cfg.shown[i].str)
			printf(" %s", s->str[i]);
		else
			printf(" %lld", (long long)s->shown[i]);
	putchar('\n');
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct usdt_event e;

	(void)ctx;
	if (size < sizeof(e))
		return 0;
	memcpy(&e, data, sizeof(e));
	for (int i = 0; i < USDT_SHOWN; i++)
		e.start.str[i][USDT_STR_MAX - 1] = '\0';
	print_event(&e);
	fflush(stdout);
	return 0;
}

static struct hl_tracer tracer = {
	.name = "usdtlat", .user_space = true,
	.argp = { .options = options, .parser = parse, .children = hl_owner_children }, .doc = doc,
	.args_doc = "BINARY PROVIDER:START PROVIDER:END [interval [count]]",
	.npos = 3,
	.ops = &usdtlat_bpf_ops, .prepare = prepare, .path = cfg.path,
	.loop = {
		.report = { .counters = counters }, .housekeeping = expire,
		.on_event = on_event, .noun = "intervals",
		.lost_why = "the event buffer was full, or START never ended",
	},
};

int main(int argc, char **argv)
{
	static char what[4 * 128 + 8], header[128];
	size_t n;

	hl_tracer_start(&tracer, argc, argv);
	resolve_target();
	check_args();
	hl_check_addressable(cfg.path, hl_opts.filter.tgid);
	tracer.keyed = cfg.has_by;
	if (cfg.has_by)
		tracer.loop.report.label = label;
	tracer.events = cfg.has_threshold;
	snprintf(what, sizeof(what), "%s:%s to %s:%s", cfg.start.provider,
		 cfg.start.name, cfg.end.provider, cfg.end.name);
	tracer.loop.what = what;
	n = snprintf(header, sizeof(header), "%-7s %-7s %9s", "PID", "TID",
		     "DURATION");
	for (int i = 0; i < cfg.nshown && n < sizeof(header); i++)
		n += snprintf(header + n, sizeof(header) - n, " ARG%d",
			      cfg.shown[i].n);
	tracer.loop.header = header;
	cfg.skel = hl_tracer_attach(&tracer);
	return hl_tracer_run(&tracer);
}
