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
#include "floorlib.h"

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
	sigset_t old;
	int n = 0, err = 1, found = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s OBJECT [PROGRAM...]\n", argv[0]);
		return 2;
	}
	obj = floor_open("floor", argv[1], &old);
	if (!obj)
		return 1;
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
	floor_wait(&old);
	err = 0;
out:
	floor_close(links, n, obj);
	return err;
}
