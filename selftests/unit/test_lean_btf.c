// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * lean_btf: the lean kernel BTF must give libbpf the same answers as the
 * full one for everything that was wanted, under the same type ids, and
 * cost far less memory.
 *
 *   test_lean_btf [--obj BPF_OBJECT]...
 *
 * Each --obj object is also opened, loaded and attached in a fresh process
 * with and without the lean loader, and both peaks are reported.
 * Memory and build times are always measured in fresh processes (this
 * binary re-executed with --child), since a forked child starts with its
 * parent's pages. The lean BTF is built both from sysfs, which recent
 * kernels let the loader map, and from a regular-file copy, which it reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "lean_btf.h"

static const char *const names[] = {
	"task_struct", "rq", "cgroup", "css_set", "kernfs_node", "sched_info",
	"runqueues", "btf_trace_sched_switch",
};
#define NR_NAMES (sizeof(names) / sizeof(names[0]))

static int failed;

static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	failed |= !ok;
}

static long vm_hwm_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			kb = atol(line + 6);
	fclose(f);
	return kb;
}

static int saw_libbpf_loader;

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)ap;
	/* libbpf's own vmlinux loader says so at debug level */
	if (strstr(fmt, "loading kernel BTF"))
		saw_libbpf_loader = 1;
	return 0;
}

/* Open, load and attach @path; prints "<VmHWM kB> <status> <fired>", where
 * fired says whether the programs wrote anything to .bss. */
