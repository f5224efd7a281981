// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * USDT markers from the ELF notes sys/sdt.h leaves in a binary: one note
 * per site in section .note.stapsdt, owner "stapsdt", type 3. Its
 * descriptor is three target-sized words (pc, base, semaphore) followed
 * by "provider\0name\0args\0".
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "usdt.h"
#include "util.h"

#define STAPSDT_NOTE_TYPE 3
#define LIBBPF_MAX_ARGS 12	/* USDT_MAX_ARG_CNT of libbpf 1.1 */

/* The descriptor is raw file bytes: libelf converts only note headers. */
static uint64_t get_word(const unsigned char *p, size_t size, bool msb)
{
	uint64_t v = 0;

	for (size_t i = 0; i < size; i++)
		v |= (uint64_t)p[msb ? size - 1 - i : i] << (8 * i);
	return v;
}

static int count_args(const char *args)
{
	int n = 0;

	for (const char *p = args; *p; p++)
		if (*p != ' ' && (p == args || p[-1] == ' '))
			n++;
	return n;
}

static int add_site(struct hl_usdt_list *l, size_t *cap, const char *strs,
		    size_t len, uint64_t pc, uint64_t sema)
{
	struct hl_usdt *s;
	char *copy;

	if (l->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;

		s = realloc(l->sites, ncap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		l->sites = s;
		*cap = ncap;
	}
	copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, strs, len);
	s = &l->sites[l->n++];
	s->provider = copy;
	s->name = copy + strlen(copy) + 1;
	s->args = s->name + strlen(s->name) + 1;
	s->nargs = count_args(s->args);
	s->pc = pc;
	s->semaphore = sema;
	return 0;
}

/* All stapsdt notes of one section. */
static int read_notes(Elf_Data *data, struct hl_usdt_list *l, size_t *cap,
		      size_t wsize, bool msb, bool has_base, uint64_t base_addr)
{
	size_t off = 0, next, name_off, desc_off;
	GElf_Nhdr nh;

	while ((next = gelf_getnote(data, off, &nh, &name_off, &desc_off))) {
		const unsigned char *d = data->d_buf;
		const char *name = (char *)data->d_buf + name_off;
		const char *strs, *end, *p;
		uint64_t pc, base, sema;
		int err, i;

		off = next;
		d += desc_off;
		if (nh.n_type != STAPSDT_NOTE_TYPE || nh.n_namesz != 8 ||
		    memcmp(name, "stapsdt", 8))
			continue;
		if (nh.n_descsz < 3 * wsize + 3)
			return -ENOEXEC;
		pc = get_word(d, wsize, msb);
		base = get_word(d + wsize, wsize, msb);
		sema = get_word(d + 2 * wsize, wsize, msb);
		/* Prelink moves sections; .stapsdt.base moves with them. */
		if (has_base) {
			pc += base_addr - base;
			if (sema)
				sema += base_addr - base;
		}
		strs = (const char *)d + 3 * wsize;
		end = (const char *)d + nh.n_descsz;
		for (p = strs, i = 0; i < 3; i++, p++) {
			p = memchr(p, '\0', end - p);
			if (!p)
				return -ENOEXEC;
		}
		err = add_site(l, cap, strs, p - strs, pc, sema);
		if (err)
			return err;
	}
	return 0;
}

static int read_elf(Elf *elf, struct hl_usdt_list *l)
{
	uint64_t base_addr = 0;
	bool has_base = false;
	Elf_Scn *scn = NULL;
	size_t shstrndx, cap = 0;
	GElf_Ehdr eh;
	size_t wsize;
	bool msb;

	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh) ||
	    elf_getshdrstrndx(elf, &shstrndx))
		return -ENOEXEC;
	wsize = eh.e_ident[EI_CLASS] == ELFCLASS32 ? 4 : 8;
	msb = eh.e_ident[EI_DATA] == ELFDATA2MSB;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			return -ENOEXEC;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && !strcmp(name, ".stapsdt.base")) {
			base_addr = sh.sh_addr;
			has_base = true;
		}
	}
	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *data = NULL;
		const char *name;
		GElf_Shdr sh;
		int err;

		gelf_getshdr(scn, &sh);
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (sh.sh_type != SHT_NOTE || !name ||
		    strcmp(name, ".note.stapsdt"))
			continue;
		while ((data = elf_getdata(scn, data))) {
			err = read_notes(data, l, &cap, wsize, msb, has_base,
					 base_addr);
			if (err)
				return err;
		}
	}
	return 0;
}

int hl_usdt_read(const char *path, struct hl_usdt_list *out)
{
	Elf *elf;
	int fd, err;

	out->sites = NULL;
	out->n = 0;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOEXEC;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	err = elf ? read_elf(elf, out) : -ENOEXEC;
	elf_end(elf);
	close(fd);
	if (err)
		hl_usdt_free(out);
	return err;
}

void hl_usdt_free(struct hl_usdt_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free((char *)l->sites[i].provider);
	free(l->sites);
	l->sites = NULL;
	l->n = 0;
}

