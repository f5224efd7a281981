/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The life of a histogram tool after attaching: interval reports until
 * the count is reached or SIGINT/SIGTERM, then a final report. */
#ifndef HOWLONG_SESSION_H
#define HOWLONG_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include "hist_maps.h"
#include "report.h"

/* what: "run queue latency" -> "Tracing run queue latency... Hit Ctrl-C
 * to end." on stderr. Returns the exit code. */
int hl_session_run(struct hl_hist_maps *maps, const struct hl_report *r,
		   const char *what);

/*
 * A tool's periodic chore (e.g. expiring state that BPF could not clean
 * up): run about once a second by hl_session_run() and hl_events_run(),
 * and just before each report.
 */
void hl_set_housekeeping(void (*fn)(void));
/* Runs it if due (or now, with force); returns when it is next due, in
 * hl_now_ns() time, or 0 when there is none. */
uint64_t hl_housekeeping(bool force);

#endif /* HOWLONG_SESSION_H */
