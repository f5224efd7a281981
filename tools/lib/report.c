// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "json.h"
#include "owner.h"
#include "report.h"

#define LOG2_BUCKETS 64
#define BAR_WIDTH 40

static const double quantiles[] = { 0.50, 0.90, 0.99, 0.999 };
static const char *const quantile_names[] = { "p50", "p90", "p99", "p99.9" };
static const char *const quantile_keys[] = {
	"p50_ns", "p90_ns", "p99_ns", "p999_ns"
};

void hl_fmt_duration(char *buf, size_t len, uint64_t ns)
{
	static const char *const units[] = { "ns", "us", "ms", "s" };
	double v = ns;
	int u = 0;

	while (v >= 1000 && u < 3) {
		v /= 1000;
		u++;
	}
	if (u == 0 || v >= 100)
		snprintf(buf, len, "%.0f%s", v, units[u]);
	else if (v >= 10)
		snprintf(buf, len, "%.1f%s", v, units[u]);
	else
		snprintf(buf, len, "%.2f%s", v, units[u]);
}

static int log2_bucket(uint64_t v)
{
	int b = 0;

	while (v >>= 1)
		b++;
	return b;
}

/* Fold log-linear slots into log2 buckets of the display unit, placing
 * each slot by its midpoint (see docs: a fold, not a re-measurement). */
static void fold_log2(const struct hl_hist *h, uint64_t unit,
		      uint64_t *buckets)
{
	memset(buckets, 0, LOG2_BUCKETS * sizeof(*buckets));
	for (uint32_t s = 0; s < HIST_SLOTS; s++) {
		uint64_t lo, hi, mid;

		if (!h->slots[s])
			continue;
		lo = hist_slot_lo(s);
		hi = hist_slot_hi(s);
		mid = hi == ~0ULL ? lo : lo + (hi - 1 - lo) / 2;
		buckets[log2_bucket(mid / unit)] += h->slots[s];
	}
}

static void print_bar(FILE *f, uint64_t v, uint64_t max)
{
	int stars = max ? (int)((v * BAR_WIDTH + max - 1) / max) : 0;

	fputc('|', f);
	for (int i = 0; i < BAR_WIDTH; i++)
		fputc(i < stars ? '*' : ' ', f);
	fputc('|', f);
}

static void print_log2(FILE *f, const struct hl_hist *h)
{
	uint64_t unit = hl_opts.milliseconds ? 1000000 : 1000, max = 0;
	uint64_t buckets[LOG2_BUCKETS];
	int first = -1, last = -1;

	fold_log2(h, unit, buckets);
	for (int i = 0; i < LOG2_BUCKETS; i++) {
		if (!buckets[i])
			continue;
		if (first < 0)
			first = i;
		last = i;
		if (buckets[i] > max)
			max = buckets[i];
	}
	fprintf(f, "     %-19s : count    distribution\n",
		hl_opts.milliseconds ? "msecs" : "usecs");
	for (int i = first < 0 ? 0 : first; i <= last; i++) {
		unsigned long long lo = i ? 1ULL << i : 0;
		unsigned long long hi = (1ULL << (i + 1)) - 1;

		fprintf(f, "%10llu -> %-10llu : %-8llu ", lo, hi,
			(unsigned long long)buckets[i]);
		print_bar(f, buckets[i], max);
		fputc('\n', f);
	}
}

static void print_summary(FILE *f, const struct hl_hist *h)
{
	char a[16], b[16], c[16];

	if (!h->count) {
		fprintf(f, "count 0\n");
		return;
	}
	hl_fmt_duration(a, sizeof(a), h->sum / h->count);
	hl_fmt_duration(b, sizeof(b), h->min);
	hl_fmt_duration(c, sizeof(c), h->max);
	fprintf(f, "count %llu  avg %s  min %s  max %s",
		(unsigned long long)h->count, a, b, c);
	for (size_t i = 0; i < sizeof(quantiles) / sizeof(*quantiles); i++) {
		hl_fmt_duration(a, sizeof(a), hl_hist_quantile(h, quantiles[i]));
		fprintf(f, "  %s %s", quantile_names[i], a);
	}
	fputc('\n', f);
}

static void print_labels_text(FILE *f, const struct hl_label *l, int n)
{
	for (int i = 0; i < n; i++) {
		fprintf(f, "%s%s = ", i ? " " : "", l[i].name);
		if (l[i].str)
			fprintf(f, "%s", l[i].str);
		else
			fprintf(f, "%llu", (unsigned long long)l[i].num);
	}
	fputc('\n', f);
}

static void print_clock(FILE *f, uint64_t wall_ns, char end)
{
	time_t sec = wall_ns / 1000000000ULL;
	struct tm tm;
	char buf[16];

	localtime_r(&sec, &tm);
	strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
	fprintf(f, "%s%c", buf, end);
}

void hl_print_time_inline(FILE *f, uint64_t wall_ns)
{
	print_clock(f, wall_ns, ' ');
}

void hl_print_time(FILE *f, uint64_t wall_ns)
{
	print_clock(f, wall_ns, '\n');
}

