// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target: the USDT note reader and argument decoder
 * (tools/lib/usdt.c) on hostile input. Each input is read as an ELF image
 * and, NUL-terminated, as a site's argument string; every site found is
 * decoded and judged the way usdtlist does. Built with
 * -fsanitize=fuzzer,address together with usdt.c (see the Makefile);
 * selftests/tests/test_fuzz.py runs it over corpus/ and for a while.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "usdt.h"

/* Where the sums go, so that no read can be optimised away. */
static volatile size_t sink;

/* Touch every decoded field, so that ASan checks each pointer. */
static size_t decode_all(const char *args)
{
	struct hl_usdt_arg a, bad;
	const char *p = args;
	size_t sum = 0;
	int index;

	/* unsigned sums: values come from the input and may be extreme */
	while (hl_usdt_arg_next(&p, &a)) {
		sum += (size_t)a.spec[a.spec_len - 1] + (size_t)a.size +
		       (size_t)a.kind + (size_t)a.val + strlen(a.reg) +
		       strlen(hl_usdt_arg_type(&a));
		if (a.loc_len)
			sum += a.loc[a.loc_len - 1];
		if (hl_usdt_arg_problem(&a))
			sum++;
	}
	if (hl_usdt_args_problem(args, &bad, &index))
		sum += (size_t)bad.spec[0] + (size_t)index;
	return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hl_usdt_list l;
	size_t sum = 0;
	char spec[64];
	/* a copy of exactly size bytes: libelf may convert in place, and
	 * ASan then sees any read past the end */
	char *image = malloc(size ? size : 1);

	if (!image)
		return 0;
	memcpy(image, data, size);
	if (!hl_usdt_read_mem(image, size, &l)) {
		for (size_t i = 0; i < l.n; i++) {
			const struct hl_usdt *s = &l.sites[i];
			size_t n;

			sum += decode_all(s->args) + (size_t)s->nargs +
			       (size_t)s->pc + (size_t)s->semaphore;
			/* no site may be missed by its own name */
			if (!hl_usdt_find(&l, s->provider, s->name, &n) || !n)
				abort();
			sum += hl_usdt_bad_arg(s->args, spec, sizeof(spec));
		}
		hl_usdt_free(&l);
	}
	free(image);

	image = malloc(size + 1);
	if (!image)
		return 0;
	memcpy(image, data, size);
	image[size] = '\0';
	sum += decode_all(image);
	free(image);
	sink += sum;
	return 0;
}
