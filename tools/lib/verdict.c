// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A tool's verdict on this host, from its own BPF object (opened, never
 * loaded: no privileges needed) and what the host has. The tools decide
 * their ways at start-up from the same facts (tools/lib/attach.c,
 * kfeatures.c, pg.c, jvm.c): these are their functions, not copies.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <linux/btf.h>
#include "attach.h"
#include "elfsym.h"
#include "jvm.h"
#include "lean_btf.h"
#include "pg.h"
#include "target.h"
#include "usdt.h"
#include "util.h"
#include "verdict.h"

#define KERNEL_BTF "/sys/kernel/btf/vmlinux"
#define UPROBE_PMU "/sys/bus/event_source/devices/uprobe/type"
#define LOCKDOWN "/sys/kernel/security/lockdown"

/* Tracepoints younger than the oldest kernel the tools support (5.10). */
static const struct {
	const char *name, *full, *since;
} young_tracepoints[] = {
	{ "contention_begin", "lock:contention_begin", "Linux 5.19" },
	{ "contention_end", "lock:contention_end", "Linux 5.19" },
};

/* The marker tools' targets: found as the tools find them. */
static bool pg_process(pid_t pid, char *path, size_t len)
{
	return hl_pg_role(pid) == HL_PG_POSTMASTER &&
	       !hl_target_from_pid(pid, path, len);
}

static bool pg_default(char *path, size_t len)
{
	return !hl_pg_binary(0, path, len);
}

static const struct marker_tool {
	const char *tool, *provider, *what;
	bool (*process)(pid_t pid, char *path, size_t len);
	bool (*file)(char *path, size_t len);
	const char *fix_missing, *fix_unmarked, *no_cookies;
} marker_tools[] = {
	{ "pgquerylat", "postgresql", "PostgreSQL", pg_process, pg_default,
	  "install PostgreSQL, or pass --bin PATH to a postgres binary",
	  "a PostgreSQL built with --enable-dtrace (Debian's is)",
	  "-p BACKEND only: timing every backend of a server needs attach "
	  "cookies (Linux 5.15)" },
	{ "jitlat", "hotspot", "HotSpot JVM", hl_jvm_of_pid, hl_jvm_default,
	  "install a JDK, set JAVA_HOME, or pass --jvm PATH to libjvm.so",
	  "a HotSpot JVM built with DTrace markers (Debian's OpenJDK is)",
	  NULL },
	{ "jvmpauselat", "hs_private", "HotSpot JVM", hl_jvm_of_pid,
	  hl_jvm_default,
	  "install a JDK, set JAVA_HOME, or pass --jvm PATH to libjvm.so",
	  "a HotSpot JVM built with DTrace markers (Debian's OpenJDK is)",
	  NULL },
};

const char *hl_verdict_name(enum hl_verdict v)
{
	static const char *const names[] = { "works", "fallback", "cannot" };

	return v <= HL_CANNOT ? names[v] : "?";
}

/* securityfs's word, else the command line's lockdown= (securityfs is
 * not always mounted), else "". */
static void read_lockdown(char *out, size_t len)
{
	char buf[4096], *open, *close;
	FILE *f = fopen(LOCKDOWN, "r");

	out[0] = '\0';
	if (!f && (f = fopen("/proc/cmdline", "r"))) {
		if (fgets(buf, sizeof(buf), f) &&
		    (open = strstr(buf, "lockdown=")) &&
		    (open == buf || open[-1] == ' '))
			snprintf(out, len, "%.*s", (int)strcspn(open + 9, " \n"),
				 open + 9);
		fclose(f);
		return;
	}
	if (!f)
		return;
	if (fgets(buf, sizeof(buf), f)) {
		open = strchr(buf, '[');
		close = open ? strchr(open, ']') : NULL;
		if (close)
			snprintf(out, len, "%.*s", (int)(close - open - 1),
				 open + 1);
	}
	fclose(f);
}

