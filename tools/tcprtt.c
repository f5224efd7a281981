// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tcprtt: what round-trip times do TCP connections see?
 * The measurement itself is in progs/tcprtt.bpf.c.
 */
#include <argp.h>
#include <stdio.h>
#include <string.h>
#include <linux/types.h>
#include "lib/common.h"
#include "tcprtt.h"
#include "tcprtt.skel.h"
#include "attach.h"
#include "cli.h"
#include "hist_maps.h"
#include "report.h"
#include "sock.h"
#include "tracer.h"
#include "util.h"

HL_SKEL_OPS(tcprtt_bpf, HL_TRACEPOINT_METHODS, tcprtt_bpf__attach);

static struct {
	enum tcprtt_key key;
	struct tcprtt_bpf *skel;
} cfg;

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "Histograms:", 4 },
	{ "remote", 'R', NULL, 0,
	  "One histogram per remote address and port", 4 },
	{ "local", 'l', NULL, 0,
	  "One histogram per local address and port", 4 },
	{}
};

static error_t parse(int key, char *arg, struct argp_state *state)
{
	enum tcprtt_key k = key == 'R' ? TCPRTT_KEY_REMOTE : TCPRTT_KEY_LOCAL;

	(void)arg;
	(void)state;
	switch (key) {
	case 'R':
	case 'l':
		if (cfg.key && cfg.key != k)
			hl_usage_error("-R and -l exclude each other");
		cfg.key = k;
		break;
	default: return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const char doc[] =
"Summarize the smoothed round-trip time of TCP connections, sampled at "
"each segment they receive, as histograms with percentiles.\v"
"EXAMPLES:\n"
"  tcprtt                      # every connection, at Ctrl-C\n"
"  tcprtt -R 10 1              # per remote address and port, over 10 s\n"
"  tcprtt -l -m                # per local address and port, in ms\n"
"  tcprtt -j 1                 # JSON Lines every second\n"
"\nIPv4 and IPv6. The samples are the kernel's smoothed RTT (srtt), "
"weighted by the segments received. There is no -p: the samples are "
"taken in softirq, where no process owns them; see tcprtt(8).";

static int prepare(void *s, enum hl_method m, void *ctx)
{
	struct tcprtt_bpf *skel = s;

	(void)ctx;
	skel->rodata->key_mode = cfg.key;
	if (!hl_select_programs(skel->obj, m, NULL))
		return -ENOENT;
	bpf_map__set_autocreate(skel->maps.sock_addrs, cfg.key);
	return hl_hist_maps_size(skel->obj, cfg.key);
}

static int label(const struct hl_hist *h, struct hl_label *l, char *scratch,
		 size_t len)
{
	bool remote = cfg.key == TCPRTT_KEY_REMOTE;

	return hl_sock_label(cfg.skel->maps.sock_addrs, h->id,
			     remote ? "raddr" : "laddr",
			     remote ? "rport" : "lport", l, scratch, len);
}

static struct hl_tracer tracer = {
	.name = "tcprtt", .no_task = true,
	.argp = { .options = options, .parser = parse },
	.doc = doc,
	.ops = &tcprtt_bpf_ops, .prepare = prepare,
	.loop = { .what = "TCP round-trip times" },
};

int main(int argc, char **argv)
{
	hl_tracer_start(&tracer, argc, argv);
	tracer.keyed = cfg.key != TCPRTT_KEY_NONE;
	if (tracer.keyed)
		tracer.loop.report.label = label;
	cfg.skel = hl_tracer_attach(&tracer);
	return hl_tracer_run(&tracer);
}
