// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>
#include <sys/syscall.h>
#include "util.h"
#include "watch.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

static pid_t watched;
static int pidfd = -1;
static bool gone;

void hl_watch_process(pid_t pid)
{
	watched = pid;
	/* pidfd_open (5.3) tells of the exit at once, also to epoll; else
	 * signal 0 is asked now and then */
	pidfd = syscall(SYS_pidfd_open, pid, 0);
}

bool hl_watching(void)
{
	return watched;
}

int hl_watch_fd(void)
{
	return pidfd;
}

static bool exited(void)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	if (pidfd >= 0)
		return poll(&p, 1, 0) > 0;
	return kill(watched, 0) && errno == ESRCH;
}

bool hl_watched_exited(void)
{
	if (watched && !gone)
		gone = exited();
	return gone;
}

int hl_watched_gone(void)
{
	hl_warn("process %d has exited", (int)watched);
	return HL_EXIT_FAIL;
}
