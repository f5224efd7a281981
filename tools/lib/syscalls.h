/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * System call names and numbers of the architecture built for, from the
 * kernel headers' <asm/unistd.h> at build time. The kernel exposes no
 * table of them at run time; numbers never change, and a call newer than
 * the headers shows as "syscall_N".
 */
#ifndef HOWLONG_SYSCALLS_H
#define HOWLONG_SYSCALLS_H

#include <stddef.h>

/* One past the highest number the table knows. */
unsigned int hl_syscall_count(void);

/* The name of call nr ("read"), or NULL if the table has none. */
const char *hl_syscall_name(unsigned int nr);

/* The number of the call named name, or -1. */
int hl_syscall_nr(const char *name);

/* Its name into buf, or "syscall_N" for a number the table lacks. */
const char *hl_syscall_label(unsigned int nr, char *buf, size_t len);

#endif /* HOWLONG_SYSCALLS_H */
