// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <string.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include "cli.h"
#include "events.h"
#include "hist_maps.h"
#include "session.h"
#include "top.h"
#include "util.h"
#include "watch.h"

/* hl_setup() blocked SIGINT and SIGTERM; a signalfd lets one epoll_wait
 * watch them and the ring buffer together. */
static int watch(int ep, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int open_watch(struct ring_buffer *rb, int *sfd)
{
	sigset_t set;
	int ep;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	*sfd = signalfd(-1, &set, SFD_CLOEXEC);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (*sfd < 0 || ep < 0 || watch(ep, *sfd) ||
	    watch(ep, ring_buffer__epoll_fd(rb)) ||
	    (hl_watch_fd() >= 0 && watch(ep, hl_watch_fd())))
		hl_die("cannot wait for events: %s", strerror(errno));
	return ep;
}

/* Producers may skip waking us (an interrupt per event is costly): poll
 * at least this often. */
#define POLL_MS 20

static int timeout_ms(uint64_t deadline)
{
	uint64_t now = hl_now_ns(), left;

	if (!deadline)
		return POLL_MS;
	left = now >= deadline ? 0 : (deadline - now + 999999) / 1000000;
	return left < POLL_MS ? (int)left : POLL_MS;
}

int hl_events_run(struct ring_buffer *rb, hl_tick_fn tick, void *ctx,
		  const char *what)
{
	uint64_t since = hl_now_ns(), deadline = 0, done = 0, now;
	struct epoll_event ev[3];
	int sfd, ep = open_watch(rb, &sfd), n, stop = 0;
	bool gone = false;

	if (hl_opts.interval_ns)
		deadline = since + hl_opts.interval_ns;
	fprintf(stderr, "Tracing %s... Hit Ctrl-C to end.\n", what);
	while (!stop) {
		n = epoll_wait(ep, ev, 3, timeout_ms(deadline));
		if (n < 0 && errno != EINTR)
			hl_die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++)
			if (ev[i].data.fd == sfd)
				stop = 1;
		if (ring_buffer__consume(rb) < 0)
			hl_warn("cannot read events");
		hl_housekeeping(false);
		stop |= gone = hl_watched_exited();
		now = hl_now_ns();
		if (!stop && (!deadline || now < deadline))
			continue;
		done++;
		stop |= hl_opts.count && done >= hl_opts.count;
		hl_housekeeping(true);
		tick(now - since, stop, ctx);
		since = now;
		if (deadline)
			deadline += hl_opts.interval_ns;
	}
	close(ep);
	close(sfd);
	return gone ? hl_watched_gone() : HL_EXIT_OK;
}

static void serve_tick(uint64_t length_ns, bool last, void *ctx)
{
	struct hl_event_source *src = ctx;
	uint64_t lost = hl_hist_lost(src->lost);

	(void)last;
	if (src->top)
		hl_top_report(stdout, src->top, src->tool, src->top_rows,
			      length_ns, lost);
	else if (lost)
		hl_warn("%llu %s lost: %s", (unsigned long long)lost,
			src->noun, src->lost_why ? src->lost_why :
			"the event buffer was full");
}

int hl_events_serve(struct hl_event_source *src)
{
	struct ring_buffer *rb;
	int err;

	if (src->top_rows && !(src->top = hl_top_new(src->top_kept)))
		hl_die("out of memory");
	rb = ring_buffer__new(bpf_map__fd(src->ring), src->on_event, src,
			      NULL);
	if (!rb)
		hl_die("cannot open the event ring buffer: %s",
		       strerror(errno));
	if (!src->top && src->header && !hl_opts.json)
		printf("%s\n", src->header);
	err = hl_events_run(rb, serve_tick, src, src->what);
	ring_buffer__free(rb);
	hl_top_free(src->top);
	src->top = NULL;
	return err;
}