void hl_host_read(struct hl_host *h)
{
	struct utsname u;

	memset(h, 0, sizeof(*h));
	if (!uname(&u)) {
		snprintf(h->release, sizeof(h->release), "%s", u.release);
		snprintf(h->machine, sizeof(h->machine), "%s", u.machine);
	}
	h->privileged = hl_bpf_privileged();
	h->btf = !access(KERNEL_BTF, R_OK);
	h->uprobes = !access(UPROBE_PMU, R_OK);
	read_lockdown(h->lockdown, sizeof(h->lockdown));
	if (!h->privileged)
		return;
	/* The tools' own probes: tiny programs loaded, so root only. */
	h->f = *hl_features();
	h->atomics = hl_kernel_has_atomics();
	h->sched_task_storage = h->btf && hl_kernel_sched_task_storage();
	h->probed = true;
}

/* What the object asks for. */
struct wants {
	unsigned int methods;	/* bit per enum hl_method */
	bool sched_hooks, task_storage, atomics;
};

static enum hl_method section_method(const char *sec, const char **tp)
{
	static const struct {
		const char *prefix;
		enum hl_method m;
	} kinds[] = {
		{ "tp_btf/", HL_TP_BTF }, { "raw_tp/", HL_RAW_TP },
		{ "tracepoint/", HL_TRACEPOINT }, { "tp/", HL_TRACEPOINT },
		{ "usdt", HL_USDT }, { "uprobe", HL_UPROBE },
		{ "uretprobe", HL_UPROBE },
	};
	const char *slash;

	*tp = NULL;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++) {
		if (strncmp(sec, kinds[i].prefix, strlen(kinds[i].prefix)))
			continue;
		if (kinds[i].m <= HL_TRACEPOINT) {
			slash = strrchr(sec, '/');	/* tracepoint/CAT/NAME */
			*tp = slash + 1;
		}
		return kinds[i].m;
	}
	return HL_METHODS;
}

static void add_tracepoint(struct hl_judgement *j, const char *name)
{
	for (int i = 0; i < j->ntps; i++)
		if (!strcmp(j->tps[i].name, name))
			return;
	if (j->ntps < HL_MAX_TRACEPOINTS)
		snprintf(j->tps[j->ntps++].name, sizeof(j->tps[0].name), "%s",
			 name);
}

static int read_object(const struct hl_catalog_entry *tool,
		       struct hl_judgement *j, struct wants *w)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = tool->name);
	struct bpf_program *prog;
	struct bpf_map *map;
	struct bpf_object *obj;
	const void *bytes;
	size_t size;
	const char *tp;

	bytes = tool->object(&size);
	obj = bpf_object__open_mem(bytes, size, &opts);
	if (!obj)
		return -errno;
	bpf_object__for_each_program(prog, obj) {
		const char *sec = bpf_program__section_name(prog);
		enum hl_method m = section_method(sec, &tp);

		if (m == HL_METHODS)
			continue;
		w->methods |= 1U << m;
		if (tp) {
			add_tracepoint(j, tp);
			w->sched_hooks |= !strncmp(tp, "sched_", 6);
		}
		/* biolat's table claimed by compare-and-swap */
		w->atomics |= strstr(bpf_program__name(prog), "_fast") != NULL;
	}
	bpf_object__for_each_map(map, obj)
		w->task_storage |= hl_ends_with(bpf_map__name(map), "__task");
	bpf_object__close(obj);
	return 0;
}

static void unchecked(struct hl_judgement *j, const char *what)
{
	size_t n = strlen(j->unchecked);

	snprintf(j->unchecked + n, sizeof(j->unchecked) - n, "%s%s",
		 n ? "; " : "", what);
}

static void cannot(struct hl_judgement *j, const char *why, const char *fix)
{
	j->verdict = HL_CANNOT;
	snprintf(j->why, sizeof(j->why), "%s", why);
	snprintf(j->fix, sizeof(j->fix), "%s", fix);
}

