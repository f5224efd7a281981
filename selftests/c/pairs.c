// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Timed intervals between markers and inside functions: the ground truth
 * of usdtlat's and funclat's tests (selftests/tests/test_usdtlat.py,
 * test_funclat.py).
 *
 *   pairs MODE ARGS...
 *
 * prints "ready PID", waits for a line on stdin, runs MODE, prints one
 * line per interval it timed itself and "done", then waits for stdin to
 * close. An interval line is
 *
 *   rec WHAT ID KIND T0 T1 SLEEP_NS
 *
 * where T0 is CLOCK_MONOTONIC read just before the opening marker (or
 * call) and T1 just after the closing one (or the return), and SLEEP_NS
 * the nanosleep inside. A tool's interval lies between the two markers,
 * so it must be at least SLEEP_NS and at most T1 - T0.
 *
 * Modes (provider "hltest"):
 *   threads T N MS  T threads, each N times: req__start(id, kind, name),
 *                   sleep MS (+1 ms per kind), req__done(id)
 *   nested N MS     N times on one thread: req__start (outer), req__start
 *                   (inner), sleep MS, req__done (inner), sleep MS,
 *                   req__done (outer)
 *   queue N MS      job__queued(id) on the main thread, job__done(id) on a
 *                   worker MS later (a pair across threads)
 *   orphans N       N job__queued(id) that never end, then one req pair
 *   funcs N MS      calls work_a (MS), work_b (2 MS), work_c (3 MS) N
 *                   times each, recurse(5) (nested, sleeps MS at the
 *                   bottom) and one call of jump_out(), which never
 *                   returns (longjmp)
 *   syscalls N MS   system calls (syslat), N of each, every one timed:
 *                   nanosleep of MS, readv of a pipe a second thread
 *                   writes to MS after being asked (it sleeps with
 *                   clock_nanosleep, reads ctl with read), openat of a
 *                   path that does not exist (fails: kind 1), getppid
 *   contend WHAT T N  kernel lock contention (locklat), T threads each
 *                   N times: WHAT "maps", mmap and munmap of one page of
 *                   the process's one address space (its mmap_lock, an
 *                   rwsem, taken for writing); "pipe", a 1-byte write to
 *                   one pipe that one more thread drains (the pipe's
 *                   mutex); prints "count WHAT T*N", and "count tidN 1"
 *                   for each thread N it started. T 1: the same work
 *                   without contention between the T
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sdt.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#define MAX_THREADS 16
#define NOINLINE __attribute__((noinline, used))

static const char *const kind_names[] = { "fast", "medium", "slow" };
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { ns / 1000000000ULL, ns % 1000000000ULL };

	while (nanosleep(&ts, &ts))
		;
}

static void record(const char *what, long id, int kind, uint64_t t0,
		   uint64_t t1, uint64_t slept)
{
	pthread_mutex_lock(&out_lock);
	printf("rec %s %ld %d %llu %llu %llu\n", what, id, kind,
	       (unsigned long long)t0, (unsigned long long)t1,
	       (unsigned long long)slept);
	pthread_mutex_unlock(&out_lock);
}

/* ---- threads ---- */

struct worker {
	pthread_t thread;
	int index, n;
	uint64_t ms;
};

static void *request_loop(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < w->n; i++) {
		long id = w->index * 1000L + i;
		int kind = i % 3;
		const char *name = kind_names[kind];
		uint64_t slept = (w->ms + kind) * 1000000ULL, t0, t1;

		t0 = now_ns();
		DTRACE_PROBE3(hltest, req__start, id, kind, name);
		sleep_ns(slept);
		DTRACE_PROBE1(hltest, req__done, id);
		t1 = now_ns();
		record("req", id, kind, t0, t1, slept);
	}
	return NULL;
}

static int run_threads(int t, int n, uint64_t ms)
{
	struct worker w[MAX_THREADS];

	if (t < 1 || t > MAX_THREADS)
		return 2;
	for (int i = 0; i < t; i++) {
		w[i] = (struct worker){ .index = i, .n = n, .ms = ms };
		if (pthread_create(&w[i].thread, NULL, request_loop, &w[i]))
			return 1;
	}
	for (int i = 0; i < t; i++)
		pthread_join(w[i].thread, NULL);
	return 0;
}

/* ---- nested ---- */

static int run_nested(int n, uint64_t ms)
{
	uint64_t slept = ms * 1000000ULL, t0, t1, u0, u1;

	for (long i = 0; i < n; i++) {
		t0 = now_ns();
		DTRACE_PROBE3(hltest, req__start, 2 * i, 0, "outer");
		u0 = now_ns();
		DTRACE_PROBE3(hltest, req__start, 2 * i + 1, 1, "inner");
		sleep_ns(slept);
		DTRACE_PROBE1(hltest, req__done, 2 * i + 1);
		u1 = now_ns();
		sleep_ns(slept);
		DTRACE_PROBE1(hltest, req__done, 2 * i);
		t1 = now_ns();
		record("inner", 2 * i + 1, 1, u0, u1, slept);
		record("outer", 2 * i, 0, t0, t1, 2 * slept);
	}
	return 0;
}

