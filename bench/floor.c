// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * floor: load bench/floor.bpf.o, attach the programs named on the command
 * line (all of them if none is named), print "ready", wait for SIGINT or
 * SIGTERM, detach and exit. Used by bench/schedlat.py only.
 *
 *   floor OBJECT [PROGRAM...]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int wanted(const char *name, int argc, char **argv)
{
	if (argc < 3)
		return 1;
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], name))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_link *links[16] = {};
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, old;
	int n = 0, err = 1, found = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s OBJECT [PROGRAM...]\n", argv[0]);
		return 2;
	}
	/* Block the signals until we wait for them: no lost wakeup. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "floor: cannot open %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	bpf_object__for_each_program(prog, obj) {
		int on = wanted(bpf_program__name(prog), argc, argv);

		bpf_program__set_autoload(prog, on);
		found += on;
	}
	if (found != (argc < 3 ? found : argc - 2)) {
		fprintf(stderr, "floor: unknown program name\n");
		goto out;
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "floor: load failed: %s\n", strerror(errno));
		goto out;
	}
	bpf_object__for_each_program(prog, obj) {
		if (!bpf_program__autoload(prog) || n >= 16)
			continue;
		links[n] = bpf_program__attach(prog);
		if (!links[n]) {
			fprintf(stderr, "floor: attach %s failed: %s\n",
				bpf_program__name(prog), strerror(errno));
			goto out;
		}
		n++;
	}
	printf("ready\n");
	fflush(stdout);
	while (!stop)
		sigsuspend(&old);
	err = 0;
out:
	while (n--)
		bpf_link__destroy(links[n]);
	bpf_object__close(obj);
	return err;
}
