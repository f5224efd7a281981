/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Histogram reports: the classic log2 text histogram plus a percentile
 * summary, or one JSON Lines object (docs/json.md). */
#ifndef HOWLONG_REPORT_H
#define HOWLONG_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "histo.h"

#define HL_MAX_LABELS 8

struct hl_label {
	const char *name;
	const char *str;	/* NULL: the label is the number num */
	uint64_t num;
};

/* Labels of a keyed histogram; returns how many were filled. scratch
 * holds any strings the labels point to. */
typedef int (*hl_label_fn)(const struct hl_hist *h, struct hl_label *labels,
			   char *scratch, size_t scratch_len);

/* Tool-specific per-interval counts (e.g. pgquerylat's "errors"), printed
 * after the histograms and as top-level JSON fields; returns how many. */
typedef int (*hl_counter_fn)(struct hl_label *counters, int max);

/* Regroup or filter keyed histograms before they are printed (e.g. per
 * backend -> per database); returns the new count. */
typedef size_t (*hl_regroup_fn)(struct hl_hist *h, size_t n);

struct hl_report {
	const char *tool;
	hl_label_fn label;	/* NULL for one unkeyed histogram */
	hl_counter_fn counters;	/* NULL: none */
	hl_regroup_fn regroup;	/* NULL: as collected */
};

struct hl_interval {
	uint64_t wall_ns;	/* when it ended */
	uint64_t length_ns;	/* how long it really was */
	uint64_t lost;
};

/* Is each histogram labelled (the tool's keys, or -P, -L, --per-cgroup)? */
bool hl_report_labeled(const struct hl_report *r);
/* The tool's labels of h, then its owner's; returns how many. */
int hl_report_labels(const struct hl_report *r, const struct hl_hist *h,
		     struct hl_label *l, char *scratch, size_t len);

void hl_report_hists(FILE *f, const struct hl_report *r, struct hl_hist *h,
		     size_t n, const struct hl_interval *iv);

/* "HH:MM:SS" local time and a newline (a space: _inline), for -T. */
void hl_print_time(FILE *f, uint64_t wall_ns);
void hl_print_time_inline(FILE *f, uint64_t wall_ns);

/* "12.3us", "1.23ms", "950ns": three significant digits. */
void hl_fmt_duration(char *buf, size_t len, uint64_t ns);

#endif /* HOWLONG_REPORT_H */
