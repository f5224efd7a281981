/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* jitlat: types shared by progs/jitlat.bpf.c and tools/jitlat.c. */
#ifndef HOWLONG_JITLAT_H
#define HOWLONG_JITLAT_H

/* HotSpot passes names as (pointer, length); longer ones are cut. */
#define JIT_CLASS_MAX 256	/* powers of two: the BPF side masks */
#define JIT_METHOD_MAX 128
#define JIT_SIG_MAX 256

enum jit_key {
	JIT_KEY_NONE,
	JIT_KEY_COMPILER,
};

enum jit_compiler {
	JIT_C1 = 1,
	JIT_C2,
	JIT_OTHER,	/* JVMCI (Graal) and anything else */
};

/* One finished compilation, for --threshold and --top. */
struct jit_event {
	__u64 duration_ns;
	__u32 pid;
	__u32 tid;
	__u32 compiler;
	__u32 success;
	char klass[JIT_CLASS_MAX];
	char method[JIT_METHOD_MAX];
	char sig[JIT_SIG_MAX];
};

enum jit_counter {
	JIT_CNT_FAILED,		/* compilations that did not succeed */
	JIT_COUNTERS,		/* at most HL_COUNTERS */
};

#endif /* HOWLONG_JITLAT_H */