static int child_obj(const char *path, int lean)
{
	struct bpf_program *prog;
	struct bpf_object *obj;
	struct bpf_map *map;
	const char *status = "ok";
	char val[4096] = { 0 };
	int key = 0, fired = 0;
	size_t i;

	libbpf_set_print(print_fn);
	obj = bpf_object__open_file(path, NULL);
	if (!obj)
		return printf("-1 open-failed\n"), 1;
	if (lean)
		lean_btf_want(bpf_object__btf(obj));
	if (bpf_object__load(obj))
		return printf("-1 load-failed\n"), 1;
	bpf_object__for_each_program(prog, obj)
		if (!bpf_program__attach(prog))
			return printf("-1 attach-failed\n"), 1;
	usleep(200 * 1000);
	/* the programs ran if they wrote anything to .bss */
	bpf_object__for_each_map(map, obj) {
		if (!strstr(bpf_map__name(map), ".bss") ||
		    bpf_map__value_size(map) > sizeof(val) ||
		    bpf_map__lookup_elem(map, &key, sizeof(key), val,
					 bpf_map__value_size(map), 0))
			continue;
		for (i = 0; i < bpf_map__value_size(map); i++)
			fired |= val[i];
	}
	if (saw_libbpf_loader == lean)
		status = lean ? "libbpf-loader-used" : "libbpf-loader-not-seen";
	printf("%ld %s %s\n", vm_hwm_kb(), status, fired ? "fired" : "quiet");
	bpf_object__close(obj);
	return 0;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Prints "<VmHWM kB> <status> <ms taken by the load>". */
static int child(const char *mode, const char *path)
{
	struct btf *btf = NULL;
	struct timespec t0;
	size_t i;

	if (!strcmp(mode, "obj-full") || !strcmp(mode, "obj-lean"))
		return child_obj(path, !strcmp(mode, "obj-lean"));
	if (!strcmp(mode, "lean")) {
		for (i = 0; i < NR_NAMES; i++)
			lean_btf_want_name(names[i]);
		if (path && *path)
			lean_btf_set_path(path);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!strcmp(mode, "full"))
		btf = libbpf_find_kernel_btf();
	else if (!strcmp(mode, "lean"))
		btf = lean_btf_load();
	else
		btf = btf__new_empty();	/* baseline: libbpf touched, no BTF */
	printf("%ld %s %.2f\n", vm_hwm_kb(), btf ? "ok" : "failed",
	       ms_since(&t0));
	btf__free(btf);
	return 0;
}

/* Re-execute ourselves in @mode; returns VmHWM in kB (-1 on failure) and
 * the rest of the child's line in @status (at least 64 bytes). */
static long measure(const char *mode, const char *path, char *status, size_t sz)
{
	char out[256] = { 0 };
	long kb = -1;
	int fd[2], st;
	ssize_t n;
	pid_t pid;

	if (pipe(fd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		if (dup2(fd[1], 1) < 0)
			_exit(127);
		execl("/proc/self/exe", "test_lean_btf", "--child", mode,
		      path ? path : "", (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	n = read(fd[0], out, sizeof(out) - 1);
	close(fd[0]);
	if (waitpid(pid, &st, 0) != pid || n <= 0)
		return -1;
	if (sscanf(out, "%ld %63[^\n]", &kb, status) != 2)
		return -1;
	status[sz - 1] = '\0';
	return kb;
}

static const char *name_of(const struct btf *btf, __u32 off)
{
	const char *s = btf__name_by_offset(btf, off);

	return s ? s : "<bad>";
}

/* Same info word (kind, kflag, vlen), name, size and members, bit for bit
 * except where strings sit: a kept type is the kernel's. */
static int same_type(const struct btf *a, const struct btf *b, __u32 id)
{
	const struct btf_type *x = btf__type_by_id(a, id);
	const struct btf_type *y = btf__type_by_id(b, id);
	__u16 i, vlen;

	if (!x || !y || x->info != y->info || x->size != y->size ||
	    strcmp(name_of(a, x->name_off), name_of(b, y->name_off)))
		return 0;
	vlen = btf_vlen(x);
	switch (btf_kind(x)) {
	case BTF_KIND_INT:
		return *(__u32 *)(x + 1) == *(__u32 *)(y + 1);
	case BTF_KIND_ARRAY:
		return !memcmp(btf_array(x), btf_array(y), sizeof(struct btf_array));
	case BTF_KIND_VAR:
		return btf_var(x)->linkage == btf_var(y)->linkage;
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		for (i = 0; i < vlen; i++)
			if (btf_members(x)[i].type != btf_members(y)[i].type ||
			    btf_members(x)[i].offset != btf_members(y)[i].offset ||
			    strcmp(name_of(a, btf_members(x)[i].name_off),
				   name_of(b, btf_members(y)[i].name_off)))
				return 0;
		return 1;
	case BTF_KIND_ENUM:
		for (i = 0; i < vlen; i++)
			if (btf_enum(x)[i].val != btf_enum(y)[i].val ||
			    strcmp(name_of(a, btf_enum(x)[i].name_off),
				   name_of(b, btf_enum(y)[i].name_off)))
				return 0;
		return 1;
	case BTF_KIND_ENUM64:
		for (i = 0; i < vlen; i++)
			if (btf_enum64_value(btf_enum64(x) + i) !=
			    btf_enum64_value(btf_enum64(y) + i) ||
			    strcmp(name_of(a, btf_enum64(x)[i].name_off),
				   name_of(b, btf_enum64(y)[i].name_off)))
				return 0;
		return 1;
	case BTF_KIND_FUNC_PROTO:
		for (i = 0; i < vlen; i++)
			if (btf_params(x)[i].type != btf_params(y)[i].type ||
			    strcmp(name_of(a, btf_params(x)[i].name_off),
				   name_of(b, btf_params(y)[i].name_off)))
				return 0;
		return 1;
	default:
		return 1;
	}
}

/* A placeholder keeps the id and, for aggregates, the kind and size. */
static int is_placeholder(const struct btf *full, const struct btf *lean,
			  __u32 id)
{
	const struct btf_type *f = btf__type_by_id(full, id);
	const struct btf_type *l = btf__type_by_id(lean, id);

	if (l->name_off || btf_vlen(l))
		return 0;
	if (btf_is_composite(l) || btf_is_any_enum(l))
		return btf_kind(l) == btf_kind(f) && l->size == f->size;
	return btf_is_ptr(l) && l->type == 0;
}

static int closed_ref(const struct btf *full, const struct btf *lean, __u32 ref)
{
	const struct btf_type *t = btf__type_by_id(lean, ref);

	/* a kept "void *" looks like a placeholder but is identical */
	return !ref || same_type(full, lean, ref) ||
	       (is_placeholder(full, lean, ref) &&
		(btf_is_composite(t) || btf_is_any_enum(t)));
}

/* Every id a kept type refers to is kept too, or is a placeholder of the
 * same kind and size (a named aggregate libbpf matches by name). */
static int closed(const struct btf *full, const struct btf *lean, __u32 id)
{
	const struct btf_type *t = btf__type_by_id(lean, id);
	__u32 refs[3] = { 0 }, r;
	__u16 i, n = 0, vlen = btf_vlen(t);

	switch (btf_kind(t)) {
	case BTF_KIND_ARRAY:
		refs[n++] = btf_array(t)->type;
		refs[n++] = btf_array(t)->index_type;
		break;
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		for (i = 0; i < vlen; i++)
			if (!closed_ref(full, lean, btf_members(t)[i].type))
				return 0;
		break;
	case BTF_KIND_FUNC_PROTO:
		for (i = 0; i < vlen; i++)
			if (!closed_ref(full, lean, btf_params(t)[i].type))
				return 0;
		refs[n++] = t->type;
		break;
	case BTF_KIND_PTR: case BTF_KIND_TYPEDEF: case BTF_KIND_CONST:
	case BTF_KIND_VOLATILE: case BTF_KIND_RESTRICT: case BTF_KIND_FUNC:
	case BTF_KIND_VAR: case BTF_KIND_TYPE_TAG:
		refs[n++] = t->type;
		break;
	}
	for (r = 0; r < n; r++)
		if (!closed_ref(full, lean, refs[r]))
			return 0;
	return 1;
}

static bool has_vars(const struct btf *btf)
{
	for (__u32 id = 1; id < btf__type_cnt(btf); id++)
		if (btf_is_var(btf__type_by_id(btf, id)))
			return true;
	return false;
}

static void check_name(const struct btf *full, const struct btf *lean,
		       const char *name)
{
	static const __u32 kinds[] = {
		BTF_KIND_STRUCT, BTF_KIND_UNION, BTF_KIND_TYPEDEF, BTF_KIND_VAR,
		BTF_KIND_FUNC, BTF_KIND_ENUM, BTF_KIND_FWD,
	};
	int found = 0;
	__s32 fid, lid;
	size_t k;

	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		fid = btf__find_by_name_kind(full, name, kinds[k]);
		lid = btf__find_by_name_kind(lean, name, kinds[k]);
		if (fid != lid) {
			check(0, "%s kind %u: id %d in full, %d in lean",
			      name, kinds[k], fid, lid);
			continue;
		}
		if (fid <= 0)
			continue;
		found++;
		check(same_type(full, lean, fid),
		      "%s [%d] same id, kind, size and members", name, fid);
	}
	/* A kernel whose BTF has no variables at all (pahole before 1.18,
	 * e.g. Debian's 5.10) has no runqueues to find. */
	check(found || (!strcmp(name, "runqueues") && !has_vars(full)),
	      "%s found", name);
}

/* What lean_btf_want() must derive from a BPF object's own BTF: flavor
 * suffixes dropped, attach targets from program section names. */
static const char *const from_local[] = {
	"sched_entity", "btf_trace_sched_wakeup", "vfs_read",
};
#define NR_LOCAL (sizeof(from_local) / sizeof(from_local[0]))

static int want_local_btf(void)
{
	struct btf *local = btf__new_empty();
	int err, id;

	if (!local)
		return -errno;
	id = btf__add_int(local, "long long unsigned int", 8, 0);
	err = id < 0 ? id : btf__add_struct(local, "sched_entity___hl", 8);
	err = err < 0 ? err : btf__add_field(local, "vruntime", id, 0, 0);
	err = err < 0 ? err : btf__add_str(local, "tp_btf/sched_wakeup");
	err = err < 0 ? err : btf__add_str(local, "fentry/vfs_read");
	if (err >= 0)
		lean_btf_want(local);
	btf__free(local);
	return err < 0 ? err : 0;
}

/* Loaded ok in a fresh process: how many ms it took, else -1. */
static double took(const char *status)
{
	double ms;

	return sscanf(status, "ok %lf", &ms) == 1 ? ms : -1;
}

static void check_memory(const char *copy)
{
	char st_base[64] = "", st_full[64] = "", st_lean[64] = "", st_read[64] = "";
	long base = measure("none", NULL, st_base, sizeof(st_base));
	long full = measure("full", NULL, st_full, sizeof(st_full));
	long lean = measure("lean", NULL, st_lean, sizeof(st_lean));
	long file = measure("lean", copy, st_read, sizeof(st_read));

	check(base > 0 && full > 0 && lean > 0 && took(st_full) >= 0 &&
	      took(st_lean) >= 0, "fresh-process VmHWM: baseline %ld kB, "
	      "full BTF %ld kB (%.1f ms), lean BTF %ld kB (%.1f ms)",
	      base, full, took(st_full), lean, took(st_lean));
	check(lean > 0 && full > 0 && lean - base < (full - base) / 3,
	      "lean BTF costs %ld kB over baseline, full BTF %ld kB",
	      lean - base, full - base);
	/* Read, not mapped: the string section is copied. Usually about
	 * as much as the mapped sysfs file (2.7-2.9 MB here, full 9.6 MB);
	 * once, on 6.1 under emulation, 4.8 MB: half of full is the bound. */
	check(file > 0 && took(st_read) >= 0 && file - base < (full - base) / 2,
	      "lean BTF read from a regular file costs %ld kB over baseline "
	      "(%.1f ms)", file - base, took(st_read));
}

/* A regular-file copy of the kernel BTF in @path, a mkstemp() template. */
static int copy_btf(char *path)
{
	int in = open("/sys/kernel/btf/vmlinux", O_RDONLY), out = -1;
	char buf[64 * 1024];
	ssize_t n = -1;

	if (in >= 0)
		out = mkstemp(path);
	while (out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			n = -1;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return n ? -1 : 0;
}

static void check_obj(const char *path)
{
	char st_full[64] = "", st_lean[64] = "";
	long full = measure("obj-full", path, st_full, sizeof(st_full));
	long lean = measure("obj-lean", path, st_lean, sizeof(st_lean));

	check(full > 0 && !strncmp(st_full, "ok ", 3),
	      "%s loads and attaches with libbpf's loader: VmHWM %ld kB (%s)",
	      path, full, st_full);
	check(lean > 0 && !strncmp(st_lean, "ok ", 3),
	      "%s loads and attaches with the lean loader: VmHWM %ld kB (%s)",
	      path, lean, st_lean);
}

int main(int argc, char **argv)
{
	__u32 id, n, real = 0, bad = 0, badid = 0, open = 0, openid = 0;
	char copy[] = "/tmp/test_lean_btf.XXXXXX";
	const void *raw, *raw_read = NULL;
	__u32 sz = 0, sz_read = 0;
	struct btf *full, *lean, *read_lean;
	int copied;
	__s32 fid, lid;
	size_t i;

	if (argc >= 3 && !strcmp(argv[1], "--child"))
		return child(argv[2], argc > 3 ? argv[3] : NULL);
	libbpf_set_print(print_fn);	/* expected "not found" warnings */

	copied = !copy_btf(copy);
	check(copied, "kernel BTF copied to %s", copy);
	check_memory(copy);
	for (i = 1; i + 1 < (size_t)argc; i += 2)
		if (!strcmp(argv[i], "--obj"))
			check_obj(argv[i + 1]);

	full = libbpf_find_kernel_btf();
	for (i = 0; i < NR_NAMES; i++)
		lean_btf_want_name(names[i]);
	check(!want_local_btf(), "wants taken from a BPF object's BTF");
	lean = lean_btf_load();
	check(full && lean, "full and lean kernel BTF load%s%s",
	      full && lean ? "" : ": ", full && lean ? "" : strerror(errno));
	lean_btf_set_path(copy);
	read_lean = lean_btf_load();
	lean_btf_set_path(NULL);
	if (copied)
		unlink(copy);
	if (!full || !lean)
		return 1;
	raw = btf__raw_data(lean, &sz);
	if (read_lean)
		raw_read = btf__raw_data(read_lean, &sz_read);
	check(raw && raw_read && sz == sz_read && !memcmp(raw, raw_read, sz),
	      "lean BTF read from a regular file is the mapped one, byte for "
	      "byte (%u bytes)", sz_read);
	btf__free(read_lean);

	n = btf__type_cnt(full);
	check(btf__type_cnt(lean) == n, "type count %u in both",
	      btf__type_cnt(lean));
	if (btf__type_cnt(lean) != n)
		return 1;

	for (i = 0; i < NR_NAMES; i++)
		check_name(full, lean, names[i]);
	for (i = 0; i < NR_LOCAL; i++)
		check_name(full, lean, from_local[i]);

	for (id = 1; id < n; id++) {
		if (is_placeholder(full, lean, id))
			continue;
		real++;
		if (!same_type(full, lean, id) && !bad++)
			badid = id;
		if (!closed(full, lean, id) && !open++)
			openid = id;
	}
	check(!bad, "%u of %u types kept real, all identical to the kernel's "
	      "(%u differ, first [%u])", real, n - 1, bad, badid);
	check(!open, "what kept types refer to is kept or an aggregate "
	      "placeholder (%u not, first [%u])", open, openid);

	fid = btf__find_by_name_kind(full, "mm_struct", BTF_KIND_STRUCT);
	lid = btf__find_by_name_kind(lean, "mm_struct", BTF_KIND_STRUCT);
	check(fid > 0 && lid < 0, "unwanted struct mm_struct [%d] is a placeholder",
	      fid);

	/* These go through libbpf.so's own call of btf__load_vmlinux_btf(). */
	fid = btf__find_by_name_kind(full, "btf_trace_sched_switch",
				     BTF_KIND_TYPEDEF);
	lid = libbpf_find_vmlinux_btf_id("sched_switch", BPF_TRACE_RAW_TP);
	check(fid > 0 && lid == fid, "libbpf resolves tp_btf/sched_switch to [%d]"
	      " through the interposed loader", lid);
	fid = btf__find_by_name_kind(full, "do_exit", BTF_KIND_FUNC);
	lid = libbpf_find_vmlinux_btf_id("do_exit", BPF_TRACE_FENTRY);
	check(fid > 0 && lid < 0, "libbpf gets the lean BTF: unwanted do_exit [%d]"
	      " not found (%d)", fid, lid);

	btf__free(lean);
	btf__free(full);
	return failed;
}
