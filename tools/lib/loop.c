// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include "cli.h"
#include "export.h"
#include "hist_maps.h"
#include "loop.h"
#include "top.h"
#include "util.h"
#include "watch.h"

#define HOUSEKEEPING_NS 1000000000ULL
/* How often a -p process is looked at when there is no pidfd to wait on. */
#define WATCH_NS 500000000ULL
/* Producers may skip waking us (an interrupt per event is costly): a ring
 * buffer is read at least this often. */
#define POLL_MS 20

struct run {
	const struct hl_loop *l;
	struct ring_buffer *rb;	/* event mode */
	struct hl_top *top;	/* --top */
	int ep, sfd;
	uint64_t since;		/* when the interval began */
	uint64_t chore_due;
};

static void housekeeping(struct run *r, bool force)
{
	uint64_t now;

	if (!r->l->housekeeping)
		return;
	now = hl_now_ns();
	if (force || now >= r->chore_due) {
		r->l->housekeeping();
		r->chore_due = now + HOUSEKEEPING_NS;
	}
}

static int watch(int ep, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* hl_setup() blocked SIGINT and SIGTERM; a signalfd lets one epoll_wait
 * watch them, the ring buffer and the -p process's pidfd together: no
 * handler, no race between checking a flag and sleeping. */
static void open_waits(struct run *r)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	r->sfd = signalfd(-1, &set, SFD_CLOEXEC);
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	if (r->sfd < 0 || r->ep < 0 || watch(r->ep, r->sfd) ||
	    (r->rb && watch(r->ep, ring_buffer__epoll_fd(r->rb))) ||
	    (hl_watch_fd() >= 0 && watch(r->ep, hl_watch_fd())) ||
	    (hl_export_fd() >= 0 && watch(r->ep, hl_export_fd())))
		hl_die("cannot wait for events: %s", strerror(errno));
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

/* Until the interval ends, the chore is due or the -p process is to be
 * looked at; -1: until a file descriptor wakes us. */
static int timeout_ms(const struct run *r, uint64_t deadline)
{
	uint64_t now = hl_now_ns(), due = deadline, left;

	if (r->l->housekeeping)
		due = earliest(due, r->chore_due);
	if (hl_watching() && hl_watch_fd() < 0)
		due = earliest(due, now + WATCH_NS);
	due = earliest(due, hl_export_deadline());
	if (!due)
		return r->rb ? POLL_MS : -1;
	/* rounded up: woken before the deadline, we would only sleep again */
	left = now >= due ? 0 : (due - now + 999999) / 1000000;
	if (r->rb && left > POLL_MS)
		return POLL_MS;
	return left > INT_MAX ? INT_MAX : (int)left;
}

static int report_hists(struct run *r, uint64_t now)
{
	struct hl_interval iv;
	struct hl_hist *h = NULL;
	size_t n = 0;
	int err;

	err = hl_hist_collect(r->l->maps, &h, &n, &iv.lost);
	iv.length_ns = now - r->since;
	iv.wall_ns = hl_wall_ns();
	if (err) {
		free(h);
		hl_warn("cannot read the histogram maps: error %d", err);
		return HL_EXIT_FAIL;
	}
	hl_report_hists(stdout, &r->l->report, h, n, &iv);
	free(h);
	return HL_EXIT_OK;
}

/* Events were printed as they came: what is left is --top's table, or a
 * word about those lost. */
static int report_events(struct run *r, uint64_t now)
{
	const struct hl_loop *l = r->l;
	uint64_t lost = hl_hist_lost(l->maps);

	if (r->top)
		hl_top_report(stdout, r->top, l->report.tool, l->top_rows,
			      now - r->since, lost);
	else if (lost)
		hl_warn("%llu %s lost: %s", (unsigned long long)lost, l->noun,
			l->lost_why ? l->lost_why :
			"the event buffer was full");
	return HL_EXIT_OK;
}

static int run(struct run *r)
{
	uint64_t deadline = 0, done = 0, now;
	struct epoll_event ev[4];
	bool stop = false, gone;
	int n, err;

	r->since = hl_now_ns();
	r->chore_due = r->since + HOUSEKEEPING_NS;
	if (hl_opts.interval_ns)
		deadline = r->since + hl_opts.interval_ns;
	fprintf(stderr, "Tracing %s... Hit Ctrl-C to end.\n", r->l->what);
	for (;;) {
		n = epoll_wait(r->ep, ev, 4, timeout_ms(r, deadline));
		if (n < 0 && errno != EINTR)
			hl_die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++)
			stop |= ev[i].data.fd == r->sfd;
		/* a request, or a client's time is up */
		hl_export_serve(hl_now_ns());
		if (r->rb && ring_buffer__consume(r->rb) < 0)
			hl_warn("cannot read events");
		housekeeping(r, false);
		gone = hl_watched_exited();
		now = hl_now_ns();	/* the histograms flip right after */
		if (!stop && !gone && (!deadline || now < deadline))
			continue;
		housekeeping(r, true);
		err = hl_exporting() ? hl_export_drain() :
		      r->rb ? report_events(r, now) : report_hists(r, now);
		r->since = now;
		done++;
		if (gone)
			return err ? err : hl_watched_gone();
		if (stop || err || (hl_opts.count && done >= hl_opts.count) ||
		    !deadline)
			return err;
		deadline += hl_opts.interval_ns;
	}
}

int hl_loop_run(const struct hl_loop *l)
{
	struct run r = { .l = l };
	int err;

	if (l->ring) {
		if (l->top_rows && !(r.top = hl_top_new(l->top_kept)))
			hl_die("out of memory");
		r.rb = ring_buffer__new(bpf_map__fd(l->ring), l->on_event,
					r.top, NULL);
		if (!r.rb)
			hl_die("cannot open the event ring buffer: %s",
			       strerror(errno));
		if (!r.top && l->header && !hl_opts.json)
			printf("%s\n", l->header);
	}
	open_waits(&r);
	if (hl_exporting())
		hl_export_begin(l);
	err = run(&r);
	hl_export_end();
	close(r.ep);
	close(r.sfd);
	ring_buffer__free(r.rb);
	hl_top_free(r.top);
	return err;
}
