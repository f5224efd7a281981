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
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "usdt.h"
#include "util.h"

#define STAPSDT_NOTE_TYPE 3
#define LIBBPF_MAX_ARGS 12	/* USDT_MAX_ARG_CNT of libbpf 1.1 */
#define MAX_ARG_SIZE 65535	/* sizes are clamped here; all are bad */

/* How the file encodes the descriptor's three address words. */
struct layout {
	size_t wsize;		/* 4 or 8 bytes */
	bool msb;		/* big-endian */
	bool has_base;		/* a .stapsdt.base section exists */
	uint64_t base_addr;	/* its address */
};

/* The descriptor is raw file bytes: libelf converts only note headers. */
static uint64_t get_word(const unsigned char *p, size_t size, bool msb)
{
	uint64_t v = 0;

	for (size_t i = 0; i < size; i++)
		v |= (uint64_t)p[msb ? size - 1 - i : i] << (8 * i);
	return v;
}

static int add_site(struct hl_usdt_list *l, size_t *cap, const char *strs,
		    size_t len, uint64_t pc, uint64_t sema)
{
	struct hl_usdt_arg a;
	const char *p;
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
	s->nargs = 0;
	for (p = s->args; hl_usdt_arg_next(&p, &a);)
		s->nargs++;
	s->pc = pc;
	s->semaphore = sema;
	return 0;
}

static bool all_zero(const unsigned char *p, size_t n)
{
	while (n && !*p)
		p++, n--;
	return !n;
}

/* One stapsdt note: 3 words, then "provider\0name\0args\0". */
static int read_site(const unsigned char *d, size_t len,
		     const struct layout *lo, struct hl_usdt_list *l,
		     size_t *cap)
{
	const char *strs, *end, *p;
	uint64_t pc, base, sema;
	int i;

	if (len < 3 * lo->wsize + 3)
		return -EBADMSG;
	pc = get_word(d, lo->wsize, lo->msb);
	base = get_word(d + lo->wsize, lo->wsize, lo->msb);
	sema = get_word(d + 2 * lo->wsize, lo->wsize, lo->msb);
	/* Prelink moves sections; .stapsdt.base moves with them. */
	if (lo->has_base) {
		pc += lo->base_addr - base;
		if (sema)
			sema += lo->base_addr - base;
	}
	strs = (const char *)d + 3 * lo->wsize;
	end = (const char *)d + len;
	for (p = strs, i = 0; i < 3; i++, p++) {
		p = memchr(p, '\0', end - p);
		if (!p)
			return -EBADMSG;
	}
	return add_site(l, cap, strs, p - strs, pc, sema);
}

/* All stapsdt notes of one section's data. */
static int read_notes(Elf_Data *data, const struct layout *lo,
		      struct hl_usdt_list *l, size_t *cap)
{
	const unsigned char *buf = data->d_buf;
	size_t off = 0, next, name_off, desc_off;
	GElf_Nhdr nh;
	int err;

	while (off < data->d_size &&
	       (next = gelf_getnote(data, off, &nh, &name_off, &desc_off))) {
		off = next;
		if (nh.n_type != STAPSDT_NOTE_TYPE || nh.n_namesz != 8 ||
		    memcmp(buf + name_off, "stapsdt", 8))
			continue;
		err = read_site(buf + desc_off, nh.n_descsz, lo, l, cap);
		if (err)
			return err;
	}
	/* gelf_getnote stops without a word at a note that overruns the
	 * section: only alignment padding may follow the last good one. */
	if (off < data->d_size && !all_zero(buf + off, data->d_size - off))
		return -EBADMSG;
	return 0;
}

static int read_elf(Elf *elf, struct hl_usdt_list *l)
{
	struct layout lo = {};
	Elf_Scn *scn = NULL;
	size_t shstrndx, shnum, cap = 0;
	const char *name;
	GElf_Ehdr eh;
	GElf_Shdr sh;
	int err;

	/* the ELF magic is there: anything libelf refuses is damage */
	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh) ||
	    elf_getshdrnum(elf, &shnum) || elf_getshdrstrndx(elf, &shstrndx) ||
	    shstrndx >= shnum)
		return -EBADMSG;
	lo.wsize = eh.e_ident[EI_CLASS] == ELFCLASS32 ? 4 : 8;
	lo.msb = eh.e_ident[EI_DATA] == ELFDATA2MSB;
	l->machine = eh.e_machine;

	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			return -EBADMSG;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && !strcmp(name, ".stapsdt.base")) {
			lo.base_addr = sh.sh_addr;
			lo.has_base = true;
		}
	}
	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *data = NULL;

		if (!gelf_getshdr(scn, &sh))
			return -EBADMSG;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (sh.sh_type != SHT_NOTE || !name ||
		    strcmp(name, ".note.stapsdt"))
			continue;
		/* elf_getdata() says NULL both at the end and for a section
		 * outside the file: only elf_errno(), cleared just before
		 * (gelf_getnote() sets it too), tells them apart. */
		for (;;) {
			elf_errno();
			data = elf_getdata(scn, data);
			if (!data)
				break;
			err = read_notes(data, &lo, l, &cap);
			if (err)
				return err;
		}
		if (elf_errno())
			return -EBADMSG;
	}
	return 0;
}

