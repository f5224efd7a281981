// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * rttlat: what round-trip times do TCP connections see?
 * The measurement itself is in progs/rttlat.bpf.c.
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/types.h>
#include "lib/common.h"
#include "rttlat.h"
#include "rttlat.skel.h"
#include "attach.h"
#include "cgroup.h"
#include "cli.h"
#include "hist_maps.h"
#include "report.h"
#include "sock.h"
#include "tracer.h"
#include "util.h"

HL_SKEL_OPS(rttlat_bpf, HL_TRACEPOINT_METHODS, rttlat_bpf__attach);

static struct {
	enum rttlat_key key;
	struct rttlat_bpf *skel;
	char cgroup[4096];	/* -c below the cgroup2 mount */
} cfg;

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "Histograms:", 4 },
	{ "remote", 'R', NULL, 0,
	  "One histogram per remote address and port", 4 },
	{ "local", 'l', NULL, 0,
	  "One histogram per local address and port", 4 },
	{}
};

/* -p, -c, --comm: the sockets that processes hold open. */
static bool by_owner(void)
{
	return hl_opts.filter.tgid || hl_opts.filter.has_comm ||
	       hl_opts.cgroup_path;
}

static error_t parse(int key, char *arg, struct argp_state *state)
{
	enum rttlat_key k = key == 'R' ? RTTLAT_KEY_REMOTE : RTTLAT_KEY_LOCAL;

	(void)arg;
	(void)state;
	switch (key) {
	case 'R':
	case 'l':
		if (cfg.key && cfg.key != k)
			hl_usage_error("-R and -l exclude each other");
		cfg.key = k;
		break;
	case ARGP_KEY_END:
		if (hl_opts.filter.tid)
			hl_usage_error("-t is not supported: sockets belong to "
				       "processes, not threads (use -p)");
		if (by_owner() && hl_opts.attach &&
		    !strcmp(hl_opts.attach, "tracepoint"))
			hl_usage_error("-p, -c and --comm need the socket "
				       "itself: --attach tp_btf or raw_tp, "
				       "not tracepoint");
		break;
	default: return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const char doc[] =
"Summarize the smoothed round-trip time of TCP connections, sampled at "
"each segment they receive, as histograms with percentiles.\v"
"EXAMPLES:\n"
"  rttlat                      # every connection, at Ctrl-C\n"
"  rttlat -R 10 1              # per remote address and port, over 10 s\n"
"  rttlat -l -m                # per local address and port, in ms\n"
"  rttlat -p 1234 -R           # the sockets process 1234 holds open\n"
"  rttlat --comm nginx -l      # those of every process named nginx\n"
"  rttlat -j 1                 # JSON Lines every second\n"
"\nIPv4 and IPv6. The samples are the kernel's smoothed RTT (srtt), "
"weighted by the segments received. They are taken in softirq, where "
"no process owns them: -p, -c and --comm count the sockets the "
"processes hold open, read from /proc at the start and every second; "
"see rttlat(8).";

static int prepare(void *s, enum hl_method m, void *ctx)
{
	struct rttlat_bpf *skel = s;

	(void)ctx;
	skel->rodata->key_mode = cfg.key;
	skel->rodata->by_owner = by_owner();
	if (!hl_select_programs(skel->obj, m, NULL))
		return -ENOENT;
	bpf_map__set_autocreate(skel->maps.sock_addrs, cfg.key);
	bpf_map__set_autocreate(skel->maps.owned, by_owner());
	return hl_hist_maps_size(skel->obj, cfg.key);
}

static int label(const struct hl_hist *h, struct hl_label *l, char *scratch,
		 size_t len)
{
	bool remote = cfg.key == RTTLAT_KEY_REMOTE;

	return hl_sock_label(cfg.skel->maps.sock_addrs, h->id,
			     remote ? "raddr" : "laddr",
			     remote ? "rport" : "lport", l, scratch, len);
}

/* The sockets of the processes -p, -c or --comm name, again: those
 * opened or accepted since count from now on, those closed no more. */
static void resync(void)
{
	int n = hl_sock_inodes_sync(cfg.skel->maps.owned, &hl_opts.filter,
				    hl_opts.cgroup_path ? cfg.cgroup : NULL);

	/* a -p process that has exited ends the run by itself */
	if (n == -E2BIG)
		hl_warn("the processes hold more than %d sockets: some are "
			"not counted", RTTLAT_OWNED_MAX);
}

static struct hl_tracer tracer = {
	.name = "rttlat",
	.argp = { .options = options, .parser = parse },
	.doc = doc,
	.ops = &rttlat_bpf_ops, .prepare = prepare,
	.loop = { .what = "TCP round-trip times" },
};

int main(int argc, char **argv)
{
	hl_tracer_start(&tracer, argc, argv);
	tracer.keyed = cfg.key != RTTLAT_KEY_NONE;
	if (tracer.keyed)
		tracer.loop.report.label = label;
	if (hl_opts.cgroup_path)
		hl_cgroup_name(hl_opts.filter.cgroup_id, cfg.cgroup,
			       sizeof(cfg.cgroup));
	cfg.skel = hl_tracer_attach(&tracer);
	if (by_owner()) {
		resync();
		tracer.loop.housekeeping = resync;
	}
	return hl_tracer_run(&tracer);
}
