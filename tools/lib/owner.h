/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * -P, -L, --per-cgroup: one histogram per process, thread or cgroup of
 * the task measured (progs/lib/owner.bpf.h counts them). A tool adds
 * hl_owner_child to its argp's children, sets the object's owner_mode
 * from hl_owner, and labels each histogram with hl_owner_label().
 */
#ifndef HOWLONG_OWNER_H
#define HOWLONG_OWNER_H

#include <argp.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/common.h"
#include "report.h"

extern enum hl_owner hl_owner;
extern const struct argp hl_owner_argp;
/* The argp children of a tool whose only children are these options. */
extern const struct argp_child hl_owner_children[];

/* Labels of owner id (and the comm BPF saved with it); returns how many
 * (0 without -P, -L or --per-cgroup). */
int hl_owner_label(uint64_t id, const char *comm, struct hl_label *l,
		   char *scratch, size_t len);

#endif /* HOWLONG_OWNER_H */
