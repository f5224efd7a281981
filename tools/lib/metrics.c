// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "metrics.h"
#include "util.h"

#define LABELS_LEN 1024

struct series {
	char *labels;		/* name="value",...; "" for none */
	uint64_t *counts;	/* per bucket, not cumulative; [n]: +Inf */
	uint64_t sum_ns;
	uint64_t count;
	uint64_t created_ns;	/* wall clock */
};

struct counter {
	const char *name;
	uint64_t total;
};

struct hl_metrics {
	struct hl_metrics_cfg cfg;
	uint16_t bucket_of[HIST_SLOTS];
	char (*le)[24];		/* each bound, formatted once */
	struct series *series;	/* the first max_series label sets */
	size_t nseries;
	size_t *index;		/* open addressing: series number + 1 */
	size_t index_cap;
	struct series *other;	/* everything past max_series */
	uint64_t lost, folded;
	struct counter counters[HL_MAX_LABELS];
	int ncounters;
	uint64_t start_ns;	/* wall clock: the counters' _created */
};

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		hl_die("out of memory");
	return p;
}

static struct series *series_init(struct hl_metrics *m, struct series *s,
				  const char *labels)
{
	s->labels = strdup(labels);
	if (!s->labels)
		hl_die("out of memory");
	s->counts = xcalloc(m->cfg.bounds->n + 1, sizeof(*s->counts));
	s->created_ns = hl_wall_ns();
	return s;
}

static size_t pow2_at_least(size_t n)
{
	size_t p = 16;

	while (p < n)
		p <<= 1;
	return p;
}

struct hl_metrics *hl_metrics_new(const struct hl_metrics_cfg *cfg)
{
	struct hl_metrics *m = xcalloc(1, sizeof(*m));
	const struct hl_bounds *b = cfg->bounds;
	uint32_t i = 0;

	m->cfg = *cfg;
	m->start_ns = hl_wall_ns();
	for (uint32_t s = 0; s < HIST_SLOTS; s++) {
		while (i < b->n && s >= b->end[i])
			i++;
		m->bucket_of[s] = i;
	}
	m->le = xcalloc(b->n, sizeof(*m->le));
	for (i = 0; i < b->n; i++)
		hl_fmt_seconds(m->le[i], sizeof(m->le[i]), hl_bound_ns(b, i));
	m->series = xcalloc(cfg->max_series, sizeof(*m->series));
	m->index_cap = pow2_at_least(2 * cfg->max_series);
	m->index = xcalloc(m->index_cap, sizeof(*m->index));
	/* One histogram without labels is there from the start, empty. */
	if (!hl_report_labeled(cfg->report))
		series_init(m, &m->series[m->nseries++], "");
	return m;
}

static void series_free(struct series *s)
{
	free(s->labels);
	free(s->counts);
}

void hl_metrics_free(struct hl_metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nseries; i++)
		series_free(&m->series[i]);
	if (m->other)
		series_free(m->other);
	free(m->other);
	free(m->series);
	free(m->index);
	free(m->le);
	free(m);
}

size_t hl_metrics_series(const struct hl_metrics *m)
{
	return m->nseries + !!m->other;
}

/* FNV-1a. */
static size_t hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return (size_t)h;
}

/* Escaped as the text formats want; bytes that are no UTF-8 become '?'. */
static void put_value(char *out, size_t len, size_t *at, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;

	while (*p && *at + 5 < len) {
		size_t n = hl_utf8_len(p);

		if (!n || *p < 0x20 || *p == 0x7f) {
			out[(*at)++] = *p == '\n' ? '\\' : '?';
			if (*p == '\n')
				out[(*at)++] = 'n';
			n = 1;
		} else if (*p == '\\' || *p == '"') {
			out[(*at)++] = '\\';
			out[(*at)++] = *p;
		} else {
			memcpy(out + *at, p, n);
			*at += n;
		}
		p += n;
	}
	out[*at] = '\0';
}

