// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"
#include "cgroup.h"
#include "util.h"

struct hl_opts hl_opts;

static void print_version(FILE *f, struct argp_state *state)
{
	(void)state;
	fprintf(f, "%s (howlong) %s\n", hl_tool, HOWLONG_VERSION);
}

void (*argp_program_version_hook)(FILE *, struct argp_state *) =
	print_version;

#define MAX_PID 4194304ULL
#define MAX_INTERVAL_S 86400ULL
#define MAX_COUNT 1000000000ULL

enum {
	OPT_COMM = 0x100,
	OPT_ATTACH,
	OPT_BTF,
	OPT_FULL_BTF,
	OPT_ALL_CONTAINERS,
};

static const struct argp_option common_options[] = {
	{ NULL, 0, NULL, 0, "Filters (apply to the task being measured):", 1 },
	{ "pid", 'p', "PID", 0, "Only this process (all its threads)", 1 },
	{ "tid", 't', "TID", 0, "Only this thread", 1 },
	{ "cgroup", 'c', "PATH", 0,
	  "Only tasks in this cgroup v2 directory or below it "
	  "(absolute, or relative to the cgroup2 mount)", 1 },
	{ "comm", OPT_COMM, "NAME", 0, "Only tasks with this command name", 1 },
	{ "all-containers", OPT_ALL_CONTAINERS, NULL, 0,
	  "Without -p: also the running copies of the binary in containers "
	  "(same build id, another file), as found at start", 1 },
	{ NULL, 0, NULL, 0, "Output:", 2 },
	{ "milliseconds", 'm', NULL, 0, "Histogram in milliseconds, not µs", 2 },
	{ "timestamp", 'T', NULL, 0, "Print a timestamp with each report", 2 },
	{ "json", 'j', NULL, 0,
	  "JSON Lines on stdout, always in nanoseconds (see docs/json.md)", 2 },
	{ "verbose", 'v', NULL, 0,
	  "Say which attach method was chosen; show libbpf messages", 2 },
	{ NULL, 0, NULL, 0, "Kernel interface:", 3 },
	{ "attach", OPT_ATTACH, "METHOD", 0,
	  "Force one attach method: tp_btf, raw_tp or tracepoint "
	  "(default: tp_btf where the kernel BTF describes the tracepoints, "
	  "else raw_tp)", 3 },
	{ "btf", OPT_BTF, "FILE", 0,
	  "Kernel BTF to use when /sys/kernel/btf/vmlinux is missing", 3 },
	{ "full-btf", OPT_FULL_BTF, NULL, 0,
	  "Let libbpf read the kernel BTF in full (~9 MB more memory, "
	  "slower start; to compare, or if the lean reading fails)", 3 },
	{ NULL, 0, NULL, 0, "Help:", -1 },
	{ NULL, 'h', NULL, 0, "Give this help list", -1 },
	{}
};

static uint64_t parse_id(const char *what, const char *arg)
{
	uint64_t v;

	if (!hl_parse_u64(arg, 1, MAX_PID, &v))
		hl_usage_error("invalid %s '%s': expected a number from 1 to %llu",
			       what, arg, MAX_PID);
	return v;
}

