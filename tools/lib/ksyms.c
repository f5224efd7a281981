// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ksyms.h"

struct ksym {
	uint64_t addr;
	char *name;
	bool module;	/* a module's (or a BPF program's, "[bpf]") */
};

struct hl_ksyms {
	struct ksym *syms;
	size_t n;
	char *names;	/* every name, NUL-separated: one allocation */
	uint64_t etext;	/* the end of the kernel's own text */
};

static int by_addr(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Every line of f as (address, name) into k; names packed in one block. */
static int read_all(FILE *f, struct hl_ksyms *k)
{
	size_t cap = 0, used = 0, ncap = 0, len;
	char line[512], type, name[256];
	unsigned long long addr;
	char *names = NULL, *p;
	struct ksym *s;

	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3 ||
		    !addr)
			continue;
		if (!strcmp(name, "_etext"))
			k->etext = addr;
		len = strlen(name) + 1;
		if (used + len > ncap) {
			ncap = ncap ? 2 * ncap : 1 << 20;
			p = realloc(names, ncap);
			if (!p)
				goto nomem;
			names = p;
		}
		if (k->n == cap) {
			cap = cap ? 2 * cap : 1 << 16;
			s = realloc(k->syms, cap * sizeof(*s));
			if (!s)
				goto nomem;
			k->syms = s;
		}
		memcpy(names + used, name, len);
		k->syms[k->n].module = strchr(line, '[') != NULL;
		k->syms[k->n].addr = addr;
		/* an offset until names stops moving */
		k->syms[k->n++].name = (char *)(uintptr_t)used;
		used += len;
	}
	for (size_t i = 0; i < k->n; i++)
		k->syms[i].name = names + (uintptr_t)k->syms[i].name;
	k->names = names;
	return 0;
nomem:
	free(names);
	return -ENOMEM;
}

struct hl_ksyms *hl_ksyms_load(void)
{
	struct hl_ksyms *k = calloc(1, sizeof(*k));
	FILE *f = fopen("/proc/kallsyms", "re");
	int err = -ENOMEM;

	if (k && f)
		err = read_all(f, k);
	else if (!f)
		err = -errno;
	if (f)
		fclose(f);
	if (!err && !k->n)
		err = -EPERM;	/* all zero: kptr_restrict */
	if (err) {
		hl_ksyms_free(k);
		errno = -err;
		return NULL;
	}
	qsort(k->syms, k->n, sizeof(*k->syms), by_addr);
	return k;
}

void hl_ksyms_free(struct hl_ksyms *k)
{
	if (!k)
		return;
	free(k->syms);
	free(k->names);
	free(k);
}

const char *hl_ksym_name(const struct hl_ksyms *k, uint64_t addr)
{
	size_t lo = 0, hi = k->n;

	/* the last symbol at or below addr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	/* past the kernel's text, only a module's symbol names it (a BPF
	 * program's only with net.core.bpf_jit_kallsyms) */
	if (k->etext && addr >= k->etext && !k->syms[lo - 1].module)
		return NULL;
	return k->syms[lo - 1].name;
}

uint64_t hl_ksym_addr(const struct hl_ksyms *k, const char *name)
{
	for (size_t i = 0; i < k->n; i++)
		if (!strcmp(k->syms[i].name, name))
			return k->syms[i].addr;
	return 0;
}
