/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* usdtlat: types shared by progs/usdtlat.bpf.c and tools/usdtlat.c. */
#ifndef HOWLONG_USDTLAT_H
#define HOWLONG_USDTLAT_H

#define USDT_DEPTH 8		/* nested pairs per thread; a power of two */
#define USDT_SHOWN 4		/* -a arguments printed per event */
#define USDT_STR_MAX 64		/* a string argument's bytes kept; power of 2 */

enum usdt_match {
	USDT_MATCH_THREAD,	/* START and END on one thread, innermost first */
	USDT_MATCH_KEY,		/* START and END carry the same argument value */
};

/* Where a START waits for its END. */
struct usdt_start {
	__u64 ts;
	__u64 by;		/* --by: the value, or a string's hash */
	__u64 shown[USDT_SHOWN];	/* -a integers */
	char str[USDT_SHOWN][USDT_STR_MAX];	/* -a strings */
	char by_str[USDT_STR_MAX];	/* --by string */
	__u32 pid;
	__u32 tid;
};

/* --match thread: a thread's open STARTs, innermost last. */
struct usdt_stack {
	__u32 depth;
	__u32 pad;
	struct usdt_start s[USDT_DEPTH];
};

/* One finished pair, for --threshold. */
struct usdt_event {
	__u64 duration_ns;
	__u32 end_tid;
	__u32 pad;
	struct usdt_start start;
};

/* --by strings: the name behind each hash, for user space. */
struct usdt_name {
	char s[USDT_STR_MAX];
};

enum usdt_counter {
	USDT_CNT_UNMATCHED,	/* ENDs with no START (tool started mid-pair) */
	USDT_COUNTERS,
};

#endif /* HOWLONG_USDTLAT_H */
