// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The exporter's arithmetic and text (tools/lib/bounds.c, metrics.c):
 * bucket bounds on exact histogram edges, cumulative counts equal to a
 * count of the samples themselves, label values escaped and valid UTF-8,
 * label sets past the cap folded into "other" and counted, and the
 * structure of both text formats.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include "histo.h"
#include "metrics.h"
#include "tap.h"

static void test_fmt_seconds(void)
{
	static const struct { uint64_t ns; const char *s; } cases[] = {
		{ 0, "0" }, { 1, "0.000000001" }, { 1023, "0.000001023" },
		{ 1000000000ULL, "1" }, { 1500000000ULL, "1.5" },
		{ 68719476735ULL, "68.719476735" },
	};
	char buf[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		hl_fmt_seconds(buf, sizeof(buf), cases[i].ns);
		tap_check(!strcmp(buf, cases[i].s), "%llu ns is %s (got %s)",
			  (unsigned long long)cases[i].ns, cases[i].s, buf);
	}
}

static bool increasing_edges(const struct hl_bounds *b)
{
	for (uint32_t i = 0; i < b->n; i++) {
		uint64_t le = hl_bound_ns(b, i);

		/* an edge: le is the last value of a slot */
		if (hist_slot(le) == hist_slot(le + 1))
			return false;
		if (i && le <= hl_bound_ns(b, i - 1))
			return false;
	}
	return true;
}

static void test_bounds(void)
{
	static struct hl_bounds b;
	char err[256];

	tap_check(!hl_bounds_parse("log2", &b, err, sizeof(err)) &&
		  b.n == 29 && hl_bound_ns(&b, 0) == 255 &&
		  hl_bound_ns(&b, 28) == (1ULL << 36) - 1 &&
		  increasing_edges(&b), "log2: 2^k - 1 ns, k = 8..36");
	tap_check(!hl_bounds_parse("fine", &b, err, sizeof(err)) &&
		  b.n == 449 && increasing_edges(&b),
		  "fine: 449 edges, 16 per power of two");
	tap_check(!hl_bounds_parse("0.000000005,0.001,1", &b, err,
				   sizeof(err)) && b.n == 3 &&
		  hl_bound_ns(&b, 0) == 5 && hl_bound_ns(&b, 1) == 1015807 &&
		  increasing_edges(&b),
		  "a list moves to the nearest edges: 5 ns, 1015807 ns, ...");
	for (uint32_t i = 0; i < b.n; i++) {
		uint64_t want[] = { 5, 1000000, 1000000000 };
		uint64_t got = hl_bound_ns(&b, i), d = got > want[i] ?
			got - want[i] : want[i] - got;

		tap_check(d * 32 <= want[i], "bound %u within 1/32 of asked",
			  i);
	}
	static const char *const bad[] = {
		"", "abc", "0", "-1", "1e9", "0.01,0.001", "0.001,0.001",
		"0.001,", ",0.001", "0.001;0.01", "nan", "inf",
		"0.001000001,0.001000002",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		tap_check(hl_bounds_parse(bad[i], &b, err, sizeof(err)) &&
			  !strncmp(err, "invalid buckets '", 17),
			  "'%s' refused: %s", bad[i], err);
}

static int label(const struct hl_hist *h, struct hl_label *l, char *scratch,
		 size_t len)
{
	(void)scratch;
	(void)len;
	l[0] = (struct hl_label){ .name = "pid", .num = h->id };
	l[1] = (struct hl_label){ .name = "comm", .str = h->comm };
	return 2;
}

static uint64_t errors_now;

static int counters(struct hl_label *c, int max)
{
	(void)max;
	c[0] = (struct hl_label){ .name = "errors", .num = errors_now };
	return 1;
}

static const struct hl_report report = {
	.tool = "t", .label = label, .counters = counters,
};

static char *write_all(const struct hl_metrics *m, enum hl_expo_format fmt)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f || hl_metrics_write(m, f, fmt) || fclose(f))
		return NULL;
	return buf;
}

