// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <linux/btf.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include "attach.h"
#include "cli.h"
#include "elfsym.h"
#include "kfeatures.h"
#include "lean_btf.h"
#include "util.h"
#include "verifier.h"
#include "watch.h"

#define KERNEL_BTF "/sys/kernel/btf/vmlinux"
#define TRACEFS "/sys/kernel/tracing"
#define DEBUGFS_TRACING "/sys/kernel/debug/tracing"

static const char *const method_names[HL_METHODS] = {
	"tp_btf", "raw_tp", "tracepoint", "usdt", "uprobe",
};

static const char *const method_prefixes[HL_METHODS][2] = {
	{ "tp_btf/", "tp_btf/" },
	{ "raw_tp/", "raw_tracepoint/" },
	{ "tracepoint/", "tp/" },
	{ "usdt", "usdt" },
	{ "uprobe", "uretprobe" },
};

static char last_libbpf_msg[256];
/* The last program the verifier refused, and why (its log's last word). */
static char rejected_prog[64], rejected_why[160];

#define MAX_LINKS 256	/* funclat: two per function */
static struct bpf_link *links[MAX_LINKS];
static int nlinks;

void hl_keep_link(struct bpf_link *link)
{
	if (nlinks == MAX_LINKS)
		hl_die("too many links (%d)", MAX_LINKS);
	links[nlinks++] = link;
}

void hl_drop_links(void)
{
	while (nlinks)
		bpf_link__destroy(links[--nlinks]);
}

static const struct hl_marker_prog *marker_of(const char *prog,
					      const struct hl_marker_prog *t)
{
	for (; t->prefix; t++)
		if (!strncmp(prog, t->prefix, strlen(t->prefix)))
			return t;
	return NULL;
}

bool hl_addressable(const char *path, pid_t pid)
{
	return hl_features()->attach_cookie || pid > 0 || hl_elf_fixed(path);
}

void hl_check_addressable(const char *path, pid_t pid)
{
	if (hl_addressable(path, pid))
		return;
	hl_die("%s is position independent: timing it in every process "
	       "needs BPF attach cookies (Linux 5.15); on this kernel, pass "
	       "-p PID", path);
}

pid_t hl_marker_pid(pid_t pid)
{
	return pid > 0 ? pid : -1;
}

int hl_attach_paths(const char *path, pid_t pid, struct hl_copies *out)
{
	struct hl_copies all = {};
	char *first = strdup(path);
	int err = first ? 0 : -ENOMEM;

	memset(out, 0, sizeof(*out));
	if (!err && hl_opts.all_containers && !pid)
		err = hl_copies_find(path, &all);
	if (err == -ENOENT)
		hl_die("--all-containers: %s has no build id to find its "
		       "copies by", path);
	if (err) {
		free(first);
		return err;
	}
	out->paths = calloc(all.n + 1, sizeof(*out->paths));
	out->pids = calloc(all.n + 1, sizeof(*out->pids));
	if (!out->paths || !out->pids) {
		free(first);
		hl_copies_free(&all);
		hl_copies_free(out);
		return -ENOMEM;
	}
	out->paths[0] = first;
	for (size_t i = 0; i < all.n; i++) {
		if (hl_opts.verbose)
			hl_warn("a copy in process %d: %s", (int)all.pids[i],
				all.paths[i]);
		out->paths[i + 1] = all.paths[i];
		out->pids[i + 1] = all.pids[i];
	}
	out->n = all.n + 1;
	free(all.paths);
	free(all.pids);
	return 0;
}

static int attach_markers_at(struct bpf_object *obj, const char *path,
			     const struct hl_marker_prog *table, pid_t pid)
{
	const struct hl_marker_prog *m;
	struct bpf_program *prog;
	struct bpf_link *link;

	bpf_object__for_each_program(prog, obj) {
		if (!bpf_program__autoload(prog))
			continue;
		m = marker_of(bpf_program__name(prog), table);
		if (!m)
			return -ENOENT;
		link = bpf_program__attach_usdt(prog, hl_marker_pid(pid), path,
						m->provider, m->name, NULL);
		if (!link)
			return -errno;
		hl_keep_link(link);
	}
	return 0;
}

