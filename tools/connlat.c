// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * connlat: how long do TCP connects take?
 * The measurement itself is in progs/connlat.bpf.c.
 */
#include <argp.h>
#include <stdio.h>
#include <string.h>
#include <linux/types.h>
#include "lib/common.h"
#include "connlat.h"
#include "connlat.skel.h"
#include "attach.h"
#include "cli.h"
#include "hist_maps.h"
#include "json.h"
#include "owner.h"
#include "report.h"
#include "sock.h"
#include "tracer.h"
#include "util.h"

HL_SKEL_OPS(connlat_bpf, HL_TRACEPOINT_METHODS, connlat_bpf__attach);

static struct {
	bool remote, has_threshold;
	uint64_t threshold_ns;
	struct connlat_bpf *skel;
} cfg;

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "Histograms:", 4 },
	{ "remote", 'R', NULL, 0,
	  "One histogram per remote address and port", 4 },
	{ "threshold", 'M', "MS", 0,
	  "Print each connect slower than MS milliseconds instead", 4 },
	{}
};

static error_t parse(int key, char *arg, struct argp_state *state)
{
	(void)state;
	switch (key) {
	case 'R': cfg.remote = true; break;
	case 'M':
		cfg.threshold_ns = hl_parse_ms(arg, "threshold");
		cfg.has_threshold = true;
		break;
	case ARGP_KEY_END:
		if (cfg.remote + cfg.has_threshold +
		    (hl_owner != HL_OWNER_NONE) > 1)
			hl_usage_error("-R, -M and -P/-L/--per-cgroup exclude "
				       "each other");
		break;
	default: return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const char doc[] =
"Summarize how long active TCP connects take, from the SYN sent to the "
"connection established, failed connects apart, as histograms with "
"percentiles.\v"
"EXAMPLES:\n"
"  connlat                  # every connect of the machine, at Ctrl-C\n"
"  connlat -R 10 1          # per remote address and port, over 10 s\n"
"  connlat -p 1234 -P       # one process's connects\n"
"  connlat -M 100           # print each connect slower than 100 ms\n"
"  connlat -j 1             # JSON Lines every second\n"
"\nIPv4 and IPv6. A connect that ends in a reset, a refusal or a "
"timeout is counted as failed. Passive opens (accept) are not timed: "
"see connlat(8).";

static int prepare(void *s, enum hl_method m, void *ctx)
{
	struct connlat_bpf *skel = s;

	(void)ctx;
	skel->rodata->filter_cfg = hl_opts.filter;
	skel->rodata->owner_mode = hl_owner;
	skel->rodata->per_remote = cfg.remote;
	skel->rodata->send_events = cfg.has_threshold;
	skel->rodata->threshold_ns = cfg.threshold_ns;
	if (!hl_select_programs(skel->obj, m, NULL))
		return -ENOENT;
	bpf_map__set_autocreate(skel->maps.events, cfg.has_threshold);
	bpf_map__set_autocreate(skel->maps.sock_addrs,
				cfg.remote || cfg.has_threshold);
	return hl_hist_maps_size(skel->obj, !cfg.has_threshold);
}

static int label(const struct hl_hist *h, struct hl_label *l, char *scratch,
		 size_t len)
{
	int n = 0;

	if (cfg.remote)
		n = hl_sock_label(cfg.skel->maps.sock_addrs, h->id, "raddr",
				  "rport", l, scratch, len);
	l[n].name = "result";
	l[n++].str = h->id & TCPCONN_FAILED_BIT ? "failed" : "ok";
	return n;
}

static int on_event(void *ctx, void *data, size_t size)
{
	const struct tcpconn_event *e = data;
	char addr[64], dur[16];
	unsigned int port;

	(void)ctx;
	if (size < sizeof(*e))
		return 0;
	hl_sock_addr(cfg.skel->maps.sock_addrs, e->remote, addr, sizeof(addr));
	port = e->remote & SOCK_PORT_MASK;
	if (hl_opts.json) {
		hl_json_begin(stdout, "event", "connlat");
		fputs(",\"time\":", stdout);
		hl_json_time(stdout, hl_wall_ns());
		printf(",\"pid\":%u,\"tid\":%u,\"comm\":", e->pid, e->tid);
		hl_json_str(stdout, e->comm);
		printf(",\"duration_ns\":%llu,\"raddr\":",
		       (unsigned long long)e->duration_ns);
		hl_json_str(stdout, addr);
		printf(",\"rport\":%u,\"result\":\"%s\"}\n", port,
		       e->failed ? "failed" : "ok");
	} else {
		hl_fmt_duration(dur, sizeof(dur), e->duration_ns);
		if (hl_opts.timestamp)
			hl_print_time_inline(stdout, hl_wall_ns());
		printf("%-7u %-7u %-16s %9s %-6s %s%s%s:%u\n", e->pid, e->tid,
		       e->comm, dur, e->failed ? "failed" : "ok",
		       e->remote & SOCK_V6_BIT ? "[" : "", addr,
		       e->remote & SOCK_V6_BIT ? "]" : "", port);
	}
	fflush(stdout);
	return 0;
}

static struct hl_tracer tracer = {
	.name = "connlat",
	.argp = { .options = options, .parser = parse,
		  .children = hl_owner_children },
	.doc = doc,
	.ops = &connlat_bpf_ops, .prepare = prepare,
	.keyed = true,
	.loop = { .what = "TCP connects", .report = { .label = label },
		  .on_event = on_event, .noun = "connects" },
};

int main(int argc, char **argv)
{
	static char header[80];

	hl_tracer_start(&tracer, argc, argv);
	tracer.events = cfg.has_threshold;
	tracer.keyed = !cfg.has_threshold;
	snprintf(header, sizeof(header), "%-7s %-7s %-16s %9s %-6s %s", "PID",
		 "TID", "COMM", "DURATION", "RESULT", "REMOTE");
	tracer.loop.header = header;
	cfg.skel = hl_tracer_attach(&tracer);
	return hl_tracer_run(&tracer);
}