/* name="value",... of labels; all values "other" when other is set. */
static void format_labels(char *out, size_t len, const struct hl_label *l,
			  int n, bool other)
{
	size_t at = 0;
	char num[24];

	out[0] = '\0';
	for (int i = 0; i < n && at + 64 < len; i++) {
		at += snprintf(out + at, len - at, "%s%s=\"", i ? "," : "",
			       l[i].name);
		snprintf(num, sizeof(num), "%llu", (unsigned long long)l[i].num);
		put_value(out, len - 1, &at, other ? "other" :
			  l[i].str ? l[i].str : num);
		out[at++] = '"';
		out[at] = '\0';
	}
}

static struct series *lookup(struct hl_metrics *m, const char *labels)
{
	size_t mask = m->index_cap - 1, i = hash(labels) & mask;

	for (; m->index[i]; i = (i + 1) & mask)
		if (!strcmp(m->series[m->index[i] - 1].labels, labels))
			return &m->series[m->index[i] - 1];
	if (m->nseries == m->cfg.max_series)
		return NULL;
	m->index[i] = m->nseries + 1;
	return series_init(m, &m->series[m->nseries++], labels);
}

static struct series *series_of(struct hl_metrics *m, const struct hl_hist *h)
{
	const struct hl_report *r = m->cfg.report;
	struct hl_label l[HL_MAX_LABELS];
	char scratch[1024], labels[LABELS_LEN];
	struct series *s;
	int n;

	if (!hl_report_labeled(r))
		return &m->series[0];
	n = hl_report_labels(r, h, l, scratch, sizeof(scratch));
	format_labels(labels, sizeof(labels), l, n, false);
	s = lookup(m, labels);
	if (s)
		return s;
	m->folded += h->count;
	if (!m->other) {
		format_labels(labels, sizeof(labels), l, n, true);
		m->other = series_init(m, xcalloc(1, sizeof(*m->other)),
				       labels);
	}
	return m->other;
}

static void add_hist(struct hl_metrics *m, const struct hl_hist *h)
{
	struct series *s = series_of(m, h);

	for (uint32_t i = 0; i < HIST_SLOTS; i++)
		s->counts[m->bucket_of[i]] += h->slots[i];
	s->sum_ns += h->sum;
	s->count += h->count;
}

static void add_counters(struct hl_metrics *m)
{
	struct hl_label c[HL_MAX_LABELS];
	int n = m->cfg.report->counters(c, HL_MAX_LABELS);

	for (int i = 0; i < n; i++) {
		int j = 0;

		while (j < m->ncounters && strcmp(m->counters[j].name, c[i].name))
			j++;
		if (j == m->ncounters) {
			if (j == HL_MAX_LABELS)
				continue;
			m->counters[m->ncounters++].name = c[i].name;
		}
		m->counters[j].total += c[i].num;
	}
}

void hl_metrics_add(struct hl_metrics *m, struct hl_hist *h, size_t n,
		    uint64_t lost)
{
	const struct hl_report *r = m->cfg.report;

	if (r->regroup)
		n = r->regroup(h, n);
	for (size_t i = 0; i < n; i++)
		if (h[i].count)
			add_hist(m, &h[i]);
	if (r->counters)
		add_counters(m);
	m->lost += lost;
}

/* The exposition. OpenMetrics names a counter family without _total and
 * adds UNIT, _created and "# EOF"; 0.0.4 names it as its sample. */
struct writer {
	FILE *f;
	bool om;
	const char *tool;
};

static void family(const struct writer *w, const char *name,
		   const char *type, const char *unit, const char *help)
{
	bool info = !strcmp(type, "info");
	const char *suffix = !strcmp(type, "counter") ? "_total" :
			     info ? "_info" : "";

	if (w->om) {
		fprintf(w->f, "# TYPE %s %s\n", name, type);
		if (unit)
			fprintf(w->f, "# UNIT %s %s\n", name, unit);
		fprintf(w->f, "# HELP %s %s\n", name, help);
	} else {
		fprintf(w->f, "# HELP %s%s %s\n", name, suffix, help);
		fprintf(w->f, "# TYPE %s%s %s\n", name, suffix,
			info ? "gauge" : type);
	}
}