int hl_attach_markers(struct bpf_object *obj, const char *path,
		      const struct hl_marker_prog *table, pid_t pid)
{
	struct hl_copies c;
	int err = hl_attach_paths(path, pid, &c);

	/* Without cookies libbpf tells markers apart by address, and copies
	 * of a binary have the same ones: it refuses the second copy. */
	if (!err && c.n > 1 && !hl_features()->attach_cookie)
		hl_die("--all-containers: markers in %zu copies of %s need "
		       "Linux 5.15 (attach cookies); name one process with -p",
		       c.n, path);
	for (size_t i = 0; !err && i < c.n; i++)
		err = attach_markers_at(obj, c.paths[i], table, pid);
	hl_copies_free(&c);
	return err;
}

const char *hl_method_name(enum hl_method m)
{
	return m < HL_METHODS ? method_names[m] : "?";
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	va_list copy;
	size_t len;

	if (level == LIBBPF_WARN && strstr(fmt, "PROG LOAD LOG")) {
		char *msg = NULL;

		va_copy(copy, ap);
		if (vasprintf(&msg, fmt, copy) >= 0)
			hl_verifier_reason(msg, rejected_prog,
					   sizeof(rejected_prog), rejected_why,
					   sizeof(rejected_why));
		va_end(copy);
		free(msg);
	}
	if (level == LIBBPF_WARN) {
		va_copy(copy, ap);
		vsnprintf(last_libbpf_msg, sizeof(last_libbpf_msg), fmt, copy);
		va_end(copy);
		len = strlen(last_libbpf_msg);
		if (len && last_libbpf_msg[len - 1] == '\n')
			last_libbpf_msg[len - 1] = '\0';
	}
	if (!hl_opts.verbose || level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int has_bpf_caps(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = {};
	__u32 eff1;

	if (syscall(SYS_capget, &hdr, data))
		return 0;
	eff1 = data[1].effective;	/* capabilities 32..63 */
	if (data[0].effective & (1U << CAP_SYS_ADMIN))
		return 1;
	return (eff1 & (1U << (CAP_BPF - 32))) &&
	       (eff1 & (1U << (CAP_PERFMON - 32)));
}

bool hl_bpf_privileged(void)
{
	return geteuid() == 0 || has_bpf_caps();
}

static void block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

void hl_setup(const char *tool)
{
	hl_tool = tool;
	if (!hl_bpf_privileged())
		hl_die("needs root or CAP_BPF+CAP_PERFMON");
	if (!hl_opts.btf_path && access(KERNEL_BTF, R_OK))
		hl_die("kernel has no BTF (%s missing): pass --btf FILE with "
		       "this kernel's BTF", KERNEL_BTF);
	if (hl_opts.btf_path)
		lean_btf_set_path(hl_opts.btf_path);
	if (hl_opts.full_btf)
		lean_btf_disable();
	if (hl_opts.filter.tgid)
		hl_watch_process(hl_opts.filter.tgid);
	libbpf_set_print(libbpf_print);
	if (hl_opts.verbose)
		hl_features();	/* says what the kernel has */
	block_signals();
}

static enum hl_method method_of(const struct bpf_program *prog)
{
	const char *sec = bpf_program__section_name(prog);

	for (int m = 0; m < HL_METHODS; m++)
		for (int i = 0; i < 2; i++)
			if (!strncmp(sec, method_prefixes[m][i],
				     strlen(method_prefixes[m][i])))
				return m;
	return HL_METHODS;
}

int hl_select_programs(struct bpf_object *obj, enum hl_method m,
		       const char *suffix)
{
	struct bpf_program *prog;
	int n = 0;

	bpf_object__for_each_program(prog, obj) {
		enum hl_method pm = method_of(prog);
		int on;

		if (pm == HL_METHODS)
			continue;
		on = pm == m &&
		     (!suffix || hl_ends_with(bpf_program__name(prog), suffix));
		bpf_program__set_autoload(prog, on);
		n += on;
	}
	return n;
}

void hl_autoload_prefix(struct bpf_object *obj, const char *prefix, bool on)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, obj)
		if (!strncmp(bpf_program__name(prog), prefix, strlen(prefix)))
			bpf_program__set_autoload(prog,
				on && bpf_program__autoload(prog));
}

