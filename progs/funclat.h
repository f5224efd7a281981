/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* funclat: types shared by progs/funclat.bpf.c and tools/funclat.c. */
#ifndef HOWLONG_FUNCLAT_H
#define HOWLONG_FUNCLAT_H

#define FUNC_DEPTH 32		/* timed calls open per thread; power of 2 */
#define FUNC_MAX 64		/* functions per run: two uprobes each */

/* A call in progress. */
struct func_frame {
	__u64 ts;
	__u64 sp;		/* at entry: where the return address is */
	__u32 fn;		/* index in the tool's function list */
	__u32 pad;
};

/* A thread's calls in progress, innermost last. */
struct func_stack {
	__u32 depth;		/* may exceed FUNC_DEPTH: those are not timed */
	__u32 pad;
	struct func_frame f[FUNC_DEPTH];
};

enum func_counter {
	FUNC_CNT_DEEP,		/* calls nested deeper than FUNC_DEPTH */
	FUNC_CNT_UNWOUND,	/* calls left without return (longjmp, throw) */
	FUNC_COUNTERS,
};

#endif /* HOWLONG_FUNCLAT_H */