int hl_usdt_read_mem(void *image, size_t size, struct hl_usdt_list *out)
{
	Elf *elf;
	int err;

	memset(out, 0, sizeof(*out));
	if (size < SELFMAG || memcmp(image, ELFMAG, SELFMAG))
		return -ENOEXEC;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOSYS;
	/* ELF magic that libelf refuses: a header cut short, section
	 * headers past the end of the file (a truncated copy) */
	elf = elf_memory(image, size);
	if (!elf)
		return -EBADMSG;
	err = read_elf(elf, out);
	elf_end(elf);
	if (err)
		hl_usdt_free(out);
	return err;
}

int hl_usdt_read(const char *path, struct hl_usdt_list *out)
{
	struct stat st;
	void *image;
	int fd, err;

	memset(out, 0, sizeof(*out));
	/* O_NONBLOCK: a FIFO named by mistake must not hang the tool */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st))
		err = -errno;
	else if (S_ISDIR(st.st_mode))
		err = -EISDIR;
	else if (!S_ISREG(st.st_mode) || st.st_size < SELFMAG)
		err = -ENOEXEC;
	else if ((uint64_t)st.st_size > SIZE_MAX)
		err = -EFBIG;
	else {
		/* Private and writable: libelf may convert the image in
		 * place, and nothing of that may reach the file. */
		image = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE, fd, 0);
		if (image == MAP_FAILED) {
			err = -errno;
		} else {
			err = hl_usdt_read_mem(image, st.st_size, out);
			munmap(image, st.st_size);
		}
	}
	close(fd);
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

/* An optionally signed decimal that is all of [p, end) and fits. */
static bool decimal(const char *p, const char *end, int64_t *v)
{
	uint64_t u = 0, lim;
	bool neg = false;

	if (p < end && (*p == '-' || *p == '+'))
		neg = *p++ == '-';
	if (p == end)
		return false;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; p < end; p++) {
		unsigned int d = *p - '0';

		if (d > 9 || u > (lim - d) / 10)
			return false;
		u = u * 10 + d;
	}
	*v = !neg ? (int64_t)u : u ? -(int64_t)(u - 1) - 1 : 0;
	return true;
}

/* "%name" that is all of [p, end): the name copied to reg, which is
 * left alone otherwise. */
static bool take_reg(const char *p, const char *end, char reg[8])
{
	size_t n = end - p - 1;

	if (p >= end || *p != '%' || n < 1 || n > 7)
		return false;
	for (size_t i = 1; i <= n; i++)
		if (!(p[i] >= 'a' && p[i] <= 'z') &&
		    !(p[i] >= '0' && p[i] <= '9'))
			return false;
	memcpy(reg, p + 1, n);
	reg[n] = '\0';
	return true;
}

/* "N@", "-N@" or "Nf@" at the start of [p, end): the size, and the
 * operand after it. Without it the whole spec is the operand. */
static void take_size(struct hl_usdt_arg *a, const char *p, const char *end)
{
	const char *q = p;
	bool neg = false, flt = false;
	int size = 0;

	if (q < end && (*q == '-' || *q == '+'))
		neg = *q++ == '-';
	if (q == end || *q < '0' || *q > '9')
		return;
	for (; q < end && *q >= '0' && *q <= '9'; q++)
		size = size > MAX_ARG_SIZE / 10 ? MAX_ARG_SIZE :
		       size * 10 + (*q - '0');
	if (q < end && *q == 'f') {
		flt = true;
		q++;
	}
	if (q == end || *q != '@')
		return;
	a->size = size > MAX_ARG_SIZE ? MAX_ARG_SIZE : size;
	a->is_signed = neg;
	a->is_float = flt;
	a->loc = q + 1;
	a->loc_len = end - q - 1;
}

/* A constant as an argument of that size and signedness reads it: the
 * assembler writes 200 in one unsigned byte as $-56. */
static int64_t as_read(int64_t v, const struct hl_usdt_arg *a)
{
	int shift;
	uint64_t u;

	if (a->is_float || (a->size != 1 && a->size != 2 && a->size != 4))
		return v;
	shift = 64 - 8 * a->size;
	u = (uint64_t)v << shift;
	/* >> of a negative int64_t is arithmetic with gcc and clang */
	return a->is_signed ? (int64_t)u >> shift : (int64_t)(u >> shift);
}

/* The AT&T operand: %reg, $imm, off(%reg), (%reg); anything else is
 * OTHER (sym(%rip), (%base,%index,scale) ...). */