/* ---- queue: pairs across threads ---- */

#define QUEUE_MAX 64

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	long id[QUEUE_MAX];
	uint64_t t0[QUEUE_MAX];
	int head, tail, closed;
	uint64_t ms;
} queue = {
	.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
};

static void *queue_worker(void *arg)
{
	(void)arg;
	for (;;) {
		long id;
		uint64_t t0, slept = queue.ms * 1000000ULL;

		pthread_mutex_lock(&queue.lock);
		while (queue.head == queue.tail && !queue.closed)
			pthread_cond_wait(&queue.cond, &queue.lock);
		if (queue.head == queue.tail) {
			pthread_mutex_unlock(&queue.lock);
			return NULL;
		}
		id = queue.id[queue.head % QUEUE_MAX];
		t0 = queue.t0[queue.head % QUEUE_MAX];
		queue.head++;
		pthread_mutex_unlock(&queue.lock);
		sleep_ns(slept);
		DTRACE_PROBE1(hltest, job__done, id);
		record("job", id, 0, t0, now_ns(), slept);
	}
}

static int run_queue(int n, uint64_t ms)
{
	pthread_t worker;

	if (n > QUEUE_MAX)
		return 2;
	queue.ms = ms;
	if (pthread_create(&worker, NULL, queue_worker, NULL))
		return 1;
	for (long i = 0; i < n; i++) {
		uint64_t t0 = now_ns();

		DTRACE_PROBE1(hltest, job__queued, 100 + i);
		pthread_mutex_lock(&queue.lock);
		queue.id[queue.tail % QUEUE_MAX] = 100 + i;
		queue.t0[queue.tail % QUEUE_MAX] = t0;
		queue.tail++;
		pthread_cond_signal(&queue.cond);
		pthread_mutex_unlock(&queue.lock);
	}
	pthread_mutex_lock(&queue.lock);
	queue.closed = 1;
	pthread_cond_signal(&queue.cond);
	pthread_mutex_unlock(&queue.lock);
	pthread_join(worker, NULL);
	return 0;
}

static int run_orphans(int n)
{
	uint64_t t0, t1;

	for (long i = 0; i < n; i++)
		DTRACE_PROBE1(hltest, job__queued, 500 + i);
	t0 = now_ns();
	DTRACE_PROBE3(hltest, req__start, 1, 0, "after");
	DTRACE_PROBE1(hltest, req__done, 1);
	t1 = now_ns();
	record("req", 1, 0, t0, t1, 0);
	return 0;
}

/* ---- funcs ---- */

static jmp_buf jump_back;

NOINLINE void work_a(uint64_t ms)
{
	sleep_ns(ms * 1000000ULL);
}

NOINLINE void work_b(uint64_t ms)
{
	sleep_ns(2 * ms * 1000000ULL);
}

NOINLINE void work_c(uint64_t ms)
{
	sleep_ns(3 * ms * 1000000ULL);
}

NOINLINE int recurse(int depth, uint64_t ms)
{
	int r;

	if (!depth) {
		sleep_ns(ms * 1000000ULL);
		return 0;
	}
	r = recurse(depth - 1, ms) + 1;
	__asm__ volatile("" : "+r"(r));	/* no tail call */
	return r;
}

NOINLINE void jump_out(void)
{
	longjmp(jump_back, 1);
}

static void timed_call(const char *what, int kind, void (*fn)(uint64_t),
		       uint64_t ms, uint64_t slept)
{
	uint64_t t0 = now_ns(), t1;

	fn(ms);
	t1 = now_ns();
	record(what, 0, kind, t0, t1, slept);
}

static int run_funcs(int n, uint64_t ms)
{
	uint64_t t0, t1;

	for (int i = 0; i < n; i++) {
		timed_call("work_a", 0, work_a, ms, ms * 1000000ULL);
		timed_call("work_b", 1, work_b, ms, 2 * ms * 1000000ULL);
		timed_call("work_c", 2, work_c, ms, 3 * ms * 1000000ULL);
	}
	t0 = now_ns();
	recurse(5, ms);
	t1 = now_ns();
	record("recurse", 5, 0, t0, t1, ms * 1000000ULL);
	if (!setjmp(jump_back))
		jump_out();
	/* After the longjmp: one more call must still pair correctly. */
	timed_call("work_a", 0, work_a, ms, ms * 1000000ULL);
	return 0;
}

/* ---- syscalls ---- */

static int ctl[2], data[2];

static void *pipe_writer(void *arg)
{
	uint64_t ns = *(uint64_t *)arg;
	struct timespec ts = { ns / 1000000000ULL, ns % 1000000000ULL };
	char c;

	while (read(ctl[0], &c, 1) == 1 && c == 'g') {
		clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
		if (write(data[1], "x", 1) != 1)
			break;
	}
	return NULL;
}

