/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The life of an event-driven tool: consume a BPF ring buffer, call the
 * tool at each interval end, stop at the count or on SIGINT/SIGTERM. */
#ifndef HOWLONG_EVENTS_H
#define HOWLONG_EVENTS_H

#include <stdbool.h>
#include <stdint.h>
#include <bpf/libbpf.h>

/* length_ns: how long the interval lasted; last: the final call. */
typedef void (*hl_tick_fn)(uint64_t length_ns, bool last, void *ctx);

/* what: as for hl_session_run(). Returns the exit code. */
int hl_events_run(struct ring_buffer *rb, hl_tick_fn tick, void *ctx,
		  const char *what);

struct hl_hist_maps;
struct hl_top;

/* An event-mode tool: each occurrence arrives through ring, and is either
 * printed as it comes (threshold mode, top_rows == 0) or added to top,
 * which is printed and emptied at every interval end. on_event gets the
 * source itself as its ctx. */
struct hl_event_source {
	const char *tool;	/* "jitlat": names the top lines */
	const char *what;	/* "JIT compilations": the Tracing line */
	const char *noun;	/* "compilations": the lost warning */
	const char *header;	/* column header of text events, or NULL */
	struct bpf_map *ring;
	ring_buffer_sample_fn on_event;
	struct hl_hist_maps *lost;	/* where the lost counts are */
	const char *lost_why;	/* NULL: "the event buffer was full" */
	size_t top_rows;	/* --top N: rows printed, 0 for none */
	size_t top_kept;	/* distinct texts kept per interval */
	struct hl_top *top;	/* made by hl_events_serve() */
};

/* Runs src until the count or a signal; returns the exit code. */
int hl_events_serve(struct hl_event_source *src);

#endif /* HOWLONG_EVENTS_H */