static void take_operand(struct hl_usdt_arg *a)
{
	const char *p = a->loc, *end = p + a->loc_len, *paren;
	int64_t v = 0;

	a->kind = HL_USDT_ARG_OTHER;
	if (p == end)
		return;
	if (*p == '%') {
		if (take_reg(p, end, a->reg))
			a->kind = HL_USDT_ARG_REG;
	} else if (*p == '$') {
		if (decimal(p + 1, end, &v)) {
			a->kind = HL_USDT_ARG_CONST;
			a->val = as_read(v, a);
		}
	} else {
		paren = memchr(p, '(', end - p);
		if (!paren || end[-1] != ')' ||
		    (paren > p && !decimal(p, paren, &v)) ||
		    !take_reg(paren + 1, end - 1, a->reg))
			return;
		a->kind = HL_USDT_ARG_MEM;
		a->val = v;
	}
}

bool hl_usdt_arg_next(const char **args, struct hl_usdt_arg *a)
{
	const char *p = *args, *end;

	while (*p == ' ')
		p++;
	end = p + strcspn(p, " ");
	*args = end;
	if (p == end)
		return false;
	memset(a, 0, sizeof(*a));
	a->spec = a->loc = p;
	a->spec_len = a->loc_len = end - p;
	take_size(a, p, end);
	take_operand(a);
	return true;
}

const char *hl_usdt_arg_type(const struct hl_usdt_arg *a)
{
	static const char *const ints[2][4] = {
		{ "uint8", "uint16", "uint32", "uint64" },
		{ "int8", "int16", "int32", "int64" },
	};
	int lg;

	switch (a->size) {
	case 1: lg = 0; break;
	case 2: lg = 1; break;
	case 4: lg = 2; break;
	case 8: lg = 3; break;
	default: return "?";
	}
	if (a->is_float)
		return lg == 2 ? "float32" : lg == 3 ? "float64" : "?";
	return ints[a->is_signed][lg];
}

#ifdef __x86_64__
/* The register names libbpf 1.1 maps to struct pt_regs on x86-64. */
static bool x86_reg_known(const char *r)
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
		if (!strcmp(regs[i], r))
			return true;
	/* r8..r15, optionally with a d, w or b suffix */
	if (r[0] != 'r')
		return false;
	digits = r[1] == '1' && r[2] >= '0' && r[2] <= '5' ? 2 :
		 r[1] == '8' || r[1] == '9' ? 1 : 0;
	if (!digits)
		return false;
	r += 1 + digits;
	return !*r || (!r[1] && strchr("dwb", *r));
}

/*
 * libbpf 1.1's x86 parse_usdt_arg() knows exactly N@%reg, N@off(%reg),
 * N@(%reg) and N@$imm (sscanf with %d and %ld: decimal only), then
 * requires |N| in {1, 2, 4, 8} and a register it can map to pt_regs.
 */
const char *hl_usdt_arg_problem(const struct hl_usdt_arg *a)
{
	const char *end = a->loc + a->loc_len, *paren;

	if (a->loc == a->spec)
		return "no size (old sys/sdt.h format)";
	if (a->is_float)
		return "floating-point argument";
	if (a->size != 1 && a->size != 2 && a->size != 4 && a->size != 8)
		return "size is not 1, 2, 4 or 8 bytes";
	if (a->kind == HL_USDT_ARG_CONST)
		return NULL;
	if (a->kind != HL_USDT_ARG_OTHER)
		return x86_reg_known(a->reg) ? NULL :
		       "register unknown to libbpf";
	paren = memchr(a->loc, '(', a->loc_len);
	if (paren && memchr(paren, ',', end - paren))
		return "indexed address";
	if (paren && end - paren == 6 && !memcmp(paren, "(%rip)", 6))
		return "symbol-relative address";
	return "operand libbpf cannot parse";
}
#else
/* libbpf's other argument grammars are not modelled: let it decide. */
const char *hl_usdt_arg_problem(const struct hl_usdt_arg *a)
{
	(void)a;
	return NULL;
}
#endif

const char *hl_usdt_args_problem(const char *args, struct hl_usdt_arg *bad,
				 int *index)
{
	struct hl_usdt_arg a;
	const char *why = NULL;
	int i;

	for (i = 0; !why && hl_usdt_arg_next(&args, &a); i++)
		/* libbpf rejects the whole site beyond 12 arguments */
		why = i >= LIBBPF_MAX_ARGS ? "more than 12 arguments" :
		      hl_usdt_arg_problem(&a);
	if (why && bad)
		*bad = a;
	if (why && index)
		*index = i - 1;
	return why;
}

bool hl_usdt_bad_arg(const char *args, char *buf, size_t len)
{
	struct hl_usdt_arg a;

	if (!hl_usdt_args_problem(args, &a, NULL))
		return false;
	if (len)
		snprintf(buf, len, "%.*s", a.spec_len, a.spec);
	return true;
}

bool hl_usdt_args_parsable(const char *args)
{
	return !hl_usdt_args_problem(args, NULL, NULL);
}

void hl_usdt_read_or_die(const char *path, struct hl_usdt_list *out)
{
	int err = hl_usdt_read(path, out);

	if (err == -ENOEXEC)
		hl_die("%s is not an ELF file", path);
	if (err == -EBADMSG)
		hl_die("%s: corrupt or truncated ELF file", path);
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
