/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The life of a histogram tool after attaching: interval reports until
 * the count is reached or SIGINT/SIGTERM, then a final report. */
#ifndef HOWLONG_SESSION_H
#define HOWLONG_SESSION_H

#include "hist_maps.h"
#include "report.h"

/* what: "run queue latency" -> "Tracing run queue latency... Hit Ctrl-C
 * to end." on stderr. Returns the exit code. */
int hl_session_run(struct hl_hist_maps *maps, const struct hl_report *r,
		   const char *what);

#endif /* HOWLONG_SESSION_H */