/* Biggest total first: the most affected key leads the report. */
static int cmp_sum_desc(const void *a, const void *b)
{
	const struct hl_hist *x = a, *y = b;

	if (x->sum != y->sum)
		return x->sum < y->sum ? 1 : -1;
	if (x->owner != y->owner)
		return x->owner < y->owner ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void print_counters_text(FILE *f, const struct hl_report *r)
{
	struct hl_label c[HL_MAX_LABELS];
	int n = r->counters ? r->counters(c, HL_MAX_LABELS) : 0;

	for (int i = 0; i < n; i++)
		fprintf(f, "%s %llu\n", c[i].name, (unsigned long long)c[i].num);
}

static void print_counters_json(FILE *f, const struct hl_report *r)
{
	struct hl_label c[HL_MAX_LABELS];
	int n = r->counters ? r->counters(c, HL_MAX_LABELS) : 0;

	for (int i = 0; i < n; i++) {
		fputc(',', f);
		hl_json_str(f, c[i].name);
		fprintf(f, ":%llu", (unsigned long long)c[i].num);
	}
}

bool hl_report_labeled(const struct hl_report *r)
{
	return r->label || hl_owner != HL_OWNER_NONE;
}

/* The owner's label goes last, in the second half of scratch: a cgroup
 * path may be long. */
int hl_report_labels(const struct hl_report *r, const struct hl_hist *h,
		     struct hl_label *l, char *scratch, size_t len)
{
	size_t half = len / 2;
	int n = r->label ? r->label(h, l, scratch, half) : 0;

	return n + hl_owner_label(h->owner, h->comm, l + n, scratch + half,
				  len - half);
}

static void report_text(FILE *f, const struct hl_report *r,
			struct hl_hist *h, size_t n,
			const struct hl_interval *iv)
{
	struct hl_label labels[HL_MAX_LABELS];
	char scratch[1024];

	if (hl_opts.timestamp)
		hl_print_time(f, iv->wall_ns);
	if (hl_report_labeled(r) && !n)
		fprintf(f, "count 0\n");
	for (size_t i = 0; i < n; i++) {
		if (hl_report_labeled(r))
			print_labels_text(f, labels,
					  hl_report_labels(r, &h[i], labels,
							   scratch,
							   sizeof(scratch)));
		if (h[i].count)
			print_log2(f, &h[i]);
		print_summary(f, &h[i]);
		if (i + 1 < n)
			fputc('\n', f);
	}
	print_counters_text(f, r);
	if (iv->lost)
		fprintf(f, "lost %llu (not measured: a map was full or a task not found)\n",
			(unsigned long long)iv->lost);
	fputc('\n', f);
}

static void json_labels(FILE *f, const struct hl_report *r,
			const struct hl_hist *h)
{
	struct hl_label labels[HL_MAX_LABELS];
	char scratch[1024];
	int n = hl_report_labels(r, h, labels, scratch, sizeof(scratch));

	fputs("\"key\":{", f);
	for (int i = 0; i < n; i++) {
		fprintf(f, "%s", i ? "," : "");
		hl_json_str(f, labels[i].name);
		fputc(':', f);
		if (labels[i].str)
			hl_json_str(f, labels[i].str);
		else
			fprintf(f, "%llu", (unsigned long long)labels[i].num);
	}
	fputc('}', f);
}

static void json_hist(FILE *f, const struct hl_report *r,
		      const struct hl_hist *h)
{
	bool first = true;

	fputc('{', f);
	json_labels(f, r, h);
	fprintf(f, ",\"count\":%llu,\"sum_ns\":%llu,\"min_ns\":%llu,"
		"\"max_ns\":%llu", (unsigned long long)h->count,
		(unsigned long long)h->sum,
		(unsigned long long)(h->count ? h->min : 0),
		(unsigned long long)h->max);
	for (size_t i = 0; i < sizeof(quantiles) / sizeof(*quantiles); i++)
		fprintf(f, ",\"%s\":%llu", quantile_keys[i],
			(unsigned long long)hl_hist_quantile(h, quantiles[i]));
	fputs(",\"buckets\":[", f);
	for (uint32_t s = 0; s < HIST_SLOTS; s++) {
		uint64_t hi = hist_slot_hi(s);

		if (!h->slots[s])
			continue;
		fprintf(f, "%s{\"le_ns\":%llu,\"count\":%llu}", first ? "" : ",",
			(unsigned long long)(hi == ~0ULL ? h->max : hi - 1),
			(unsigned long long)h->slots[s]);
		first = false;
	}
	fputs("]}", f);
}

static void report_json(FILE *f, const struct hl_report *r,
			const struct hl_hist *h, size_t n,
			const struct hl_interval *iv)
{
	hl_json_begin(f, "hist", r->tool);
	fputs(",\"time\":", f);
	hl_json_time(f, iv->wall_ns);
	fprintf(f, ",\"interval_ns\":%llu,\"lost\":%llu",
		(unsigned long long)iv->length_ns,
		(unsigned long long)iv->lost);
	print_counters_json(f, r);
	fputs(",\"hists\":[", f);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		json_hist(f, r, &h[i]);
	}
	fputs("]}\n", f);
}

void hl_report_hists(FILE *f, const struct hl_report *r, struct hl_hist *h,
		     size_t n, const struct hl_interval *iv)
{
	if (r->regroup)
		n = r->regroup(h, n);
	if (hl_report_labeled(r))
		qsort(h, n, sizeof(*h), cmp_sum_desc);
	if (hl_opts.json)
		report_json(f, r, h, n, iv);
	else
		report_text(f, r, h, n, iv);
	fflush(f);
}
