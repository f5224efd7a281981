// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include "cli.h"
#include "session.h"
#include "util.h"
#include "watch.h"

#define HOUSEKEEPING_NS 1000000000ULL
#define WATCH_NS 500000000ULL	/* how often the -p process is looked at */

static void (*housekeeping)(void);
static uint64_t housekeeping_due;

void hl_set_housekeeping(void (*fn)(void))
{
	housekeeping = fn;
	housekeeping_due = hl_now_ns() + HOUSEKEEPING_NS;
}

uint64_t hl_housekeeping(bool force)
{
	uint64_t now;

	if (!housekeeping)
		return 0;
	now = hl_now_ns();
	if (force || now >= housekeeping_due) {
		housekeeping();
		housekeeping_due = now + HOUSEKEEPING_NS;
	}
	return housekeeping_due;
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

/* hl_setup() blocked SIGINT and SIGTERM, so they wait here for us: no
 * handler, no race between checking a flag and sleeping. */
static int wait_signal(uint64_t deadline_ns)
{
	sigset_t set;
	struct timespec ts;
	uint64_t now;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	for (;;) {
		if (!deadline_ns) {
			sig = sigwaitinfo(&set, NULL);
		} else {
			now = hl_now_ns();
			if (now >= deadline_ns)
				return 0;
			ts.tv_sec = (deadline_ns - now) / 1000000000ULL;
			ts.tv_nsec = (deadline_ns - now) % 1000000000ULL;
			sig = sigtimedwait(&set, NULL, &ts);
		}
		if (sig > 0)
			return sig;
		if (errno == EAGAIN)
			return 0;
	}
}

static int report(struct hl_hist_maps *maps, const struct hl_report *r,
		  uint64_t *since)
{
	struct hl_interval iv;
	struct hl_hist *h = NULL;
	uint64_t now = hl_now_ns();	/* the buffer flips right after */
	size_t n = 0;
	int err;

	hl_housekeeping(true);
	err = hl_hist_collect(maps, &h, &n, &iv.lost);
	iv.length_ns = now - *since;
	iv.wall_ns = hl_wall_ns();
	*since = now;
	if (err) {
		free(h);
		hl_warn("cannot read the histogram maps: error %d", err);
		return HL_EXIT_FAIL;
	}
	hl_report_hists(stdout, r, h, n, &iv);
	free(h);
	return HL_EXIT_OK;
}

/* The next time to look at the -p process, if there is one. */
static uint64_t watch_due(void)
{
	return hl_watching() ? hl_now_ns() + WATCH_NS : 0;
}

int hl_session_run(struct hl_hist_maps *maps, const struct hl_report *r,
		   const char *what)
{
	uint64_t since = hl_now_ns(), deadline = 0, done = 0;
	bool gone = false;
	int sig, err;

	fprintf(stderr, "Tracing %s... Hit Ctrl-C to end.\n", what);
	for (;;) {
		if (hl_opts.interval_ns)
			deadline = (deadline ? deadline : since) +
				   hl_opts.interval_ns;
		while (!(sig = wait_signal(earliest(earliest(deadline,
				hl_housekeeping(false)), watch_due()))) &&
		       (!deadline || hl_now_ns() < deadline) &&
		       !(gone = hl_watched_exited()))
			;
		err = report(maps, r, &since);
		done++;
		if (gone)
			return err ? err : hl_watched_gone();
		if (sig || err || (hl_opts.count && done >= hl_opts.count) ||
		    !hl_opts.interval_ns)
			return err;
	}
}