static void add_way(struct hl_judgement *j, const char *way)
{
	if (j->nways < HL_MAX_WAYS)
		snprintf(j->ways[j->nways++], sizeof(j->ways[0]), "%s", way);
}

static void judge_tracepoints(struct hl_judgement *j)
{
	char name[80], why[256], fix[256];
	const char *one[2] = { name, NULL };

	for (int i = 0; i < j->ntps; i++) {
		snprintf(name, sizeof(name), "btf_trace_%s", j->tps[i].name);
		j->tps[i].found =
			lean_btf_count_named(BTF_KIND_TYPEDEF, one) == 1;
	}
	for (int i = 0; i < j->ntps; i++) {
		const char *full = j->tps[i].name, *since = NULL;

		if (j->tps[i].found)
			continue;
		for (size_t k = 0; k < sizeof(young_tracepoints) /
					   sizeof(*young_tracepoints); k++)
			if (!strcmp(young_tracepoints[k].name, full)) {
				full = young_tracepoints[k].full;
				since = young_tracepoints[k].since;
			}
		snprintf(why, sizeof(why), "this kernel has no tracepoint %s",
			 full);
		snprintf(fix, sizeof(fix), "%s%s", since ? "needs " :
			 "a kernel with that tracepoint", since ? since : "");
		cannot(j, why, fix);
		return;
	}
}

static int count_markers(const char *path, const char *provider)
{
	struct hl_usdt_list l;
	int n = 0;

	if (hl_usdt_read(path, &l))
		return -1;
	for (size_t i = 0; i < l.n; i++)
		n += !strcmp(l.sites[i].provider, provider);
	hl_usdt_free(&l);
	return n;
}

static void add_target(struct hl_judgement *j, const struct marker_tool *mt,
		       pid_t pid, const char *path)
{
	struct hl_target *t;

	if (j->ntargets == HL_MAX_TARGETS)
		return;
	t = &j->targets[j->ntargets++];
	t->pid = pid;
	snprintf(t->path, sizeof(t->path), "%s", path);
	t->markers = path[0] ? count_markers(path, mt->provider) : -1;
}

static void find_processes(struct hl_judgement *j, const struct marker_tool *mt)
{
	char path[PATH_MAX];
	struct dirent *d;
	DIR *proc = opendir("/proc");

	if (!proc)
		return;
	while ((d = readdir(proc))) {
		pid_t pid;

		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		pid = atoi(d->d_name);
		path[0] = '\0';
		if (mt->process(pid, path, sizeof(path)))
			add_target(j, mt, pid, path);
	}
	closedir(proc);
}

static void judge_targets(struct hl_judgement *j, const struct marker_tool *mt)
{
	char path[PATH_MAX], why[256];
	int marked = 0, unread = 0;

	j->provider = mt->provider;
	find_processes(j, mt);
	if (geteuid())
		unchecked(j, "processes of other users (seeing their "
			  "binaries needs root)");
	if (!j->ntargets && mt->file(path, sizeof(path)))
		add_target(j, mt, 0, path);
	for (int i = 0; i < j->ntargets; i++) {
		marked += j->targets[i].markers > 0;
		unread += j->targets[i].markers < 0;
	}
	if (unread)
		unchecked(j, "the markers of targets whose files it cannot "
			  "read (reading them needs root)");
	if (j->verdict == HL_CANNOT || marked || unread)
		return;
	if (!j->ntargets) {
		snprintf(why, sizeof(why), "no %s found (none running, none "
			 "installed where the tool looks)", mt->what);
		cannot(j, why, mt->fix_missing);
		return;
	}
	snprintf(why, sizeof(why), "%.200s has no %s markers",
		 j->targets[0].path,
		 mt->provider);
	cannot(j, why, mt->fix_unmarked);
}

