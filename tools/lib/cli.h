/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Command line shared by every tool: the options below mean the same thing
 * everywhere. A tool adds its own options as an argp parser of its own.
 */
#ifndef HOWLONG_CLI_H
#define HOWLONG_CLI_H

#include <argp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "lib/common.h"

struct hl_opts {
	uint64_t interval_ns;	/* 0: one report at the end */
	uint64_t count;		/* reports to print; 0: until interrupted */
	struct filter_cfg filter;
	const char *cgroup_path;
	bool milliseconds;
	bool timestamp;
	bool json;
	bool verbose;
	const char *attach;	/* forced attach method, or NULL */
	const char *btf_path;	/* --btf FILE, or NULL */
	bool full_btf;		/* --full-btf: libbpf's own BTF loader */
	bool all_containers;	/* --all-containers: copies of the binary */
};

extern struct hl_opts hl_opts;

/* Set before parsing by a tool that attaches to user space only (markers,
 * uprobes): it then has no --attach. */
extern bool hl_cli_user_space;

/* Set before parsing by a tool that measures no task (interrupts run in
 * whichever task they interrupt): it then has no -p, -t, -c or --comm,
 * and giving one is an unknown option (exit 2). */
extern bool hl_cli_no_task;

/* More options of every tracing tool (the export options), set before
 * parsing; in a library of their own so that plain tools need no
 * libbpf. */
extern const struct argp *hl_cli_extra;

/*
 * Parse argv with the common options plus the tool's own options and parser
 * (tool may be NULL). doc is the --help text: a summary, then "\v" and the
 * EXAMPLES section. Bad input exits 2 with one line; --help and -V exit 0.
 */
void hl_parse_args(int argc, char **argv, const struct argp *tool,
		   const char *doc);

/*
 * The same for a tool that takes npos positional arguments of its own
 * before [interval [count]]: its parser gets them as ARGP_KEY_ARG with
 * state->arg_num < npos and must check at ARGP_KEY_END that all came.
 * args_doc is the synopsis, e.g. "BINARY START END [interval [count]]".
 */
void hl_parse_args_pos(int argc, char **argv, const struct argp *tool,
		       const char *doc, const char *args_doc,
		       unsigned int npos);

/*
 * For a tool that measures nothing (no BPF, none of the options above):
 * parse argv with only its own argp (options, args_doc, doc) plus -h and
 * -V, with the same conventions: bad input exits 2 with one line.
 */
void hl_parse_plain_args(int argc, char **argv, const struct argp *tool);

/* A process id given as arg for the option what: a usage error unless a
 * process (not another thread) of that id exists. */
pid_t hl_parse_pid(const char *arg, const char *what);

#endif /* HOWLONG_CLI_H */
