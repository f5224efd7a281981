/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The functions an ELF file defines, from .symtab and .dynsym, for
 * attaching uprobes: each with the file offset the kernel wants.
 */
#ifndef HOWLONG_ELFSYM_H
#define HOWLONG_ELFSYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hl_func {
	char *name;
	uint64_t addr;		/* virtual address */
	uint64_t offset;	/* in the file: where the uprobe goes */
	uint64_t size;
};

struct hl_func_list {
	struct hl_func *f;	/* by address; one per address */
	size_t n;
	size_t ifuncs;		/* matching GNU indirect functions, skipped */
};

/*
 * The defined functions of the ELF file at path whose names match the
 * fnmatch(3) glob. Aliases (several names at one address) come once,
 * under the name without leading underscores if there is one, else the
 * shortest. Indirect functions (STT_GNU_IFUNC: the symbol is the
 * resolver, not the function) are skipped and counted. Returns 0,
 * -ENOEXEC (not ELF, or no symbols), -ENOMEM or -errno of open().
 * Free with hl_funcs_free().
 */
int hl_funcs_find(const char *path, const char *glob, struct hl_func_list *out);
void hl_funcs_free(struct hl_func_list *l);

/* An executable that is not position independent (ET_EXEC): loaded at
 * the addresses it names, in every process. False if unreadable. */
bool hl_elf_fixed(const char *path);

/* The GNU build id of the ELF file at path (its NT_GNU_BUILD_ID note):
 * how many bytes, at most len, or -ENOENT (none), -ENOEXEC, -errno. */
int hl_elf_build_id(const char *path, uint8_t *buf, size_t len);

#endif /* HOWLONG_ELFSYM_H */
