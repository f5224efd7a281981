/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What every measuring tool's main() does around its own part: the
 * command line and start-up checks, the skeleton opened, loaded and
 * attached, the histogram maps found, the loop run, everything detached
 * and freed. A tool describes itself once, decides its mode from its
 * options, and keeps only its measurement.
 */
#ifndef HOWLONG_TRACER_H
#define HOWLONG_TRACER_H

#include <argp.h>
#include <stdbool.h>
#include "attach.h"
#include "hist_maps.h"
#include "loop.h"

struct hl_tracer {
	/* The tool, before hl_tracer_start(). */
	const char *name;
	bool user_space;	/* markers or uprobes: no --attach */
	bool no_task;		/* measures no task: no -p -t -c --comm */
	struct argp argp;	/* its own options and parser */
	const char *doc;	/* as for hl_parse_args() */
	const char *args_doc;	/* positionals first (hl_parse_args_pos()) */
	unsigned int npos;
	const struct hl_skel_ops *ops;
	hl_prepare_fn prepare;

	/* Its mode, before hl_tracer_attach(). */
	const char *path;	/* the binary attached to, for -v, or NULL */
	bool keyed;		/* histograms per key */
	bool events;		/* event mode: progs/lib/events.bpf.h's ring */
	/* report.tool defaults to name; hl_tracer_attach() sets maps and
	 * ring */
	struct hl_loop loop;

	/* Set by hl_tracer_attach(). */
	void *skel;
	enum hl_method method;
	struct hl_hist_maps maps;
};

/* Parses the command line (bad input exits 2), then hl_setup(). */
void hl_tracer_start(struct hl_tracer *t, int argc, char **argv);

/* Opens, loads and attaches the skeleton (hl_open_attach()) and finds its
 * maps; returns the skeleton. Exits 1 when it cannot. */
void *hl_tracer_attach(struct hl_tracer *t);

/* Runs the loop, then detaches and frees the skeleton; returns the exit
 * code. */
int hl_tracer_run(struct hl_tracer *t);

#endif /* HOWLONG_TRACER_H */
