/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The USDT markers (sys/sdt.h) of a binary, read from its .note.stapsdt
 * ELF notes. libbpf attaches markers but cannot list them; a tool reads
 * them first so that a missing or unattachable marker fails with a
 * precise message instead of a bare EINVAL from the attach.
 */
#ifndef HOWLONG_USDT_H
#define HOWLONG_USDT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hl_usdt {
	const char *provider;	/* e.g. "postgresql" */
	const char *name;	/* e.g. "query__start" */
	const char *args;	/* e.g. "8@%rbx -4@12(%r13)", "" for none */
	uint64_t pc;		/* virtual address of the marker's nop */
	uint64_t semaphore;	/* virtual address of its semaphore, or 0 */
	int nargs;
};

struct hl_usdt_list {
	struct hl_usdt *sites;	/* in note order */
	size_t n;
};

/*
 * Every marker site of the ELF file at path. A binary without
 * .note.stapsdt yields 0 sites and returns 0. Errors: -ENOEXEC for a file
 * that is not ELF (or has corrupt notes), -errno from open(), -ENOMEM.
 * Addresses are adjusted for prelinking by (.stapsdt.base address - the
 * note's base), as sys/sdt.h intends. Free with hl_usdt_free().
 */
int hl_usdt_read(const char *path, struct hl_usdt_list *out);
void hl_usdt_free(struct hl_usdt_list *l);

/* First site of provider:name, or NULL; *nsites (if not NULL) gets the
 * number of sites of that marker (inlining makes several). */
const struct hl_usdt *hl_usdt_find(const struct hl_usdt_list *l,
				   const char *provider, const char *name,
				   size_t *nsites);

/*
 * Whether libbpf 1.1 can decode every argument of a site: x86-64 specs
 * N@%reg, N@off(%reg), N@(%reg), N@$imm with |N| in {1, 2, 4, 8} and at
 * most 12 arguments. Not sym(%rip), off+sym(%rip), nor (%base,%index,s).
 * On other architectures this cannot judge and returns true.
 */
bool hl_usdt_args_parsable(const char *args);
/* The first argument spec of args that libbpf cannot decode, copied to
 * buf (cut to len); false when all are fine. */
bool hl_usdt_bad_arg(const char *args, char *buf, size_t len);

/*
 * For tools: hl_usdt_read() or exit 1 with "PATH: cannot read markers:
 * REASON" ("PATH is not an ELF file" for -ENOEXEC).
 */
void hl_usdt_read_or_die(const char *path, struct hl_usdt_list *out);

/*
 * For tools, before attaching provider:name of the binary at path: exit 1
 * with one line when the binary has no markers at all ("PATH has no USDT
 * markers: built without --enable-dtrace?"), lacks this one ("PATH has no
 * marker PROVIDER:NAME") or has a site libbpf cannot decode, which would
 * fail the whole attach ("PATH: marker PROVIDER:NAME has an argument
 * libbpf cannot read (SPEC)"). Returns the number of sites.
 */
size_t hl_usdt_require(const struct hl_usdt_list *l, const char *path,
		       const char *provider, const char *name);

/* Which marker a marker tool's program attaches to: programs whose names
 * start with prefix go to provider:name (see hl_attach_markers()). Tables
 * end with a NULL prefix. */
struct hl_marker_prog {
	const char *prefix;
	const char *provider;
	const char *name;
};

/* hl_usdt_read_or_die() and hl_usdt_require() for every marker of table. */
void hl_usdt_require_all(const char *path, const struct hl_marker_prog *table);

#endif /* HOWLONG_USDT_H */
