/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Memory-lean kernel BTF for libbpf.
 *
 * libbpf reads the whole kernel BTF (5.5 MB, held twice) in
 * bpf_object__load() to resolve a few names: CO-RE relocations, tp_btf and
 * fentry targets, typed __ksym externs. lean_btf.c replaces libbpf's
 * btf__load_vmlinux_btf() with a loader that maps or reads only what it
 * needs of the file and keeps real only the types those names can reach;
 * every other type becomes a 12-byte anonymous placeholder so that type ids
 * stay the kernel's.
 *
 * Use: call lean_btf_want(bpf_object__btf(obj)) (and lean_btf_want_name()
 * for attach targets set at run time) after bpf_object__open() and before
 * bpf_program__set_attach_target() or bpf_object__load(). Without any want,
 * or on any error, libbpf's own loader runs, so nothing gets worse.
 *
 * Link: the dynamic build needs nothing (the executable's definition of
 * btf__load_vmlinux_btf interposes libbpf.so's PLT call); the static build
 * needs -DHL_STATIC and -Wl,--wrap=btf__load_vmlinux_btf.
 *
 * Side effect: while it loads, glibc's malloc is told to mmap() blocks of
 * 4 KiB and up, so that the arrays of the result grow by mremap() rather
 * than by copying through the heap (1.7 MB less at the peak); afterwards
 * the threshold is set back to glibc's initial 128 KiB, but glibc has no
 * way to give back its dynamic adjustment of that threshold. The tools
 * allocate nothing that large afterwards. --full-btf (lean_btf_disable())
 * leaves all of this to libbpf.
 *
 * Limits: types and ksyms that live only in kernel modules cannot be found
 * reliably while the lean BTF is in use (libbpf places module BTF strings
 * after the base BTF's string section, whose size the lean BTF does not
 * keep; their type ids do stay right, so nothing reads out of bounds). A
 * named struct, union or enum that no local type is named after is, where
 * a kept type refers to it, an empty placeholder of the right kind and size
 * (elsewhere an anonymous "void *"): a CO-RE access path must walk only
 * through kernel structs whose names the object's BTF carries (flavors such
 * as task_struct___hl count), which is what CO-RE does unless a local
 * member's type is named differently from the kernel's.
 */
#ifndef HOWLONG_LEAN_BTF_H
#define HOWLONG_LEAN_BTF_H

struct btf;

/* Read BTF from @path (raw BTF, e.g. from --btf) instead of
 * /sys/kernel/btf/vmlinux; NULL restores the default. Use this instead of
 * bpf_object_open_opts.btf_custom_path, which makes libbpf parse the file
 * in full. */
void lean_btf_set_path(const char *path);

/* Leave the kernel BTF to libbpf's own loader from now on (--full-btf):
 * to compare, or should the lean reading ever fail to serve an object. */
void lean_btf_disable(void);

/* Keep every kernel type named like a type, variable or function of
 * @local_btf (CO-RE flavor suffixes "___x" ignored), plus the attach
 * targets of its tp_btf/, fentry/, fexit/, fmod_ret/, lsm/ and iter/
 * programs. Cumulative over calls. */
void lean_btf_want(const struct btf *local_btf);

/* Keep the kernel types named exactly @name, e.g. "btf_trace_sched_switch"
 * for a tp_btf program retargeted with bpf_program__set_attach_target(). */
void lean_btf_want_name(const char *name);

/* Build the lean BTF now, without falling back: NULL and errno on failure.
 * libbpf gets it through btf__load_vmlinux_btf(); exposed for tests. With
 * glibc, this pins malloc's mmap threshold at its default (128 KiB) for the
 * rest of the process (4 KiB while it runs), so that large blocks never
 * move by copying. */
struct btf *lean_btf_load(void);

/* 1 if the kernel BTF (or --btf's) has a function named @name: a kfunc
 * the kernel offers, say; 0 if not, -errno if it cannot be read. One pass
 * over the type headers, nothing kept. */
int lean_btf_has_func(const char *name);

/* 1 if the kernel BTF has a struct @sname with a member @member, 0 if
 * not, -errno if it cannot be read. One pass, nothing kept. */
int lean_btf_has_member(const char *sname, const char *member);
/* How many types of BTF kind @kind the kernel BTF has under the names of
 * the NULL-ended @names (a name counted once per type that bears it), or
 * -errno; one pass, stopping when as many were found as asked for. */
int lean_btf_count_named(int kind, const char *const *names);

/* How many parameters the function prototype that the typedef @name
 * points to has (for "btf_trace_<tracepoint>", the hidden first one
 * included), or -errno: a tracepoint's arguments as this kernel has them.
 * A few passes over the type headers, nothing kept. */
int lean_btf_proto_params(const char *name);

#endif /* HOWLONG_LEAN_BTF_H */
