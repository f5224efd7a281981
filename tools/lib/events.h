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

#endif /* HOWLONG_EVENTS_H */
