// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * funclat: how long do user-space functions take?
 * The measurement is in progs/funclat.bpf.c.
 */
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include "lib/common.h"
#include "funclat.h"
#include "funclat.skel.h"
#include "attach.h"
#include "cli.h"
#include "kfeatures.h"
#include "elfsym.h"
#include "hist_maps.h"
#include "owner.h"
#include "report.h"
#include "target.h"
#include "tracer.h"
#include "util.h"

static int attach_functions(struct funclat_bpf *skel);
HL_SKEL_OPS(funclat_bpf, 1U << HL_UPROBE, attach_functions);

static struct {
	char object[PATH_MAX];	/* as given */
	char glob[256];
	char path[PATH_MAX];
	struct hl_func_list funcs;
	uint64_t seen[FUNC_COUNTERS];
	struct funclat_bpf *skel;
} cfg;

static void parse_target(const char *arg)
{
	const char *colon = strrchr(arg, ':');

	if (!colon || colon == arg || !colon[1])
		hl_usage_error("invalid function '%s': expected "
			       "BINARY:FUNCTION (a glob)", arg);
	if ((size_t)(colon - arg) >= sizeof(cfg.object) ||
	    strlen(colon + 1) >= sizeof(cfg.glob))
		hl_usage_error("invalid function '%s': too long", arg);
	snprintf(cfg.object, sizeof(cfg.object), "%.*s", (int)(colon - arg),
		 arg);
	snprintf(cfg.glob, sizeof(cfg.glob), "%s", colon + 1);
}

static error_t parse(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case ARGP_KEY_ARG:
		if (state->arg_num >= 1)
			return ARGP_ERR_UNKNOWN;	/* interval, count */
		parse_target(arg);
		break;
	case ARGP_KEY_END:
		if (!cfg.glob[0])
			hl_usage_error("expected BINARY:FUNCTION");
		break;
	default: return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const char doc[] =
"Summarize how long user-space functions take, from entry to return on "
"each thread (recursion and longjmp handled), one histogram per "
"function.\v"
"EXAMPLES:\n"
"  funclat libc.so.6:getaddrinfo            # every process\n"
"  funclat -p 4242 'libssl.so.3:SSL_*' 10   # one process, every 10 s\n"
"  funclat /usr/sbin/nginx:ngx_http_process_request\n"
"\nWithout -p, a function of a shared library is probed in every process "
"that maps it. See funclat(8).";

static void find_functions(void)
{
	int err = hl_target_resolve(cfg.object, hl_opts.filter.tgid, cfg.path,
				    sizeof(cfg.path));

	if (err)
		hl_target_die(cfg.object, err);
	err = hl_funcs_find(cfg.path, cfg.glob, &cfg.funcs);
	if (err == -ENOEXEC)
		hl_die("%s is not an ELF file with symbols", cfg.path);
	if (err)
		hl_die("%s: cannot read symbols: %s", cfg.path, strerror(-err));
	if (!cfg.funcs.n)
		hl_usage_error("%s has no function matching '%s'%s", cfg.path,
			       cfg.glob, cfg.funcs.ifuncs ?
			       " (only indirect functions, which cannot be "
			       "probed by name)" : "");
	if (cfg.funcs.n > FUNC_MAX)
		hl_usage_error("'%s' matches %zu functions of %s; at most %d: "
			       "narrow it", cfg.glob, cfg.funcs.n, cfg.path,
			       FUNC_MAX);
}

static int prepare(void *s, enum hl_method m, void *ctx)
{
	struct funclat_bpf *skel = s;

	(void)m;
	(void)ctx;
	skel->rodata->filter_cfg = hl_opts.filter;
	skel->rodata->owner_mode = hl_owner;
	skel->rodata->have_task_storage = hl_tstore_setup(skel->obj);
	skel->rodata->have_cookie = hl_features()->attach_cookie;
	bpf_map__set_autocreate(skel->maps.fn_of_ip,
				!hl_features()->attach_cookie);
	return hl_hist_maps_size(skel->obj, true);
}

static int attach_one(struct bpf_program *prog, const char *path, size_t i,
		      bool ret)
{
	/* a cookie where the kernel has them, else map_addresses() */
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = ret,
		    .bpf_cookie = hl_features()->attach_cookie ? i : 0);
	/* With -p, only that process's copy is probed: a library's
	 * function in every process would cost them all a trap per call. */
	pid_t pid = hl_opts.filter.tgid ? (pid_t)hl_opts.filter.tgid : -1;
	struct bpf_link *link;

	link = bpf_program__attach_uprobe_opts(prog, pid, path,
					       cfg.funcs.f[i].offset, &opts);
	if (!link)
		return -errno;
	hl_keep_link(link);
	return 0;
}

