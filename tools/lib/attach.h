/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Start-up common to every tool: privilege and BTF checks, then opening,
 * loading and attaching the skeleton once, with the attach method chosen
 * before loading from what the kernel has (tp_btf where its BTF has the
 * tracepoints' prototypes, else raw_tp; classic tracepoints on request).
 */
#ifndef HOWLONG_ATTACH_H
#define HOWLONG_ATTACH_H

#include <stdbool.h>
#include <sys/types.h>
#include <bpf/libbpf.h>
#include "copies.h"
#include "usdt.h"

enum hl_method {
	HL_TP_BTF,
	HL_RAW_TP,
	HL_TRACEPOINT,
	HL_USDT,	/* user-space markers: one way only */
	HL_UPROBE,	/* user-space functions (uprobe, uretprobe) */
	HL_METHODS,
};

#define HL_TRACEPOINT_METHODS \
	((1U << HL_TP_BTF) | (1U << HL_RAW_TP) | (1U << HL_TRACEPOINT))

const char *hl_method_name(enum hl_method m);

struct hl_skel_ops {
	unsigned int methods;	/* bit per enum hl_method, in that order */
	void *(*open)(const struct bpf_object_open_opts *opts);
	struct bpf_object *(*object)(void *skel);
	int (*load)(void *skel);
	int (*attach)(void *skel);
	void (*destroy)(void *skel);
	volatile __u32 *(*hist_buf)(void *skel);	/* progs/lib/hist.bpf.h's */
};

/* Thunks from a bpftool skeleton type to struct hl_skel_ops; attach_fn is
 * the skeleton's own attach or one of the tool's (markers need a path). */
#define HL_SKEL_OPS(name, method_set, attach_fn)			\
	static void *name##_open_thunk(const struct bpf_object_open_opts *o) \
	{ return name##__open_opts(o); }				\
	static struct bpf_object *name##_obj_thunk(void *s)		\
	{ return ((struct name *)s)->obj; }				\
	static int name##_load_thunk(void *s)				\
	{ return name##__load(s); }					\
	static int name##_attach_thunk(void *s)				\
	{ return attach_fn(s); }					\
	static void name##_destroy_thunk(void *s)			\
	{ name##__destroy(s); }						\
	static volatile __u32 *name##_hist_buf_thunk(void *s)		\
	{ return &((struct name *)s)->bss->hist_buf; }			\
	static const struct hl_skel_ops name##_ops = {			\
		.methods = (method_set),				\
		.open = name##_open_thunk, .object = name##_obj_thunk,	\
		.load = name##_load_thunk, .attach = name##_attach_thunk, \
		.destroy = name##_destroy_thunk,			\
		.hist_buf = name##_hist_buf_thunk,			\
	}

/* Between open and load: set .rodata, choose programs. 0 or -errno. */
typedef int (*hl_prepare_fn)(void *skel, enum hl_method m, void *ctx);

/* After argument parsing: checks privileges and BTF, installs the libbpf
 * message handler and blocks SIGINT/SIGTERM for hl_loop_run(). */
void hl_setup(const char *tool);

/* Root, or CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN): what hl_setup()
 * requires. */
bool hl_bpf_privileged(void);

/* Loads the programs prepare() leaves enabled for the method chosen (or
 * --attach METHOD), once. Exits 1 with the reason (the verifier's, if it
 * rejected a program) and a hint if that fails. */
void *hl_open_attach(const struct hl_skel_ops *ops, hl_prepare_fn prepare,
		     void *ctx, enum hl_method *chosen);

/* Autoload exactly the programs of method m whose names end in suffix
 * (NULL: any name); programs of other sections are left alone.
 * Returns how many were enabled. */
int hl_select_programs(struct bpf_object *obj, enum hl_method m,
		       const char *suffix);

/* Autoload (on) or not the programs whose names start with prefix. */
void hl_autoload_prefix(struct bpf_object *obj, const char *prefix, bool on);

/*
 * Of each program NAME_TAG_METHOD and its plain NAME_METHOD, keep the
 * tagged one (on) or the plain one loading, if it was to load: a variant
 * that needs what only some kernels have. tag is e.g. "_fast".
 */
void hl_autoload_variant(struct bpf_object *obj, const char *tag, bool on);

/* Links a tool attached by hand (markers need a binary path); destroyed
 * by hl_drop_links() before the skeleton. */
void hl_keep_link(struct bpf_link *link);
void hl_drop_links(void);

/* False if the kernel cannot tell probes in a position-independent
 * binary or a shared library apart without a process (no attach cookies,
 * before 5.15) and none is given (pid 0). */
bool hl_addressable(const char *path, pid_t pid);
/* The same, as one line and exit 1 for false. */
void hl_check_addressable(const char *path, pid_t pid);

/* The process to attach markers to: the one -p names (pid; 0: none),
 * so that no other process takes the traps or has a marker's semaphore
 * raised, else every process that maps the binary (-1). */
pid_t hl_marker_pid(pid_t pid);

/* The binary at path, then, with --all-containers, its running copies
 * (see copies.h); pid: -p's process, 0 for none. 0 or -errno; free
 * out with hl_copies_free(). */
int hl_attach_paths(const char *path, pid_t pid, struct hl_copies *out);

/* Attaches every autoloaded program of obj to its marker (the first entry
 * whose prefix matches) in the binary at path, for every process that
 * maps it (see hl_marker_pid()), and keeps the links. 0, or -errno
 * (-ENOENT: no entry). */
int hl_attach_markers(struct bpf_object *obj, const char *path,
		      const struct hl_marker_prog *table, pid_t pid);

#endif /* HOWLONG_ATTACH_H */