/* NAME_TAG_METHOD → NAME_METHOD, in buf; false if name has no tag. */
static bool untagged(const char *name, const char *tag, char *buf,
		     size_t len)
{
	const char *at = strstr(name, tag);

	if (!at || (size_t)snprintf(buf, len, "%.*s%s", (int)(at - name), name,
				    at + strlen(tag)) >= len)
		return false;
	return true;
}

void hl_autoload_variant(struct bpf_object *obj, const char *tag, bool on)
{
	struct bpf_program *prog, *plain;
	char name[128];

	bpf_object__for_each_program(prog, obj) {
		if (!untagged(bpf_program__name(prog), tag, name,
			      sizeof(name)))
			continue;
		plain = bpf_object__find_program_by_name(obj, name);
		if (plain && bpf_program__autoload(plain))
			bpf_program__set_autoload(plain, !on);
		if (bpf_program__autoload(prog))
			bpf_program__set_autoload(prog, on);
	}
}

/* Classic tracepoints need tracefs; mount it where libbpf looks. */
static int ensure_tracefs(void)
{
	if (!access(DEBUGFS_TRACING "/events", F_OK) ||
	    !access(TRACEFS "/events", F_OK))
		return 0;
	if (mount("tracefs", TRACEFS, "tracefs", 0, NULL))
		return -errno;
	if (hl_opts.verbose)
		hl_warn("mounted tracefs on %s", TRACEFS);
	return 0;
}

/* The kernel BTF names each tracepoint's prototype "btf_trace_<name>";
 * tp_btf programs attach through it (Linux 5.5 with BTF). */
#define TP_BTF_MAX 16
static bool tp_btf_ready(struct bpf_object *obj)
{
	char names[TP_BTF_MAX][96];
	const char *list[TP_BTF_MAX + 1];
	struct bpf_program *prog;
	int n = 0, i;

	bpf_object__for_each_program(prog, obj) {
		const char *sec = bpf_program__section_name(prog);

		if (strncmp(sec, "tp_btf/", 7) || n == TP_BTF_MAX)
			continue;
		snprintf(names[n], sizeof(names[n]), "btf_trace_%s", sec + 7);
		for (i = 0; i < n && strcmp(names[i], names[n]); i++)
			;
		if (i == n)
			list[n] = names[n], n++;
	}
	list[n] = NULL;
	return n && lean_btf_count_named(BTF_KIND_TYPEDEF, list) == n;
}

/* Decided once, from what the kernel has, before anything is loaded:
 * --attach, else the first of the tool's methods this kernel offers
 * (raw_tp and the others need nothing a supported kernel lacks). */
static enum hl_method choose_method(const struct hl_skel_ops *ops,
				    struct bpf_object *obj)
{
	for (int m = 0; m < HL_METHODS; m++) {
		if (!(ops->methods & (1U << m)))
			continue;
		if (hl_opts.attach) {
			if (!strcmp(hl_opts.attach, method_names[m]))
				return m;
			continue;
		}
		if (m != HL_TP_BTF || tp_btf_ready(obj))
			return m;
		if (hl_opts.verbose)
			hl_warn("tp_btf: the kernel BTF lacks a tracepoint's "
				"btf_trace_ prototype");
	}
	return HL_METHODS;
}

