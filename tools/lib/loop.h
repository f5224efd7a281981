/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The life of every tool after attaching: a report at each interval end
 * until the count is reached, SIGINT/SIGTERM or the exit of the -p
 * process, then a final report. A report is the tool's histograms, or in
 * event mode the lost count (events print as they come from the ring
 * buffer) or a --top table.
 */
#ifndef HOWLONG_LOOP_H
#define HOWLONG_LOOP_H

#include <stddef.h>
#include <bpf/libbpf.h>
#include "report.h"

struct hl_hist_maps;

struct hl_loop {
	const char *what;	/* "run queue latency": the Tracing line */
	struct hl_hist_maps *maps;	/* histograms and lost counts */
	struct hl_report report;	/* .tool also names the top lines */
	/*
	 * A tool's periodic chore (e.g. expiring state that BPF could not
	 * clean up): about once a second and just before each report.
	 */
	void (*housekeeping)(void);

	/* Event mode, when ring is set: on_event gets the --top table as
	 * its ctx (NULL without --top). */
	struct bpf_map *ring;
	ring_buffer_sample_fn on_event;
	const char *header;	/* column header of text events, or NULL */
	const char *noun;	/* "compilations": the lost warning */
	const char *lost_why;	/* NULL: "the event buffer was full" */
	size_t top_rows;	/* --top N: rows printed, 0 for none */
	size_t top_kept;	/* distinct texts kept per interval */
};

/* Says "Tracing what... Hit Ctrl-C to end." on stderr and runs l until
 * the end; returns the exit code. */
int hl_loop_run(const struct hl_loop *l);

#endif /* HOWLONG_LOOP_H */
