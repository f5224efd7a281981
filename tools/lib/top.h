/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* A ranked table of texts (statements, methods ...) by total time, with
 * calls, mean, p50, p99 and errors per row: text and "type":"top" JSON. */
#ifndef HOWLONG_TOP_H
#define HOWLONG_TOP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct hl_top;

/* max_rows: distinct texts kept; later ones are counted as "(other)". */
struct hl_top *hl_top_new(size_t max_rows);
void hl_top_free(struct hl_top *t);
void hl_top_add(struct hl_top *t, const char *text, uint64_t ns, bool error);
/* Print the n rows with the most total time, then forget everything. */
void hl_top_report(FILE *f, struct hl_top *t, const char *tool, size_t n,
		   uint64_t length_ns, uint64_t lost);

#endif /* HOWLONG_TOP_H */
