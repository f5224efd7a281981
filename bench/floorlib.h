/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What the benchmarks' floor loaders (floor.c, pgfloor.c) share: open an
 * object, wait for SIGINT/SIGTERM without a lost wakeup, clean up.
 */
#ifndef HOWLONG_BENCH_FLOORLIB_H
#define HOWLONG_BENCH_FLOORLIB_H

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>

static volatile sig_atomic_t floor_stop;

static void floor_on_signal(int sig)
{
	(void)sig;
	floor_stop = 1;
}

/* Block the signals until we wait for them; *old is the mask to wait
 * with. Then open path, or NULL with a message naming who. */
static struct bpf_object *floor_open(const char *who, const char *path,
				     sigset_t *old)
{
	struct sigaction sa = { .sa_handler = floor_on_signal };
	struct bpf_object *obj;
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, old);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	obj = bpf_object__open_file(path, NULL);
	if (!obj)
		fprintf(stderr, "%s: cannot open %s: %s\n", who, path,
			strerror(errno));
	return obj;
}

static void floor_wait(const sigset_t *old)
{
	printf("ready\n");
	fflush(stdout);
	while (!floor_stop)
		sigsuspend(old);
}

static void floor_close(struct bpf_link **links, int n, struct bpf_object *obj)
{
	while (n--)
		bpf_link__destroy(links[n]);
	bpf_object__close(obj);
}

#endif /* HOWLONG_BENCH_FLOORLIB_H */
