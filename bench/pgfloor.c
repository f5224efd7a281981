// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pgfloor: load bench/pgfloor.bpf.o and attach each PROGRAM to the USDT
 * marker PROVIDER:MARKER of BINARY, by path and for every process (pid -1),
 * as pgquerylat does; print "ready", wait for SIGINT or SIGTERM, detach and
 * exit. Used by bench/pgquerylat.py only.
 *
 *   pgfloor OBJECT BINARY PROGRAM=PROVIDER:MARKER...
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "floorlib.h"

#define MAX_LINKS 16

/* "prog=provider:marker" -> the three parts, in place. */
static int split(char *spec, char **prog, char **provider, char **marker)
{
	char *eq = strchr(spec, '='), *colon;

	if (!eq)
		return -1;
	colon = strchr(eq + 1, ':');
	if (!colon || eq == spec || colon == eq + 1 || !colon[1])
		return -1;
	*eq = *colon = '\0';
	*prog = spec;
	*provider = eq + 1;
	*marker = colon + 1;
	return 0;
}

int main(int argc, char **argv)
{
	char *prog_name[MAX_LINKS], *provider[MAX_LINKS], *marker[MAX_LINKS];
	struct bpf_link *links[MAX_LINKS] = {};
	struct bpf_program *prog;
	struct bpf_object *obj;
	sigset_t old;
	int nspec = argc - 3, n = 0, err = 1;

	if (argc < 4 || nspec > MAX_LINKS) {
		fprintf(stderr, "usage: %s OBJECT BINARY "
			"PROGRAM=PROVIDER:MARKER...\n", argv[0]);
		return 2;
	}
	for (int i = 0; i < nspec; i++)
		if (split(argv[i + 3], &prog_name[i], &provider[i],
			  &marker[i])) {
			fprintf(stderr, "pgfloor: bad spec '%s'\n", argv[i + 3]);
			return 2;
		}
	obj = floor_open("pgfloor", argv[1], &old);
	if (!obj)
		return 1;
	/* Load only the programs named. */
	bpf_object__for_each_program(prog, obj) {
		int on = 0;

		for (int i = 0; i < nspec; i++)
			on |= !strcmp(bpf_program__name(prog), prog_name[i]);
		bpf_program__set_autoload(prog, on);
	}
	for (int i = 0; i < nspec; i++)
		if (!bpf_object__find_program_by_name(obj, prog_name[i])) {
			fprintf(stderr, "pgfloor: no program '%s' in %s\n",
				prog_name[i], argv[1]);
			goto out;
		}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "pgfloor: load failed: %s\n", strerror(errno));
		goto out;
	}
	for (int i = 0; i < nspec; i++) {
		prog = bpf_object__find_program_by_name(obj, prog_name[i]);
		links[n] = bpf_program__attach_usdt(prog, -1, argv[2],
						    provider[i], marker[i],
						    NULL);
		if (!links[n]) {
			fprintf(stderr, "pgfloor: attach %s to %s:%s of %s "
				"failed: %s\n", prog_name[i], provider[i],
				marker[i], argv[2], strerror(errno));
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