/* t0, the call, t1: one record */
#define TIMED(what, id, kind, slept, call)				\
	do {								\
		uint64_t t0_ = now_ns();				\
		long r_ = (call);					\
		record(what, id, kind, t0_, now_ns(), slept);		\
		if ((kind) != (r_ < 0))					\
			return 3;					\
	} while (0)

static int run_syscalls(int n, uint64_t ms)
{
	uint64_t ns = ms * 1000000ULL;
	struct timespec ts = { ns / 1000000000ULL, ns % 1000000000ULL };
	pthread_t writer;
	char byte;
	struct iovec iov = { &byte, 1 };

	if (pipe(ctl) || pipe(data) ||
	    pthread_create(&writer, NULL, pipe_writer, &ns))
		return 1;
	for (int i = 0; i < n; i++)
		TIMED("nanosleep", i, 0, ns, syscall(SYS_nanosleep, &ts, NULL));
	for (int i = 0; i < n; i++) {
		if (write(ctl[1], "g", 1) != 1)
			return 1;
		TIMED("readv", i, 0, 0, readv(data[0], &iov, 1));
	}
	for (int i = 0; i < n; i++)
		TIMED("openat", i, 1, 0, syscall(SYS_openat, AT_FDCWD,
						 "/nonexistent/hl", O_RDONLY));
	for (int i = 0; i < n; i++)
		TIMED("getppid", i, 0, 0, syscall(SYS_getppid));
	if (write(ctl[1], "q", 1) != 1)
		return 1;
	return pthread_join(writer, NULL);
}

/* ---- contend ---- */

static int shared_pipe[2];

static void *mapper(void *arg)
{
	long n = *(long *)arg;

	printf("count tid%ld 1\n", (long)syscall(SYS_gettid));

	for (long i = 0; i < n; i++) {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED || munmap(p, 4096))
			return (void *)1;
	}
	return NULL;
}

static void *pipe_filler(void *arg)
{
	long n = *(long *)arg;

	printf("count tid%ld 1\n", (long)syscall(SYS_gettid));

	for (long i = 0; i < n; i++)
		if (write(shared_pipe[1], "x", 1) != 1)
			return (void *)1;
	return NULL;
}

static void *pipe_drainer(void *arg)
{
	long left = *(long *)arg;
	char buf[256];
	ssize_t r;

	printf("count tid%ld 1\n", (long)syscall(SYS_gettid));

	while (left > 0 && (r = read(shared_pipe[0], buf, sizeof(buf))) > 0)
		left -= r;
	return left ? (void *)1 : NULL;
}

static int run_contend(const char *what, int t, long n)
{
	bool pipe_mode = !strcmp(what, "pipe");
	pthread_t th[MAX_THREADS + 1];
	long total = t * n;
	void *ret;
	int err = 0, k = 0;

	if (t < 1 || t > MAX_THREADS || (!pipe_mode && strcmp(what, "maps")))
		return 1;
	if (pipe_mode && (pipe(shared_pipe) ||
			  pthread_create(&th[k++], NULL, pipe_drainer,
					 &total)))
		return 1;
	for (int i = 0; i < t; i++)
		if (pthread_create(&th[k++], NULL,
				   pipe_mode ? pipe_filler : mapper, &n))
			return 1;
	for (int i = 0; i < k; i++)
		if (pthread_join(th[i], &ret) || ret)
			err = 1;
	printf("count %s %ld\n", what, total);
	return err;
}

static int run(int argc, char **argv)
{
	const char *mode = argv[1];
	long a = argc > 2 ? atol(argv[2]) : 0;
	long b = argc > 3 ? atol(argv[3]) : 0;
	long c = argc > 4 ? atol(argv[4]) : 0;

	if (!strcmp(mode, "threads"))
		return run_threads(a, b, c);
	if (!strcmp(mode, "nested"))
		return run_nested(a, b);
	if (!strcmp(mode, "queue"))
		return run_queue(a, b);
	if (!strcmp(mode, "orphans"))
		return run_orphans(a);
	if (!strcmp(mode, "funcs"))
		return run_funcs(a, b);
	if (!strcmp(mode, "syscalls"))
		return run_syscalls(a, b);
	if (!strcmp(mode, "contend"))
		return run_contend(argc > 2 ? argv[2] : "", b, c);
	return 2;
}

int main(int argc, char **argv)
{
	char line[16];
	int err;

	if (argc < 2) {
		fprintf(stderr, "usage: pairs MODE ARGS...\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready %d\n", (int)getpid());
	if (!fgets(line, sizeof(line), stdin))
		return 0;
	err = run(argc, argv);
	if (err) {
		fprintf(stderr, "pairs %s: failed (%d)\n", argv[1], err);
		return err;
	}
	printf("done\n");
	while (fgets(line, sizeof(line), stdin))
		;
	return 0;
}