static void created(const struct writer *w, const char *name,
		    const char *labels, uint64_t wall_ns)
{
	char sec[32];

	if (!w->om)
		return;
	/* milliseconds are plenty for "when did this series begin" */
	hl_fmt_seconds(sec, sizeof(sec), wall_ns / 1000000 * 1000000);
	fprintf(w->f, "%s_created%s%s%s %s\n", name, *labels ? "{" : "",
		labels, *labels ? "}" : "", sec);
}

static void counter(const struct writer *w, const char *what,
		    const char *help, uint64_t v, uint64_t start_ns)
{
	char name[128];

	snprintf(name, sizeof(name), "howlong_%s_%s", w->tool, what);
	family(w, name, "counter", NULL, help);
	fprintf(w->f, "%s_total %llu\n", name, (unsigned long long)v);
	created(w, name, "", start_ns);
}

static void series(const struct writer *w, const struct hl_metrics *m,
		   const char *name, const struct series *s)
{
	const char *sep = *s->labels ? "," : "";
	uint64_t cum = 0;
	char sum[32];

	for (uint32_t i = 0; i < m->cfg.bounds->n; i++) {
		cum += s->counts[i];
		fprintf(w->f, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, s->labels,
			sep, m->le[i], (unsigned long long)cum);
	}
	cum += s->counts[m->cfg.bounds->n];
	fprintf(w->f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, s->labels,
		sep, (unsigned long long)cum);
	hl_fmt_seconds(sum, sizeof(sum), s->sum_ns);
	fprintf(w->f, "%s_sum%s%s%s %s\n", name, *sep ? "{" : "", s->labels,
		*sep ? "}" : "", sum);
	fprintf(w->f, "%s_count%s%s%s %llu\n", name, *sep ? "{" : "",
		s->labels, *sep ? "}" : "", (unsigned long long)s->count);
	created(w, name, s->labels, s->created_ns);
}

static void histogram(const struct writer *w, const struct hl_metrics *m)
{
	char name[128], help[256];

	snprintf(name, sizeof(name), "howlong_%s_seconds", w->tool);
	snprintf(help, sizeof(help), "%s (howlong %s), in seconds",
		 m->cfg.what, w->tool);
	family(w, name, "histogram", "seconds", help);
	for (size_t i = 0; i < m->nseries; i++)
		series(w, m, name, &m->series[i]);
	if (m->other)
		series(w, m, name, m->other);
}

static void build_info(const struct writer *w)
{
	family(w, "howlong_build", "info", NULL,
	       "the howlong tool serving these metrics and its version");
	fprintf(w->f, "howlong_build_info{tool=\"%s\",version=\"%s\"} 1\n",
		w->tool, HOWLONG_VERSION);
}

int hl_metrics_write(const struct hl_metrics *m, FILE *f,
		     enum hl_expo_format fmt)
{
	struct writer w = {
		.f = f, .om = fmt == HL_EXPO_OPENMETRICS, .tool = m->cfg.tool,
	};
	char help[128];

	histogram(&w, m);
	counter(&w, "lost", "occurrences that could not be measured (a map "
		"was full or a start could not be stored)", m->lost,
		m->start_ns);
	if (hl_report_labeled(m->cfg.report))
		counter(&w, "folded", "samples counted under the label value "
			"\"other\" because --max-series was reached", m->folded,
			m->start_ns);
	for (int i = 0; i < m->ncounters; i++) {
		snprintf(help, sizeof(help), "the tool's \"%s\" count "
			 "(docs/json.md)", m->counters[i].name);
		counter(&w, m->counters[i].name, help, m->counters[i].total,
			m->start_ns);
	}
	build_info(&w);
	if (w.om)
		fputs("# EOF\n", f);
	return ferror(f) ? -1 : 0;
}