/* Open, choose the method, prepare, load, attach; returns the skeleton
 * or NULL with *err set. */
static void *open_attach_once(const struct hl_skel_ops *ops,
			      hl_prepare_fn prepare, void *ctx,
			      enum hl_method *m, int *err)
{
	/* --btf reaches libbpf through lean_btf_set_path(), not
	 * btf_custom_path, which would parse the whole file again. */
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	void *skel;

	last_libbpf_msg[0] = '\0';
	rejected_prog[0] = rejected_why[0] = '\0';
	skel = ops->open(&opts);
	if (!skel) {
		*err = -errno;
		return NULL;
	}
	*m = choose_method(ops, ops->object(skel));
	*err = *m == HL_METHODS ? -EOPNOTSUPP : 0;
	if (!*err && *m == HL_TRACEPOINT)
		*err = ensure_tracefs();
	if (!*err)
		*err = prepare(skel, *m, ctx);
	if (!*err) {
		lean_btf_want(bpf_object__btf(ops->object(skel)));
		*err = ops->load(skel);
	}
	if (!*err)
		*err = ops->attach(skel);
	if (!*err)
		return skel;
	hl_drop_links();
	ops->destroy(skel);
	return NULL;
}

static const char *hint(int err)
{
	static char why[sizeof(rejected_prog) + sizeof(rejected_why) + 80];

	/* Root or the capabilities were checked at start-up: an EACCES
	 * with a verifier log is the verifier, not a privilege. */
	if (rejected_prog[0]) {
		snprintf(why, sizeof(why), "the kernel's verifier rejected "
			 "program %s%s%s (-v shows its log)", rejected_prog,
			 rejected_why[0] ? ": " : "", rejected_why);
		return why;
	}
	if (err == -EPERM || err == -EACCES)
		return "needs root or CAP_BPF+CAP_PERFMON (lockdown or a "
		       "security module may also refuse BPF)";
	if (err == -ENOENT || err == -ESRCH)
		return "a kernel function or tracepoint it needs is missing";
	if (err == -EINVAL)
		return "the kernel refused a program; run with -v for details";
	return "run with -v for libbpf's messages";
}

static char attach_failure[1024];

/* --attach names a method this tool does not have: a usage error, not a
 * failed attach (user-space tools hide --attach: hl_cli_user_space). */
static void check_forced_method(const struct hl_skel_ops *ops)
{
	for (int m = 0; m < HL_METHODS; m++)
		if ((ops->methods & (1U << m)) &&
		    !strcmp(hl_opts.attach, method_names[m]))
			return;
	hl_usage_error("invalid attach method '%s' for %s", hl_opts.attach,
		       hl_tool);
}

static void *try_open_attach(const struct hl_skel_ops *ops,
			     hl_prepare_fn prepare, void *ctx,
			     enum hl_method *chosen)
{
	enum hl_method m = HL_METHODS;
	void *skel;
	int err;

	if (hl_opts.attach)
		check_forced_method(ops);
	skel = open_attach_once(ops, prepare, ctx, &m, &err);
	if (skel) {
		if (hl_opts.verbose)
			hl_warn("attached with %s", method_names[m]);
		*chosen = m;
		return skel;
	}
	snprintf(attach_failure, sizeof(attach_failure),
		 "cannot attach with %s: %s%s%s: %s",
		 m < HL_METHODS ? method_names[m] : "any method",
		 strerror(-err), last_libbpf_msg[0] ? ": " : "",
		 last_libbpf_msg, hint(err));
	return NULL;
}

void *hl_open_attach(const struct hl_skel_ops *ops, hl_prepare_fn prepare,
		     void *ctx, enum hl_method *chosen)
{
	void *skel = try_open_attach(ops, prepare, ctx, chosen);

	if (!skel)
		hl_die("%s", attach_failure);
	return skel;
}
