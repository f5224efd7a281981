/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* syslat: types shared by progs/syslat.bpf.c and tools/syslat.c. */
#ifndef HOWLONG_SYSLAT_H
#define HOWLONG_SYSLAT_H

/* System call numbers timed: below this (x86-64 and arm64 use < 500). */
#define SYSLAT_NR_MAX 1024

/* A histogram's id: whether the call failed in bit 15 (-e), its number
 * below. */
#define SYSLAT_ERR_BIT (1ULL << 15)
#define SYSLAT_NR_MASK 0x7fffULL

/* A thread's call in progress, on its CPU or in its thread storage. */
struct syslat_call {
	__u64 ts;	/* 0: none */
	__u32 nr;
	__u32 tid;	/* whose, in a CPU's slot */
};

#endif /* HOWLONG_SYSLAT_H */
