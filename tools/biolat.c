// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * biolat: how long does block I/O take?
 * The measurement itself is in progs/biolat.bpf.c.
 */
#include <argp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>
#include "lib/common.h"
#include "biolat.h"
#include "biolat.skel.h"
#include "attach.h"
#include "cli.h"
#include "hist_maps.h"
#include "kfeatures.h"
#include "lean_btf.h"
#include "owner.h"
#include "tracer.h"
#include "util.h"

HL_SKEL_OPS(biolat_bpf, HL_TRACEPOINT_METHODS, biolat_bpf__attach);

static struct {
	bool disks, ops, queue;
	__u32 only_dev;		/* -d, as the kernel packs a dev_t */
} cfg;

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "Histograms:", 4 },
	{ "disks", 'D', NULL, 0, "One histogram per disk", 4 },
	{ "flags", 'F', NULL, 0,
	  "One histogram per operation (read, write, flush, discard, "
	  "write_zeroes, other) and flags (sync, meta, fua, preflush)", 4 },
	{ "queued", 'Q', NULL, 0,
	  "Also time spent queued (insert to issue), as histograms of their "
	  "own (phase \"queue\"; the device's are phase \"device\")", 4 },
	{ "disk", 'd', "DISK", 0, "Only I/O to this disk (e.g. sda, nvme0n1, "
	  "loop3)", 4 },
	{}
};

/* A small sysfs file, NUL-terminated; its length, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	return n;
}

/* /sys/class/block/NAME/dev of a whole disk -> major << 20 | minor. */
static void only_disk(const char *arg)
{
	const char *name = strncmp(arg, "/dev/", 5) ? arg : arg + 5;
	char path[256], buf[32];
	unsigned int major, minor;

	if (!*name || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, "..") || strlen(name) > 64)
		hl_usage_error("no such disk '%s'", arg);
	snprintf(path, sizeof(path), "/sys/class/block/%s/partition", name);
	if (!access(path, F_OK))
		hl_usage_error("'%s' is a partition: I/O is timed per disk, "
			       "name the disk it is on", arg);
	snprintf(path, sizeof(path), "/sys/class/block/%s/dev", name);
	if (read_small(path, buf, sizeof(buf)) <= 0 ||
	    sscanf(buf, "%u:%u", &major, &minor) != 2 ||
	    major >= 512 || minor >= 1U << BIOLAT_MINOR_BITS)
		hl_usage_error("no such disk '%s'", arg);
	cfg.only_dev = major << BIOLAT_MINOR_BITS | minor;
}

