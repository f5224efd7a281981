/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* biolat: types shared by progs/biolat.bpf.c and tools/biolat.c. */
#ifndef HOWLONG_BIOLAT_H
#define HOWLONG_BIOLAT_H

/*
 * A histogram's id, from bit 0 up:
 *   29 bits  the disk (-D): its dev_t as the kernel packs it, major << 20
 *            | minor; block majors are below 512 (BLKDEV_MAJOR_MAX)
 *    3 bits  the operation (-F): enum biolat_op
 *    4 bits  the request's flags (-F): BIOLAT_F_*
 *    1 bit   the phase (-Q): queued (insert -> issue), else on the device
 *   27 bits  the owner (-P, -L, --per-cgroup): pid, tid or cgroup id
 * A field is 0 unless its option asked for it.
 */
#define BIOLAT_DEV_MASK ((1ULL << 29) - 1)
#define BIOLAT_OP_SHIFT 29
#define BIOLAT_OP_MASK 7ULL
#define BIOLAT_FLAGS_SHIFT 32
#define BIOLAT_FLAGS_MASK 15ULL
#define BIOLAT_QUEUE_BIT (1ULL << 36)
#define BIOLAT_OWNER_SHIFT 37
#define BIOLAT_OWNER_MASK ((1ULL << 27) - 1)

#define BIOLAT_MINOR_BITS 20

enum biolat_op {
	BIOLAT_OP_READ,
	BIOLAT_OP_WRITE,
	BIOLAT_OP_FLUSH,
	BIOLAT_OP_DISCARD,
	BIOLAT_OP_WRITE_ZEROES,
	BIOLAT_OP_OTHER,
	BIOLAT_OPS,
};

#define BIOLAT_F_SYNC 1
#define BIOLAT_F_META 2
#define BIOLAT_F_FUA 4
#define BIOLAT_F_PREFLUSH 8

/*
 * A request in flight, under its identity: the struct request's address
 * (tp_btf, raw_tp), or its disk and first sector (classic tracepoints,
 * which do not carry the request).
 */
struct biolat_key {
	__u64 rq;	/* address, or sector */
	__u64 dev;	/* 0, or the disk for classic tracepoints */
};

struct biolat_rq {
	__u64 born;	/* when first seen: tells a reused address apart */
	__u64 queued;	/* inserted or requeued at, or 0 */
	__u64 issued;	/* issued to the driver at, or 0 */
	__u64 id;	/* histogram id, phase bit clear */
	__u8 skip;	/* filtered out where it was submitted */
	__u8 requeued;	/* back in a queue: keep who submitted it */
	__u8 pad[6];
	char comm[16];	/* the submitter's, for -P and -L */
};

/*
 * The direct-mapped table of requests in flight (the *_fast programs): a
 * request's slot, from its address (Fibonacci hashing of the bits above
 * its alignment).
 */
#define BIOLAT_SLOT_BITS 15

static inline __u32 biolat_slot_index(__u64 addr)
{
	return ((addr >> 6) * 0x9E3779B97F4A7C15ULL) >> (64 - BIOLAT_SLOT_BITS);
}

#endif /* HOWLONG_BIOLAT_H */
