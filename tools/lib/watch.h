/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The process -p names: when it exits, a tool prints its final report,
 * says so and exits 1, instead of tracing nothing forever.
 */
#ifndef HOWLONG_WATCH_H
#define HOWLONG_WATCH_H

#include <stdbool.h>
#include <sys/types.h>

/* Watch pid from now on (hl_setup() does, for -p). */
void hl_watch_process(pid_t pid);

/* A process is watched. */
bool hl_watching(void);

/* A file descriptor that becomes readable when the watched process has
 * exited (a pidfd), or -1 if there is none to wait on. */
int hl_watch_fd(void);

/* The watched process has exited. */
bool hl_watched_exited(void);

/* After the final report: says on stderr that the process has exited;
 * returns the exit code for that (1). */
int hl_watched_gone(void);

#endif /* HOWLONG_WATCH_H */
