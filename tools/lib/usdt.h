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
	uint16_t machine;	/* e_machine of the file, e.g. EM_X86_64 */
};

/*
 * Every marker site of the ELF file at path. A binary without
 * .note.stapsdt yields 0 sites and returns 0. Errors: -ENOEXEC for a file
 * that is not ELF, -EBADMSG for an ELF file that is truncated or whose
 * notes are corrupt, -EISDIR, -errno from open(), -ENOMEM.
 * Addresses are adjusted for prelinking by (.stapsdt.base address - the
 * note's base), as sys/sdt.h intends. Free with hl_usdt_free().
 */
int hl_usdt_read(const char *path, struct hl_usdt_list *out);
/*
 * The same from an ELF image of size bytes in memory (what hl_usdt_read
 * does with the file mapped; the fuzzer feeds it directly). libelf may
 * convert the image in place, hence not const; it must stay until
 * hl_usdt_read_mem returns, not longer: the list holds copies.
 */
int hl_usdt_read_mem(void *image, size_t size, struct hl_usdt_list *out);
void hl_usdt_free(struct hl_usdt_list *l);

/* First site of provider:name, or NULL; *nsites (if not NULL) gets the
 * number of sites of that marker (inlining makes several). */
const struct hl_usdt *hl_usdt_find(const struct hl_usdt_list *l,
				   const char *provider, const char *name,
				   size_t *nsites);

/*
 * One argument spec of a site, decoded. sys/sdt.h writes each as
 * "N@OPERAND": |N| the size in bytes, negative for a signed type, an "f"
 * after N for floating point (sdt.h 4.x), OPERAND in the assembler's
 * syntax (AT&T on x86). Old sdt.h (v1) wrote the operand alone.
 */
enum hl_usdt_arg_kind {
	HL_USDT_ARG_REG,	/* in a register: %r14d */
	HL_USDT_ARG_MEM,	/* in memory at off(%reg) or (%reg) */
	HL_USDT_ARG_CONST,	/* a constant: $5 */
	HL_USDT_ARG_OTHER,	/* any other operand: sym(%rip), indexed
				 * (%rax,%rbx,8), or garbage */
};

struct hl_usdt_arg {
	const char *spec;	/* the whole spec, in the args string */
	int spec_len;
	const char *loc;	/* the operand, after the "N@" */
	int loc_len;
	int size;		/* |N| (at most 65535); 0: no size given */
	bool is_signed;		/* N < 0 */
	bool is_float;		/* "Nf@" */
	enum hl_usdt_arg_kind kind;
	char reg[8];		/* REG, MEM: the register without '%' */
	int64_t val;		/* MEM: the offset; CONST: the value as the
				 * argument's type reads it (cast to
				 * uint64_t when !is_signed) */
};

/*
 * Decode the next space-separated spec of *args into *a and advance
 * *args past it; false when none is left. Every spec decodes: what is
 * not understood is HL_USDT_ARG_OTHER. a points into the args string.
 */
bool hl_usdt_arg_next(const char **args, struct hl_usdt_arg *a);
/* The C-ish type: "int8" ... "uint64", "float32", "float64"; "?" for a
 * size that is not 1, 2, 4 or 8 (4 or 8 for floats). */
const char *hl_usdt_arg_type(const struct hl_usdt_arg *a);
/* Why libbpf 1.1 cannot read this argument (a short phrase, e.g.
 * "symbol-relative address"), or NULL if it can. x86-64 only: elsewhere
 * this cannot judge and returns NULL. */
const char *hl_usdt_arg_problem(const struct hl_usdt_arg *a);
/* The first argument of a site that libbpf 1.1 cannot read: its problem,
 * the argument in *bad and its 0-based number in *index (either may be
 * NULL); NULL when all are fine. Beyond 12 arguments the 13th is bad. */
const char *hl_usdt_args_problem(const char *args, struct hl_usdt_arg *bad,
				 int *index);

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
 * REASON" ("PATH is not an ELF file" for -ENOEXEC, "PATH: corrupt or
 * truncated ELF file" for -EBADMSG).
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
