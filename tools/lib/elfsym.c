// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "elfsym.h"

/* The file offset of a virtual address: through the loadable segment
 * that holds it. 0 when none does. */
static uint64_t file_offset(Elf *elf, uint64_t addr)
{
	size_t n;
	GElf_Phdr ph;

	if (elf_getphdrnum(elf, &n))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD ||
		    !(ph.p_flags & PF_X))
			continue;
		if (addr >= ph.p_vaddr && addr - ph.p_vaddr < ph.p_filesz)
			return addr - ph.p_vaddr + ph.p_offset;
	}
	return 0;
}

/* Of two names for one address, the one a user would call it by. */
static bool better_name(const char *a, const char *b)
{
	bool ua = a[0] == '_', ub = b[0] == '_';

	if (ua != ub)
		return !ua;
	return strlen(a) < strlen(b);
}

static int add(struct hl_func_list *l, size_t *cap, const char *name,
	       uint64_t addr, uint64_t off, uint64_t size)
{
	struct hl_func *f;

	for (size_t i = 0; i < l->n; i++) {
		if (l->f[i].addr != addr)
			continue;
		if (better_name(name, l->f[i].name)) {
			char *s = strdup(name);

			if (!s)
				return -ENOMEM;
			free(l->f[i].name);
			l->f[i].name = s;
		}
		return 0;
	}
	if (l->n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		f = realloc(l->f, *cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		l->f = f;
	}
	f = &l->f[l->n];
	f->name = strdup(name);
	if (!f->name)
		return -ENOMEM;
	f->addr = addr;
	f->offset = off;
	f->size = size;
	l->n++;
	return 0;
}

static int scan_symtab(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh,
		       const char *glob, struct hl_func_list *l, size_t *cap)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t n = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0;
	GElf_Sym sym;
	const char *name;
	uint64_t off;
	int err;

	for (size_t i = 0; data && i < n; i++) {
		if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF ||
		    !sym.st_value)
			continue;
		if (GELF_ST_TYPE(sym.st_info) != STT_FUNC &&
		    GELF_ST_TYPE(sym.st_info) != STT_GNU_IFUNC)
			continue;
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (!name || !*name || fnmatch(glob, name, 0))
			continue;
		if (GELF_ST_TYPE(sym.st_info) == STT_GNU_IFUNC) {
			l->ifuncs++;
			continue;
		}
		off = file_offset(elf, sym.st_value);
		if (!off)
			continue;
		err = add(l, cap, name, sym.st_value, off, sym.st_size);
		if (err)
			return err;
	}
	return 0;
}

static int compare_addr(const void *a, const void *b)
{
	const struct hl_func *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int scan(Elf *elf, const char *glob, struct hl_func_list *l)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	size_t cap = 0;
	bool any = false;
	int err = 0;

	while (!err && (scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB &&
						sh.sh_type != SHT_DYNSYM))
			continue;
		any = true;
		err = scan_symtab(elf, scn, &sh, glob, l, &cap);
	}
	if (!err && !any)
		err = -ENOEXEC;
	if (!err)
		qsort(l->f, l->n, sizeof(*l->f), compare_addr);
	return err;
}

/* The ELF file at path, open for reading (*fd to close after elf_end),
 * or NULL with -errno or -ENOEXEC in *err. */
static Elf *elf_open(const char *path, int *fd, int *err)
{
	Elf *elf;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		*err = -ENOEXEC;
		return NULL;
	}
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		*err = -errno;
		return NULL;
	}
	elf = elf_begin(*fd, ELF_C_READ, NULL);
	if (elf && elf_kind(elf) == ELF_K_ELF)
		return elf;
	elf_end(elf);
	close(*fd);
	*err = -ENOEXEC;
	return NULL;
}

int hl_funcs_find(const char *path, const char *glob, struct hl_func_list *out)
{
	Elf *elf;
	int fd, err;

	memset(out, 0, sizeof(*out));
	elf = elf_open(path, &fd, &err);
	if (!elf)
		return err;
	err = scan(elf, glob, out);
	elf_end(elf);
	close(fd);
	if (err)
		hl_funcs_free(out);
	return err;
}

bool hl_elf_fixed(const char *path)
{
	GElf_Ehdr eh;
	bool fixed;
	int fd, err;
	Elf *elf = elf_open(path, &fd, &err);

	if (!elf)
		return false;
	fixed = gelf_getehdr(elf, &eh) && eh.e_type == ET_EXEC;
	elf_end(elf);
	close(fd);
	return fixed;
}

/* The build id in the note section scn, or -ENOENT. */
static int note_build_id(Elf_Scn *scn, uint8_t *buf, size_t len)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t off = 0, name_off, desc_off;
	GElf_Nhdr nh;

	while (d && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off))) {
		if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 ||
		    memcmp((char *)d->d_buf + name_off, "GNU", 4))
			continue;
		if (nh.n_descsz < len)
			len = nh.n_descsz;
		memcpy(buf, (char *)d->d_buf + desc_off, len);
		return (int)len;
	}
	return -ENOENT;
}

int hl_elf_build_id(const char *path, uint8_t *buf, size_t len)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	int fd, n = -ENOENT;
	Elf *elf = elf_open(path, &fd, &n);

	if (!elf)
		return n;
	while (n == -ENOENT && (scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_NOTE)
			n = note_build_id(scn, buf, len);
	elf_end(elf);
	close(fd);
	return n;
}

void hl_funcs_free(struct hl_func_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->f[i].name);
	free(l->f);
	memset(l, 0, sizeof(*l));
}