/* Without attach cookies the program knows a function by the address its
 * probe sits at: where -p's process maps it, or, in an executable that is
 * not position independent, its own address. */
static int map_addresses(struct funclat_bpf *skel)
{
	int fd = bpf_map__fd(skel->maps.fn_of_ip), err;
	uint64_t addr;

	for (__u32 i = 0; i < cfg.funcs.n; i++) {
		addr = cfg.funcs.f[i].addr;
		if (hl_opts.filter.tgid) {
			err = hl_target_address(hl_opts.filter.tgid, cfg.path,
						cfg.funcs.f[i].offset, &addr);
			if (err)
				return err;
		}
		if (bpf_map_update_elem(fd, &addr, &i, BPF_ANY))
			return -errno;
	}
	return 0;
}

static int attach_at(struct funclat_bpf *skel, const char *path)
{
	int err = 0;

	for (size_t i = 0; i < cfg.funcs.n && !err; i++) {
		err = attach_one(skel->progs.func_entry, path, i, false);
		if (!err)
			err = attach_one(skel->progs.func_return, path, i, true);
	}
	return err;
}

static int attach_functions(struct funclat_bpf *skel)
{
	struct hl_copies c;
	int err = 0;

	if (!hl_features()->attach_cookie && (err = map_addresses(skel)))
		return err;
	err = hl_attach_paths(cfg.path, hl_opts.filter.tgid, &c);
	for (size_t i = 0; !err && i < c.n; i++)
		err = attach_at(skel, c.paths[i]);
	hl_copies_free(&c);
	return err;
}

static int counters(struct hl_label *c, int max)
{
	static const char *const names[FUNC_COUNTERS] = {
		[FUNC_CNT_DEEP] = "too_deep",
		[FUNC_CNT_UNWOUND] = "unwound",
	};

	return hl_counter_labels(cfg.skel->maps.counters, names,
				 FUNC_COUNTERS, cfg.seen, c, max);
}

static int label(const struct hl_hist *h, struct hl_label *l, char *scratch,
		 size_t len)
{
	(void)scratch;
	(void)len;
	l[0].name = "function";
	l[0].str = h->id < cfg.funcs.n ? cfg.funcs.f[h->id].name : "?";
	return 1;
}

static struct hl_tracer tracer = {
	.name = "funclat", .user_space = true,
	.argp = { .parser = parse, .children = hl_owner_children }, .doc = doc,
	.args_doc = "BINARY:FUNCTION [interval [count]]", .npos = 1,
	.ops = &funclat_bpf_ops, .prepare = prepare, .keyed = true,
	.loop = { .report = { .label = label, .counters = counters } },
};

int main(int argc, char **argv)
{
	char what[64];
	int err;

	hl_tracer_start(&tracer, argc, argv);
	find_functions();
	hl_check_addressable(cfg.path, hl_opts.filter.tgid);
	if (hl_opts.verbose)
		for (size_t i = 0; i < cfg.funcs.n; i++)
			hl_warn("probing %s:%s at file offset 0x%llx",
				cfg.path, cfg.funcs.f[i].name,
				(unsigned long long)cfg.funcs.f[i].offset);
	snprintf(what, sizeof(what), "%zu function%s", cfg.funcs.n,
		 cfg.funcs.n == 1 ? "" : "s");
	tracer.loop.what = what;
	cfg.skel = hl_tracer_attach(&tracer);
	err = hl_tracer_run(&tracer);
	hl_funcs_free(&cfg.funcs);
	return err;
}
