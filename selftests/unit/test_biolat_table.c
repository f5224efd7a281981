// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * biolat's direct-mapped table of requests in flight (the *_fast programs
 * of progs/biolat.bpf.c), run by the kernel on made-up request addresses
 * (BPF_PROG_TEST_RUN of the raw_tp programs, whose argument is the
 * address): a request whose slot is taken goes to the hash and is found
 * there at completion, a freed slot is claimed again, a second (partial)
 * completion does not count, a requeue restarts the clock, a completion
 * without an issue counts nothing. Needs root and BPF atomics (5.12).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "tap.h"
#include "lib/common.h"
#include "biolat.h"
#include "biolat.skel.h"
#include "hist_maps.h"
#include "kfeatures.h"

static struct biolat_bpf *skel;
static struct hl_hist_maps maps;

static int run(struct bpf_program *prog, __u64 rq)
{
	__u64 args[1] = { rq };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args,
		    .ctx_size_in = sizeof(args));

	return bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
}

static void issue(__u64 rq) { run(skel->progs.issue_fast_raw, rq); }
static void requeue(__u64 rq) { run(skel->progs.requeue_fast_raw, rq); }
static void complete(__u64 rq) { run(skel->progs.complete_fast_raw, rq); }

/* Samples recorded since the last call: count and longest. */
static __u64 drained(__u64 *max)
{
	struct hl_hist *h = NULL;
	size_t n = 0;
	uint64_t lost;
	__u64 count = 0;

	if (!hl_hist_collect(&maps, &h, &n, &lost) && n == 1) {
		count = h->count;
		*max = h->max;
	}
	free(h);
	return count;
}

static bool in_hash(__u64 rq)
{
	struct biolat_key k = { .rq = rq };
	struct biolat_rq v;

	return !bpf_map__lookup_elem(skel->maps.inflight, &k, sizeof(k), &v,
				     sizeof(v), 0);
}

/* Another address, past after, in the same slot as rq. */
static __u64 same_slot(__u64 rq, __u64 after)
{
	__u64 a = after;

	while (biolat_slot_index(a) != biolat_slot_index(rq))
		a += 64;
	return a;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}

static bool setup(void)
{
	struct bpf_program *prog;

	skel = biolat_bpf__open();
	if (!skel)
		return false;
	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, false);
	bpf_program__set_autoload(skel->progs.issue_fast_raw, true);
	bpf_program__set_autoload(skel->progs.requeue_fast_raw, true);
	bpf_program__set_autoload(skel->progs.complete_fast_raw, true);
	return !hl_hist_maps_size(skel->obj, false) &&
	       !biolat_bpf__load(skel) &&
	       !hl_hist_maps_init(&maps, skel->obj, &skel->bss->hist_buf,
				  false);
}

int main(void)
{
	const __u64 a = 0xffff888100000000ULL;
	__u64 b = same_slot(a, a + 64), c = same_slot(a, b + 64), max = 0;
	__u64 d = a + (1 << 20), e = d + (1 << 20);

	if (!hl_kernel_has_atomics()) {
		/* biolat never picks them here: the probe must be right */
		tap_check(!setup(), "no BPF atomics here, and the kernel "
			  "refuses the fast programs");
		biolat_bpf__destroy(skel);
		return tap_failed ? 1 : 0;
	}
	if (!tap_check(setup(), "biolat's fast programs load")) {
		tap_diag("load: %s", strerror(errno));
		return 1;
	}

	issue(a);
	complete(a);
	tap_check(drained(&max) == 1, "issue, complete: counted once");

	issue(a);
	issue(b);
	tap_check(!in_hash(a) && in_hash(b), "a request whose slot is taken "
		  "goes to the hash");
	issue(c);
	complete(b);
	complete(a);
	complete(c);
	tap_check(!in_hash(b) && !in_hash(c), "completed from the hash");
	tap_check(drained(&max) == 3, "three requests for one slot, two in "
		  "the hash at once: three samples");

	issue(a);
	complete(b);
	issue(c);
	tap_check(in_hash(c), "the slot stays its holder's when another "
		  "completes");
	complete(a);
	complete(c);
	tap_check(drained(&max) == 2, "a completion of a request not in "
		  "flight counts nothing");

	issue(d);
	complete(d);
	complete(d);
	tap_check(drained(&max) == 1, "a second, partial completion does not "
		  "count");

	issue(e);
	sleep_ms(50);
	requeue(e);
	issue(e);
	complete(e);
	tap_check(drained(&max) == 1 && max < 25000000ULL, "requeued: timed "
		  "from its last issue (%llu ns)", (unsigned long long)max);

	issue(a);
	issue(b);
	sleep_ms(50);
	requeue(b);
	issue(b);
	complete(b);
	complete(a);
	tap_check(drained(&max) == 2, "requeued in the hash: counted once");
	tap_diag("slot %u shared by three addresses",
		 biolat_slot_index(a));
	biolat_bpf__destroy(skel);
	return tap_failed ? 1 : 0;
}
