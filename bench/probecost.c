// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * What a traced marker or function costs the traced thread, timed from
 * inside: the loop's own clock over N iterations, printed in ns per
 * iteration (bench/probecost.py runs it untraced and traced).
 *
 *   probecost pairs N     hlcost:start / hlcost:end markers (usdtlat)
 *   probecost compiles N  hotspot:method__compile__begin/end with
 *                         HotSpot's real arguments (jitlat, --jvm this)
 *   probecost calls N     a call of work() (funclat), which starts with
 *                         an instruction the kernel single-steps (lea)
 *   probecost framed N    a call of framed(), which starts with push %rbp
 *                         (the kernel emulates it: no single step)
 *   probecost syscalls N  getppid(2), the cheapest system call (syslat)
 *   probecost pingpong N  a byte to a child process and back over two
 *                         pipes: four calls that block and two context
 *                         switches per round trip on one CPU (syslat)
 * Built with -fno-omit-frame-pointer -fcf-protection=none.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/sdt.h>
#include <sys/wait.h>

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

__attribute__((noinline, used)) long work(long i)
{
	__asm__ volatile("" ::: "memory");
	return i * 3;
}

__attribute__((noinline, used)) long framed(long i)
{
	long r = work(i);

	__asm__ volatile("" ::: "memory");
	return r + 1;
}

static long pairs(long n)
{
	for (long i = 0; i < n; i++) {
		DTRACE_PROBE1(hlcost, start, i);
		DTRACE_PROBE1(hlcost, end, i);
	}
	return 0;
}

static long compiles(long n)
{
	static const char comp[] = "C2", klass[] = "java/lang/String",
		method[] = "hashCode", sig[] = "()I";

	for (long i = 0; i < n; i++) {
		DTRACE_PROBE8(hotspot, method__compile__begin, comp, 2L, klass,
			      16L, method, 8L, sig, 3L);
		DTRACE_PROBE9(hotspot, method__compile__end, comp, 2L, klass,
			      16L, method, 8L, sig, 3L, 1L);
	}
	return 0;
}

static long syscalls(long n)
{
	long s = 0;

	for (long i = 0; i < n; i++)
		s += syscall(SYS_getppid);
	return s;
}

/* The child echoes until its pipe closes. */
static long pingpong(long n)
{
	int there[2], back[2], status;
	char c = 'x';
	pid_t child;

	if (pipe(there) || pipe(back))
		return -1;
	child = fork();
	if (child < 0)
		return -1;
	if (!child) {
		close(there[1]);
		while (read(there[0], &c, 1) == 1)
			if (write(back[1], &c, 1) != 1)
				_exit(1);
		_exit(0);
	}
	close(there[0]);
	close(back[1]);
	for (long i = 0; i < n; i++)
		if (write(there[1], &c, 1) != 1 || read(back[0], &c, 1) != 1)
			return -1;
	close(there[1]);
	return waitpid(child, &status, 0) == child && !status ? 0 : -1;
}

static long calls(long n, long (*fn)(long))
{
	long s = 0;

	for (long i = 0; i < n; i++)
		s += fn(i);
	return s;
}

int main(int argc, char **argv)
{
	unsigned long long t0;
	long n, s;

	if (argc != 3 || (n = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: probecost pairs|compiles|calls|framed|syscalls|pingpong N\n");
		return 2;
	}
	t0 = now_ns();
	if (!strcmp(argv[1], "pairs"))
		s = pairs(n);
	else if (!strcmp(argv[1], "compiles"))
		s = compiles(n);
	else if (!strcmp(argv[1], "calls"))
		s = calls(n, work);
	else if (!strcmp(argv[1], "framed"))
		s = calls(n, framed);
	else if (!strcmp(argv[1], "syscalls"))
		s = syscalls(n);
	else if (!strcmp(argv[1], "pingpong"))
		s = pingpong(n);
	else
		return 2;
	if (s < 0) {
		perror("probecost");
		return 1;
	}
	printf("%.1f\n", (double)(now_ns() - t0) / n);
	return s == 42;
}