/* Tgid of a task id from /proc, 0 if there is no such task. */
static uint64_t tgid_of(uint64_t id)
{
	unsigned long long tgid = 0;
	char path[64], line[128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%llu/status",
		 (unsigned long long)id);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %llu", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

pid_t hl_parse_pid(const char *arg, const char *what)
{
	uint64_t pid = parse_id(what, arg), tgid = tgid_of(pid);

	if (!tgid)
		hl_usage_error("no such process: %llu", (unsigned long long)pid);
	if (tgid != pid)
		hl_usage_error("%llu is a thread of process %llu: use -t %llu "
			       "or -p %llu", (unsigned long long)pid,
			       (unsigned long long)tgid,
			       (unsigned long long)pid,
			       (unsigned long long)tgid);
	return pid;
}

static void set_pid(const char *arg)
{
	hl_opts.filter.tgid = hl_parse_pid(arg, "PID");
}

static void set_tid(const char *arg)
{
	uint64_t tid = parse_id("TID", arg);

	/* /proc/TID resolves for any thread, though readdir hides it. */
	if (!tgid_of(tid))
		hl_usage_error("no such thread: %llu", (unsigned long long)tid);
	hl_opts.filter.tid = tid;
}

static void set_comm(const char *arg)
{
	if (!*arg || strlen(arg) >= COMM_LEN)
		hl_usage_error("invalid command name '%s': 1 to %d characters",
			       arg, COMM_LEN - 1);
	strcpy(hl_opts.filter.comm, arg);
	hl_opts.filter.has_comm = 1;
}

static void set_attach(const char *arg)
{
	if (strcmp(arg, "tp_btf") && strcmp(arg, "raw_tp") &&
	    strcmp(arg, "tracepoint"))
		hl_usage_error("invalid attach method '%s': expected tp_btf, "
			       "raw_tp or tracepoint", arg);
	hl_opts.attach = arg;
}

static void set_btf(const char *arg)
{
	if (access(arg, R_OK))
		hl_usage_error("cannot read BTF file '%s'", arg);
	hl_opts.btf_path = arg;
}

/* Leading positional arguments the tool takes itself (usdtlat's binary
 * and markers); interval and count follow them. */
static unsigned int tool_positionals, positionals_seen;

static void set_positional(unsigned int n, const char *arg)
{
	uint64_t v;

	if (n == 0) {
		if (!hl_parse_u64(arg, 1, MAX_INTERVAL_S, &v))
			hl_usage_error("invalid interval '%s': expected whole "
				       "seconds from 1 to %llu", arg,
				       MAX_INTERVAL_S);
		hl_opts.interval_ns = v * 1000000000ULL;
	} else if (n == 1) {
		if (!hl_parse_u64(arg, 1, MAX_COUNT, &v))
			hl_usage_error("invalid count '%s': expected a number "
				       "from 1 to %llu", arg, MAX_COUNT);
		hl_opts.count = v;
	} else {
		hl_usage_error("unexpected argument '%s': usage is "
			       "[interval [count]]", arg);
	}
}

static void check_combinations(void)
{
	uint64_t id;
	uint32_t level;

	if (hl_opts.all_containers && hl_opts.filter.tgid)
		hl_usage_error("--all-containers and -p/-t exclude each other: "
			       "-p names one process, in a container or not");
	if (hl_opts.cgroup_path) {
		if (hl_cgroup_lookup(hl_opts.cgroup_path, &id, &level))
			hl_usage_error("invalid cgroup '%s': not a cgroup v2 "
				       "directory", hl_opts.cgroup_path);
		hl_opts.filter.cgroup_id = id;
		hl_opts.filter.cgroup_level = level;
	}
}

static error_t parse_common(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'p': set_pid(arg); break;
	case 't': set_tid(arg); break;
	case 'c': hl_opts.cgroup_path = arg; break;
	case OPT_COMM: set_comm(arg); break;
	case 'm': hl_opts.milliseconds = true; break;
	case 'T': hl_opts.timestamp = true; break;
	case 'j': hl_opts.json = true; break;
	case 'v': hl_opts.verbose = true; break;
	case OPT_ATTACH: set_attach(arg); break;
	case OPT_BTF: set_btf(arg); break;
	case OPT_FULL_BTF: hl_opts.full_btf = true; break;
	case OPT_ALL_CONTAINERS: hl_opts.all_containers = true; break;
	case 'h': argp_state_help(state, stdout, ARGP_HELP_STD_HELP); break;
	case ARGP_KEY_ARG:
		/* argp numbers arguments per parser (state->arg_num): count
		 * them all here, where each one comes first. */
		if (positionals_seen++ < tool_positionals)
			return ARGP_ERR_UNKNOWN;
		set_positional(positionals_seen - 1 - tool_positionals, arg);
		break;
	case ARGP_KEY_END: check_combinations(); break;
	default: return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/*
 * getopt prints "unrecognized option" to stderr itself; argp then writes a
 * pointer to --help to err_stream, as it does after each argp_error()
 * line ("PROG: message"). Keep only the lines that start with the
 * program's name, whatever language the rest is in: one line per error.
 */
struct line_filter {
	char line[512];
	size_t len;
};

static bool is_error_line(const char *line)
{
	size_t n = strlen(program_invocation_short_name);

	return !strncmp(line, program_invocation_short_name, n) &&
	       !strncmp(line + n, ": ", 2);
}

static ssize_t filter_write(void *cookie, const char *buf, size_t len)
{
	struct line_filter *lf = cookie;

	for (size_t i = 0; i < len; i++) {
		if (lf->len < sizeof(lf->line) - 1)
			lf->line[lf->len++] = buf[i];
		if (buf[i] != '\n')
			continue;
		lf->line[lf->len] = '\0';
		if (is_error_line(lf->line))
			fputs(lf->line, stderr);
		lf->len = 0;
	}
	return len;
}

static FILE *error_stream(void)
{
	static struct line_filter lf;
	cookie_io_functions_t io = { .write = filter_write };

	return fopencookie(&lf, "w", io);
}

static error_t parse_init(int key, char *arg, struct argp_state *state)
{
	(void)arg;
	if (key == ARGP_KEY_INIT) {
		FILE *f = error_stream();

		if (f)
			state->err_stream = f;
	}
	return ARGP_ERR_UNKNOWN;
}

static bool tool_has_key(const struct argp *tool, int key)
{
	for (const struct argp_option *o = tool ? tool->options : NULL;
	     o && (o->name || o->key || o->doc); o++)
		if (o->key == key)
			return true;
	return false;
}

bool hl_cli_user_space;
bool hl_cli_no_task;
const struct argp *hl_cli_extra;

/* Common options minus those whose key the tool redefines, minus
 * --attach for a tool that attaches to user space only: it has no
 * kernel-side methods to choose from, and minus the task filters (group
 * 1) for a tool that measures no task. */
static const struct argp_option *common_for(const struct argp *tool)
{
	static struct argp_option opts[sizeof(common_options) /
					sizeof(*common_options)];
	size_t n = 0;

	for (const struct argp_option *o = common_options;
	     o->name || o->key || o->doc; o++) {
		if (o->key == OPT_ATTACH && hl_cli_user_space)
			continue;
		if (o->key == OPT_ALL_CONTAINERS && !hl_cli_user_space)
			continue;
		if (o->group == 1 && hl_cli_no_task)
			continue;
		if (!o->key || !tool_has_key(tool, o->key))
			opts[n++] = *o;
	}
	return opts;
}

void hl_parse_args(int argc, char **argv, const struct argp *tool,
		   const char *doc)
{
	hl_parse_args_pos(argc, argv, tool, doc, NULL, 0);
}

void hl_parse_args_pos(int argc, char **argv, const struct argp *tool,
		       const char *doc, const char *args_doc,
		       unsigned int npos)
{
	struct argp common = {
		.options = common_for(tool), .parser = parse_common,
	};
	struct argp_child children[4] = { { &common, 0, NULL, 0 } };
	int n = 1;
	struct argp argp = {
		.parser = parse_init,
		.args_doc = args_doc ? args_doc : "[interval [count]]",
		.doc = doc,
		.children = children,
	};

	if (hl_cli_extra)
		children[n++].argp = hl_cli_extra;
	if (tool)
		children[n++].argp = tool;
	tool_positionals = npos;
	argp_err_exit_status = HL_EXIT_USAGE;
	argv[0] = (char *)hl_tool;	/* getopt's messages name the tool */
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		exit(HL_EXIT_USAGE);
}

static const struct argp_option help_options[] = {
	{ NULL, 0, NULL, 0, "Help:", -1 },
	{ NULL, 'h', NULL, 0, "Give this help list", -1 },
	{}
};

static error_t parse_help(int key, char *arg, struct argp_state *state)
{
	if (key != 'h')
		return parse_init(key, arg, state);
	argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
	return 0;
}

void hl_parse_plain_args(int argc, char **argv, const struct argp *tool)
{
	struct argp_child children[] = { { tool, 0, NULL, 0 }, {} };
	struct argp argp = {
		.options = help_options,
		.parser = parse_help,
		.children = children,
	};

	argp_err_exit_status = HL_EXIT_USAGE;
	argv[0] = (char *)hl_tool;
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		exit(HL_EXIT_USAGE);
}