static const struct marker_tool *marker_tool_of(const char *name)
{
	for (size_t i = 0; i < sizeof(marker_tools) / sizeof(*marker_tools);
	     i++)
		if (!strcmp(marker_tools[i].tool, name))
			return &marker_tools[i];
	return NULL;
}

/* The ways the tool takes where the kernel lacks a feature: as the tool
 * decides them at start-up. */
static void judge_features(const struct hl_host *h, struct hl_judgement *j,
			   const struct wants *w, const struct marker_tool *mt)
{
	if (!h->probed) {
		if (w->task_storage || w->atomics ||
		    (w->methods & ((1U << HL_USDT) | (1U << HL_UPROBE))))
			unchecked(j, "task storage, attach cookies, BPF "
				  "atomics (probing them needs root)");
		return;
	}
	if (w->task_storage && !h->f.task_storage)
		add_way(j, "per-thread state in a hash by thread id (task "
			"storage: Linux 5.11)");
	else if (w->task_storage && w->sched_hooks && !h->sched_task_storage)
		add_way(j, "per-thread state in scheduler hooks in a hash by "
			"thread id (task storage there: Linux 6.4)");
	if (w->atomics && !h->atomics)
		add_way(j, "requests in a hash map, not the lock-free table "
			"(BPF atomics: Linux 5.12)");
	if (!(w->methods & ((1U << HL_USDT) | (1U << HL_UPROBE))) ||
	    h->f.attach_cookie)
		return;
	if (mt && mt->no_cookies) {
		bool fixed = true;

		for (int i = 0; i < j->ntargets; i++)
			fixed &= j->targets[i].path[0] &&
				 hl_elf_fixed(j->targets[i].path);
		if (!fixed || !j->ntargets)
			add_way(j, mt->no_cookies);
		return;
	}
	add_way(j, "-p PID for a position-independent binary or a library: "
		"telling probes apart without a process needs attach cookies "
		"(Linux 5.15)");
}

static void judge_bpf(const struct hl_host *h, struct hl_judgement *j)
{
	static const char *const order[] = {
		[HL_TP_BTF] = "tp_btf", [HL_RAW_TP] = "raw_tp",
		[HL_TRACEPOINT] = "tracepoint", [HL_USDT] = "usdt",
		[HL_UPROBE] = "uprobe",
	};
	const struct marker_tool *mt = marker_tool_of(j->tool->name);
	struct wants w = {};
	char why[256];
	int err = read_object(j->tool, j, &w);

	j->needs_root = true;
	if (err) {
		snprintf(why, sizeof(why), "its BPF object does not open: %s",
			 strerror(-err));
		cannot(j, why, "a howlong built for this architecture");
		return;
	}
	for (int m = 0; m < HL_METHODS && !j->method; m++)
		if (w.methods & (1U << m))
			j->method = order[m];
	if (!h->btf)
		cannot(j, "the kernel has no BTF (" KERNEL_BTF " missing)",
		       "a kernel built with CONFIG_DEBUG_INFO_BTF=y, or the "
		       "tool's --btf FILE with this kernel's BTF");
	else if (j->ntps)
		judge_tracepoints(j);
	if (j->verdict != HL_CANNOT && !j->ntps && !h->uprobes)
		cannot(j, "the kernel has no uprobes (" UPROBE_PMU " missing)",
		       "a kernel built with CONFIG_UPROBE_EVENTS=y");
	if (mt)
		judge_targets(j, mt);
	if (j->verdict == HL_CANNOT)
		return;
	judge_features(h, j, &w, mt);
	if (j->nways)
		j->verdict = HL_FALLBACK;
}

void hl_judge(const struct hl_host *h, const struct hl_catalog_entry *tool,
	      struct hl_judgement *j)
{
	memset(j, 0, sizeof(*j));
	j->tool = tool;
	j->verdict = HL_WORKS;
	if (!tool->object) {
		j->method = "files";	/* reads ELF notes: no BPF */
		return;
	}
	judge_bpf(h, j);
}
