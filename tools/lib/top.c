// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "histo.h"
#include "json.h"
#include "report.h"
#include "top.h"
#include "util.h"

#define OTHER "(other)"

struct top_row {
	char *text;
	uint64_t errors;
	struct hl_hist h;	/* count, sum and quantiles of the row */
};

/* Open addressing over pointers: rows are big (a histogram each), and
 * probing them in place cost a cache miss per step. */
struct hl_top {
	struct top_row **rows;	/* 2 * max_rows + 1 slots */
	size_t slots, used, max_rows;
};

struct hl_top *hl_top_new(size_t max_rows)
{
	struct hl_top *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->max_rows = max_rows;
	t->slots = 2 * max_rows + 1;
	t->rows = calloc(t->slots, sizeof(*t->rows));
	if (!t->rows) {
		free(t);
		return NULL;
	}
	return t;
}

static void clear(struct hl_top *t)
{
	for (size_t i = 0; i < t->slots; i++) {
		if (!t->rows[i])
			continue;
		free(t->rows[i]->text);
		free(t->rows[i]);
		t->rows[i] = NULL;
	}
	t->used = 0;
}

void hl_top_free(struct hl_top *t)
{
	if (!t)
		return;
	clear(t);
	free(t->rows);
	free(t);
}

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static struct top_row *find(struct hl_top *t, const char *text)
{
	size_t i = hash(text) % t->slots;
	struct top_row *r;

	while (t->rows[i] && strcmp(t->rows[i]->text, text))
		i = (i + 1) % t->slots;
	if (t->rows[i])
		return t->rows[i];
	if (t->used >= t->max_rows && strcmp(text, OTHER))
		return find(t, OTHER);
	r = malloc(sizeof(*r));
	if (!r || !(r->text = strdup(text)))
		hl_die("out of memory");
	r->errors = 0;
	hl_hist_init(&r->h, 0);
	t->rows[i] = r;
	t->used++;
	return r;
}

void hl_top_add(struct hl_top *t, const char *text, uint64_t ns, bool error)
{
	struct top_row *r = find(t, text);

	hl_hist_add(&r->h, ns);
	r->errors += error;
}

static int by_total_desc(const void *a, const void *b)
{
	const struct top_row *x = *(struct top_row *const *)a;
	const struct top_row *y = *(struct top_row *const *)b;

	if (x->h.sum != y->h.sum)
		return x->h.sum < y->h.sum ? 1 : -1;
	return strcmp(x->text, y->text);
}

static void row_text(FILE *f, const struct top_row *r)
{
	char tot[16], mean[16], p50[16], p99[16];

	hl_fmt_duration(tot, sizeof(tot), r->h.sum);
	hl_fmt_duration(mean, sizeof(mean), r->h.sum / r->h.count);
	hl_fmt_duration(p50, sizeof(p50), hl_hist_quantile(&r->h, 0.5));
	hl_fmt_duration(p99, sizeof(p99), hl_hist_quantile(&r->h, 0.99));
	fprintf(f, "%8llu %9s %9s %9s %9s %6llu  %s\n",
		(unsigned long long)r->h.count, tot, mean, p50, p99,
		(unsigned long long)r->errors, r->text);
}

static void row_json(FILE *f, const struct top_row *r, bool first)
{
	fprintf(f, "%s{\"text\":", first ? "" : ",");
	hl_json_str(f, r->text);
	fprintf(f, ",\"calls\":%llu,\"total_ns\":%llu,\"mean_ns\":%llu,"
		"\"p50_ns\":%llu,\"p99_ns\":%llu,\"errors\":%llu}",
		(unsigned long long)r->h.count, (unsigned long long)r->h.sum,
		(unsigned long long)(r->h.sum / r->h.count),
		(unsigned long long)hl_hist_quantile(&r->h, 0.5),
		(unsigned long long)hl_hist_quantile(&r->h, 0.99),
		(unsigned long long)r->errors);
}

static void print(FILE *f, struct top_row **rows, size_t n, const char *tool,
		  uint64_t length_ns, uint64_t lost)
{
	if (hl_opts.json) {
		hl_json_begin(f, "top", tool);
		fputs(",\"time\":", f);
		hl_json_time(f, hl_wall_ns());
		fprintf(f, ",\"interval_ns\":%llu,\"lost\":%llu,\"rows\":[",
			(unsigned long long)length_ns, (unsigned long long)lost);
		for (size_t i = 0; i < n; i++)
			row_json(f, rows[i], !i);
		fputs("]}\n", f);
		return;
	}
	if (hl_opts.timestamp)
		hl_print_time(f, hl_wall_ns());
	fprintf(f, "%8s %9s %9s %9s %9s %6s  %s\n", "CALLS", "TOTAL", "MEAN",
		"P50", "P99", "ERRORS", "TEXT");
	for (size_t i = 0; i < n; i++)
		row_text(f, rows[i]);
	if (lost)
		fprintf(f, "lost %llu (not measured: the event buffer was "
			"full)\n", (unsigned long long)lost);
	fputc('\n', f);
}

void hl_top_report(FILE *f, struct hl_top *t, const char *tool, size_t n,
		   uint64_t length_ns, uint64_t lost)
{
	struct top_row **rows = calloc(t->used ? t->used : 1, sizeof(*rows));
	size_t k = 0;

	if (!rows)
		hl_die("out of memory");
	for (size_t i = 0; i < t->slots; i++)
		if (t->rows[i])
			rows[k++] = t->rows[i];
	qsort(rows, k, sizeof(*rows), by_total_desc);
	print(f, rows, k < n ? k : n, tool, length_ns, lost);
	fflush(f);
	free(rows);
	clear(t);
}