static error_t parse(int key, char *arg, struct argp_state *state)
{
	(void)state;
	switch (key) {
	case 'D': cfg.disks = true; break;
	case 'F': cfg.ops = true; break;
	case 'Q': cfg.queue = true; break;
	case 'd': only_disk(arg); break;
	default: return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const char doc[] =
"Summarize how long block I/O requests take on the device, from issue to "
"completion, as histograms with percentiles.\v"
"EXAMPLES:\n"
"  biolat                      # every disk together, until Ctrl-C\n"
"  biolat -D 5 1               # per disk, over 5 s\n"
"  biolat -d nvme0n1 -F        # one disk, per operation and flags\n"
"  biolat -Q -D                # queued and device time apart, per disk\n"
"  biolat -P -c /sys/fs/cgroup/db  # per process, one cgroup's I/O\n"
"  biolat -D --listen 9102     # for Prometheus, on :9102\n"
"\nI/O is charged to the task that submitted it where the kernel queues or "
"issues it in that task; writeback and other deferred I/O belongs to the "
"kernel thread that issued it. Requests in flight at the start are not "
"counted; a requeued request is timed from its last issue. See biolat(8).";

static struct hl_tracer tracer;

/* The *_fast programs (progs/biolat.bpf.c): device time alone, a
 * request's address to key it by, and compare-and-swap. */
static bool fast_path(enum hl_method m, bool per_request_state)
{
	bool fast = !per_request_state && m != HL_TRACEPOINT &&
		    hl_kernel_has_atomics();

	if (hl_opts.verbose)
		hl_warn("requests in flight: %s", fast ?
			"direct-mapped table, hash on collision" : "hash");
	return fast;
}

static int size_slots(struct biolat_bpf *skel, bool fast)
{
	hl_autoload_variant(skel->obj, "_fast", fast);
	return fast ? 0 : bpf_map__set_max_entries(skel->maps.slots, 1);
}

static int prepare(void *s, enum hl_method m, void *ctx)
{
	struct biolat_bpf *skel = s;
	const struct filter_cfg *f = &hl_opts.filter;
	bool submitter = f->tgid || f->tid || f->has_comm || f->cgroup_id ||
			 hl_owner != HL_OWNER_NONE;

	(void)ctx;
	skel->rodata->filter_cfg = hl_opts.filter;
	skel->rodata->owner_mode = hl_owner;
	skel->rodata->per_disk = cfg.disks;
	skel->rodata->per_op = cfg.ops;
	skel->rodata->queue_phase = cfg.queue;
	skel->rodata->only_dev = cfg.only_dev;
	skel->rodata->keyed = tracer.keyed;
	skel->rodata->track_insert = cfg.queue || submitter;
	if (!hl_select_programs(skel->obj, m, NULL))
		return -ENOENT;
	if (m != HL_TRACEPOINT) {
		/* (void *, rq), or (void *, q, rq) before 5.11 */
		int n = lean_btf_proto_params("btf_trace_block_rq_issue");

		if (n < 0)
			return n;
		skel->rodata->queue_arg = n == 3;
		if (hl_opts.verbose)
			hl_warn("block_rq_issue has %d argument%s", n - 1,
				n == 2 ? "" : "s");
	}
	/* Insertion matters for the queued time and for whom a request
	 * issued later from a kernel thread belongs to; else it is a cost
	 * for nothing. */
	hl_autoload_prefix(skel->obj, "insert_", cfg.queue || submitter);
	return size_slots(skel, fast_path(m, cfg.queue || submitter)) ?:
	       hl_hist_maps_size(skel->obj, tracer.keyed);
}

/* Disk names, looked up once per disk (a disk can go while traced). */
#define DISKS_MAX 64
static struct {
	__u32 dev;
	char name[40];
} disks[DISKS_MAX];
static int ndisks;

static const char *disk_name(__u32 dev)
{
	unsigned int major = dev >> BIOLAT_MINOR_BITS,
		     minor = dev & ((1U << BIOLAT_MINOR_BITS) - 1);
	char path[64], buf[512], *p;
	int i, slot;

	for (i = 0; i < ndisks; i++)
		if (disks[i].dev == dev)
			return disks[i].name;
	slot = ndisks < DISKS_MAX ? ndisks++ : (int)(dev % DISKS_MAX);
	disks[slot].dev = dev;
	snprintf(disks[slot].name, sizeof(disks[slot].name), "%u:%u", major,
		 minor);
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent", major,
		 minor);
	if (read_small(path, buf, sizeof(buf)) > 0 &&
	    (p = strstr(buf, "DEVNAME=")) != NULL) {
		p += 8;
		p[strcspn(p, "\n")] = '\0';
		if (*p)
			snprintf(disks[slot].name, sizeof(disks[slot].name),
				 "%s", p);
	}
	return disks[slot].name;
}

static const char *const op_names[BIOLAT_OPS + 2] = {
	"read", "write", "flush", "discard", "write_zeroes", "other",
	"other", "other",
};

/* "sync,fua", or "none". */
static const char *flags_name(unsigned int f)
{
	static const char *const names[] = { "sync", "meta", "fua",
					     "preflush" };
	static char buf[32];
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < 4; i++)
		if (f & (1U << i))
			n += snprintf(buf + n, sizeof(buf) - n, "%s%s",
				      n ? "," : "", names[i]);
	return n ? buf : "none";
}

static int label(const struct hl_hist *h, struct hl_label *l, char *scratch,
		 size_t len)
{
	int n = 0;

	(void)scratch;
	(void)len;
	if (cfg.disks) {
		l[n].name = "disk";
		l[n++].str = disk_name(h->id & BIOLAT_DEV_MASK);
	}
	if (cfg.ops) {
		l[n].name = "op";
		l[n++].str = op_names[h->id >> BIOLAT_OP_SHIFT &
				      BIOLAT_OP_MASK];
		l[n].name = "flags";
		l[n++].str = flags_name(h->id >> BIOLAT_FLAGS_SHIFT &
					BIOLAT_FLAGS_MASK);
	}
	if (cfg.queue) {
		l[n].name = "phase";
		l[n++].str = h->id & BIOLAT_QUEUE_BIT ? "queue" : "device";
	}
	return n;
}

static struct hl_tracer tracer = {
	.name = "biolat",
	.argp = { .options = options, .parser = parse, .children = hl_owner_children },
	.doc = doc,
	.ops = &biolat_bpf_ops, .prepare = prepare,
	.loop = { .what = "block I/O latency",
		  .report = { .label = label } },
};

int main(int argc, char **argv)
{
	hl_tracer_start(&tracer, argc, argv);
	/* one histogram, per-CPU and unkeyed, unless an option splits it */
	tracer.keyed = cfg.disks || cfg.ops || cfg.queue ||
		       hl_owner != HL_OWNER_NONE;
	if (!tracer.keyed)
		tracer.loop.report.label = NULL;
	hl_tracer_attach(&tracer);
	return hl_tracer_run(&tracer);
}