static void hist_of(struct hl_hist *h, uint64_t id, const char *comm,
		    const uint64_t *v, size_t n)
{
	hl_hist_init(h, id);
	strncpy(h->comm, comm, sizeof(h->comm) - 1);
	for (size_t i = 0; i < n; i++)
		hl_hist_add(h, v[i]);
}

static bool has(const char *text, const char *line)
{
	return strstr(text, line) != NULL;
}

static void test_exposition(void)
{
	static const uint64_t a[] = { 100, 100, 100, 300, 300, 5000 };
	static const uint64_t b[] = { 1 };
	static struct hl_bounds bounds;
	struct hl_metrics_cfg cfg = {
		.tool = "t", .what = "test latency", .report = &report,
		.bounds = &bounds, .max_series = 2,
	};
	struct hl_hist h[3];
	struct hl_metrics *m;
	char err[128], *text;

	hl_bounds_parse("log2", &bounds, err, sizeof(err));
	m = hl_metrics_new(&cfg);
	hist_of(&h[0], 7, "a\"b\\c\n\xff", a, 6);
	hist_of(&h[1], 8, "x", b, 1);
	hist_of(&h[2], 9, "y", b, 1);
	errors_now = 3;
	hl_metrics_add(m, h, 3, 2);
	hist_of(&h[0], 7, "a\"b\\c\n\xff", a, 6);
	errors_now = 1;
	hl_metrics_add(m, h, 1, 0);	/* totals, not the last interval */
	text = write_all(m, HL_EXPO_PROMETHEUS);
	tap_check(text != NULL, "written");
	if (!text)
		return;
	tap_check(has(text, "howlong_t_seconds_bucket{pid=\"7\",comm=\"a\\\"b\\\\c\\n?\",le=\"0.000000255\"} 6\n"),
		  "labels escaped, invalid UTF-8 replaced, cumulative count");
	tap_check(has(text, ",le=\"0.000000511\"} 10\n") &&
		  has(text, ",le=\"0.000008191\"} 12\n") &&
		  has(text, ",le=\"+Inf\"} 12\n"),
		  "cumulative buckets count the samples below each bound");
	tap_check(has(text, "howlong_t_seconds_sum{pid=\"7\",comm=\"a\\\"b\\\\c\\n?\"} 0.0000118\n"),
		  "exact sum in seconds");
	tap_check(has(text, "{pid=\"8\",comm=\"x\"}") &&
		  has(text, "howlong_t_seconds_count{pid=\"other\",comm=\"other\"} 1\n") &&
		  has(text, "howlong_t_folded_total 1\n") &&
		  hl_metrics_series(m) == 3,
		  "the third label set folds into other, counted");
	tap_check(has(text, "howlong_t_lost_total 2\n") &&
		  has(text, "# TYPE howlong_t_errors_total counter\n") &&
		  has(text, "howlong_t_errors_total 4\n"),
		  "lost and the tool's counters are totals");
	tap_check(!has(text, "_created") && !has(text, "# EOF") &&
		  has(text, "# TYPE howlong_build_info gauge\n"),
		  "0.0.4: no _created, no EOF, info as a gauge");
	free(text);
	text = write_all(m, HL_EXPO_OPENMETRICS);
	tap_check(text && has(text, "# TYPE howlong_t_seconds histogram\n"
			      "# UNIT howlong_t_seconds seconds\n") &&
		  has(text, "# TYPE howlong_t_lost counter\n") &&
		  has(text, "howlong_t_lost_created ") &&
		  has(text, "howlong_t_seconds_created{pid=\"8\",comm=\"x\"} ") &&
		  has(text, "# TYPE howlong_build info\n") &&
		  strlen(text) > 6 &&
		  !strcmp(text + strlen(text) - 6, "# EOF\n"),
		  "OpenMetrics: UNIT, counter families, _created, # EOF last");
	free(text);
	hl_metrics_free(m);
}

int main(void)
{
	test_fmt_seconds();
	test_bounds();
	test_exposition();
	return tap_done();
}