const struct hl_usdt *hl_usdt_find(const struct hl_usdt_list *l,
				   const char *provider, const char *name,
				   size_t *nsites)
{
	const struct hl_usdt *first = NULL;
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++) {
		const struct hl_usdt *s = &l->sites[i];

		if (strcmp(s->name, name) || strcmp(s->provider, provider))
			continue;
		if (!first)
			first = s;
		n++;
	}
	if (nsites)
		*nsites = n;
	return first;
}

#ifdef __x86_64__
/* The register names libbpf 1.1 maps to struct pt_regs on x86-64. */
static bool x86_reg_known(const char *r, size_t len)
{
	static const char *const regs[] = {
		"rip", "eip",
		"rax", "eax", "ax", "al", "rbx", "ebx", "bx", "bl",
		"rcx", "ecx", "cx", "cl", "rdx", "edx", "dx", "dl",
		"rsi", "esi", "si", "sil", "rdi", "edi", "di", "dil",
		"rbp", "ebp", "bp", "bpl", "rsp", "esp", "sp", "spl",
	};
	size_t digits;

	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		if (strlen(regs[i]) == len && !memcmp(regs[i], r, len))
			return true;
	/* r8..r15, optionally with a d, w or b suffix */
	if (len < 2 || r[0] != 'r')
		return false;
	digits = r[1] == '1' && len > 2 && r[2] >= '0' && r[2] <= '5' ? 2 :
		 r[1] == '8' || r[1] == '9' ? 1 : 0;
	if (!digits)
		return false;
	len -= 1 + digits;
	r += 1 + digits;
	return !len || (len == 1 && strchr("dwb", *r));
}

/* An optionally signed decimal; advances *p. */
static bool take_num(const char **p, long *v)
{
	const char *s = *p;

	if (*s == '-' || *s == '+')
		s++;
	if (*s < '0' || *s > '9')
		return false;
	*v = strtol(*p, (char **)p, 10);
	return true;
}

/* "%reg" followed by end: the name must be one libbpf knows. */
static bool take_reg(const char *p, const char *end)
{
	return *p == '%' && x86_reg_known(p + 1, end - p - 1);
}

/* One spec: N@%reg, N@off(%reg), N@(%reg) or N@$imm. */
static bool arg_ok(const char *p, const char *end)
{
	long size, v;

	if (!take_num(&p, &size) || *p++ != '@')
		return false;
	if (size != 1 && size != 2 && size != 4 && size != 8 &&
	    size != -1 && size != -2 && size != -4 && size != -8)
		return false;
	if (*p == '$')
		return ++p < end && take_num(&p, &v) && p == end;
	if (*p == '%')
		return take_reg(p, end);
	if (*p != '(' && !take_num(&p, &v))
		return false;
	/* base register only: "(%rax,%rbx,8)" has no pt_regs slot */
	return *p == '(' && end[-1] == ')' && take_reg(p + 1, end - 1);
}

bool hl_usdt_bad_arg(const char *args, char *buf, size_t len)
{
	const char *p = args, *end;
	int n = 0;

	for (;;) {
		while (*p == ' ')
			p++;
		if (!*p)
			return false;
		end = strchr(p, ' ');
		if (!end)
			end = p + strlen(p);
		/* libbpf rejects the whole site beyond 12 arguments */
		if (++n > LIBBPF_MAX_ARGS || !arg_ok(p, end))
			break;
		p = end;
	}
	if (len)
		snprintf(buf, len, "%.*s", (int)(end - p), p);
	return true;
}
#else
/* libbpf's other argument grammars are not modelled: let it decide. */
bool hl_usdt_bad_arg(const char *args, char *buf, size_t len)
{
	(void)args;
	(void)buf;
	(void)len;
	return false;
}
#endif

bool hl_usdt_args_parsable(const char *args)
{
	return !hl_usdt_bad_arg(args, NULL, 0);
}

void hl_usdt_read_or_die(const char *path, struct hl_usdt_list *out)
{
	int err = hl_usdt_read(path, out);

	if (err == -ENOEXEC)
		hl_die("%s is not an ELF file", path);
	if (err)
		hl_die("%s: cannot read markers: %s", path, strerror(-err));
}

size_t hl_usdt_require(const struct hl_usdt_list *l, const char *path,
		       const char *provider, const char *name)
{
	size_t n = 0;
	char spec[64];

	if (!l->n)
		hl_die("%s has no USDT markers: built without --enable-dtrace?",
		       path);
	for (size_t i = 0; i < l->n; i++) {
		const struct hl_usdt *s = &l->sites[i];

		if (strcmp(s->name, name) || strcmp(s->provider, provider))
			continue;
		/* one bad site fails the attach of all of them */
		if (hl_usdt_bad_arg(s->args, spec, sizeof(spec)))
			hl_die("%s: marker %s:%s has an argument libbpf cannot read (%s)",
			       path, provider, name, spec);
		n++;
	}
	if (!n)
		hl_die("%s has no marker %s:%s", path, provider, name);
	return n;
}

void hl_usdt_require_all(const char *path, const struct hl_marker_prog *table)
{
	struct hl_usdt_list l;

	hl_usdt_read_or_die(path, &l);
	for (; table->prefix; table++)
		hl_usdt_require(&l, path, table->provider, table->name);
	hl_usdt_free(&l);
}
