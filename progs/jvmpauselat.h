/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* jvmpauselat: types shared by progs/jvmpauselat.bpf.c and
 * tools/jvmpauselat.c. */
#ifndef HOWLONG_JVMPAUSELAT_H
#define HOWLONG_JVMPAUSELAT_H

/* VM operation names are C identifiers, "G1CollectForAllocation" and the
 * like; longer ones are cut. A power of two: the BPF side masks. */
#define PAUSE_OP_MAX 64

/* What the JVM's gc__begin marker said within a pause; the strongest
 * wins when a collection escalates (young, then full, in one pause). */
enum pause_gc {
	PAUSE_GC_NONE,
	PAUSE_GC_YOUNG,		/* gc__begin(is_full = 0) */
	PAUSE_GC_FULL,		/* gc__begin(is_full = 1) */
};

/* --per-op keys: an op name's hash, shifted, with the pause_gc below. */
#define PAUSE_KEY_GC_BITS 2

struct pause_op_name {
	char name[PAUSE_OP_MAX];
};

/* One finished pause, for --threshold. */
struct pause_event {
	__u64 duration_ns;	/* safepoint begin to end */
	__u64 reach_ns;		/* begin to the operation's start */
	__u32 pid;
	__u32 tid;		/* the VM thread */
	__u32 gc;		/* enum pause_gc */
	__u32 pad;
	struct pause_op_name op;
};

#endif /* HOWLONG_JVMPAUSELAT_H */
