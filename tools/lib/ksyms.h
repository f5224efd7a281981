/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Kernel symbols from /proc/kallsyms (the running kernel's, modules
 * included), to name the addresses of kernel stacks.
 */
#ifndef HOWLONG_KSYMS_H
#define HOWLONG_KSYMS_H

#include <stdint.h>

struct hl_ksyms;

/* Reads /proc/kallsyms once; NULL with errno set if it cannot, or if it
 * shows no addresses (kptr_restrict). */
struct hl_ksyms *hl_ksyms_load(void);
void hl_ksyms_free(struct hl_ksyms *k);

/* The symbol addr is in (the last at or below it), or NULL: also for an
 * address past the kernel's text that no module symbol covers (a BPF
 * program's, say). */
const char *hl_ksym_name(const struct hl_ksyms *k, uint64_t addr);
/* The address of the symbol named name, or 0. */
uint64_t hl_ksym_addr(const struct hl_ksyms *k, const char *name);

#endif /* HOWLONG_KSYMS_H */
