/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Histograms as Prometheus metrics (docs/metrics.md): totals since the
 * start, one series per label set up to a cap, written in the Prometheus
 * 0.0.4 or the OpenMetrics 1.0 text format.
 */
#ifndef HOWLONG_METRICS_H
#define HOWLONG_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "bounds.h"
#include "httpd.h"
#include "report.h"

struct hl_metrics_cfg {
	const char *tool;	/* "schedlat": the metric names */
	const char *what;	/* "run queue latency": the HELP text */
	const struct hl_report *report;	/* labels, counters, regroup */
	const struct hl_bounds *bounds;
	size_t max_series;	/* label sets kept; more fold into "other" */
};

struct hl_metrics;

struct hl_metrics *hl_metrics_new(const struct hl_metrics_cfg *cfg);
void hl_metrics_free(struct hl_metrics *m);

/* Adds what one collection of the histogram maps held (h may be
 * regrouped in place), the samples lost meanwhile and the tool's own
 * counters read now. */
void hl_metrics_add(struct hl_metrics *m, struct hl_hist *h, size_t n,
		    uint64_t lost);

/* Writes every family; returns 0, or -1 when f failed. */
int hl_metrics_write(const struct hl_metrics *m, FILE *f,
		     enum hl_expo_format fmt);

/* Series (label sets) kept, "other" included (for the tests). */
size_t hl_metrics_series(const struct hl_metrics *m);

#endif /* HOWLONG_METRICS_H */
