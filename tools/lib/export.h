/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * --listen and --textfile (docs/metrics.md): a histogram tool's totals
 * since its start, served to Prometheus or written for node_exporter
 * instead of printed. Options of every histogram tool; the loop drives it.
 */
#ifndef HOWLONG_EXPORT_H
#define HOWLONG_EXPORT_H

#include <argp.h>
#include <stdbool.h>
#include <stdint.h>

struct hl_loop;

/* The options, an argp child of every tracing tool's command line. */
extern const struct argp hl_export_argp;

bool hl_exporting(void);
/* Before attaching: listens (a bad or busy address exits 2). */
void hl_export_open(void);
/* The loop's part: begin once its maps are known, serve when fd is
 * readable or the deadline (0: none) has come, drain at each interval's
 * end (returns the exit code), end at exit. */
void hl_export_begin(const struct hl_loop *l);
int hl_export_fd(void);
uint64_t hl_export_deadline(void);
void hl_export_serve(uint64_t now_ns);
int hl_export_drain(void);
void hl_export_end(void);

#endif /* HOWLONG_EXPORT_H */
