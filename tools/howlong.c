// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * howlong: which of the collection's questions can be asked on this host,
 * and why not. Every tool is judged from its own BPF object and what the
 * host has (tools/lib/verdict.c); nothing is attached.
 */
#define _GNU_SOURCE
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "catalog.h"
#include "cli.h"
#include "json.h"
#include "util.h"
#include "verdict.h"

static struct {
	const char *tool;	/* one tool in detail, or NULL: all */
	bool json;
} cfg;

static const struct argp_option options[] = {
	{ "json", 'j', NULL, 0,
	  "One JSON object per tool on stdout (see docs/json.md)", 0 },
	{}
};

static const char doc[] =
"Which of howlong's questions can be asked on this host: every tool, the "
"question it answers, and whether it works here, works another way (which), "
"or cannot (why, and what would fix it). With TOOL, that tool in detail: "
"how it would attach, the kernel tracepoints and features it needs, and the "
"programs it would time (running PostgreSQL servers, JVMs, and their "
"markers). Nothing is loaded or attached: the verdicts are reasoned from "
"each tool's own BPF object and what the kernel offers. Without root it "
"says what it could not check.\v"
"EXAMPLES:\n"
"  howlong                     # every tool, on this host\n"
"  howlong pgquerylat          # one tool in detail, with its targets\n"
"  howlong -j | jq -r 'select(.verdict != \"works\") | .tool'\n"
"\nSee howlong(8).";

static const struct hl_catalog_entry *find_tool(const char *name)
{
	for (const struct hl_catalog_entry *e = hl_catalog; e->name; e++)
		if (!strcmp(e->name, name))
			return e;
	return NULL;
}

static error_t parse(int key, char *arg, struct argp_state *state)
{
	(void)state;
	switch (key) {
	case 'j':
		cfg.json = true;
		break;
	case ARGP_KEY_ARG:
		if (cfg.tool)
			hl_usage_error("unexpected argument '%s': one TOOL at "
				       "most", arg);
		if (!find_tool(arg))
			hl_usage_error("unknown tool '%s': `howlong` lists "
				       "them", arg);
		cfg.tool = arg;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const char *yes(bool b)
{
	return b ? "yes" : "no";
}

static void print_host(const struct hl_host *h)
{
	printf("Linux %s %s: BTF %s, uprobes %s, lockdown %s\n", h->release,
	       h->machine, yes(h->btf), yes(h->uprobes),
	       h->lockdown[0] ? h->lockdown : "unknown");
	if (h->probed)
		printf("BPF features: task storage %s (in scheduler hooks %s), "
		       "attach cookies %s, atomics %s\n",
		       yes(h->f.task_storage), yes(h->sched_task_storage),
		       yes(h->f.attach_cookie), yes(h->atomics));
	else
		printf("Not root: the BPF tools need root or "
		       "CAP_BPF+CAP_PERFMON; the features they probe were not "
		       "checked\n");
}

static void print_row(const struct hl_judgement *j)
{
	printf("%-12s %-9s %s\n", j->tool->name, hl_verdict_name(j->verdict),
	       j->tool->question);
	if (j->verdict == HL_CANNOT)
		printf("%22s%s: %s\n", "", j->why, j->fix);
	for (int i = 0; i < j->nways; i++)
		printf("%22s%s\n", "", j->ways[i]);
}

static void print_targets(const struct hl_judgement *j)
{
	for (int i = 0; i < j->ntargets; i++) {
		const struct hl_target *t = &j->targets[i];

		printf("  %-14s", i ? "" : "targets:");
		if (t->pid)
			printf("process %d ", (int)t->pid);
		printf("%s: ", t->path[0] ? t->path : "(unreadable)");
		if (t->markers < 0)
			printf("markers not readable\n");
		else
			printf("%d %s marker sites\n", t->markers,
			       j->provider);
	}
}

static void print_detail(const struct hl_host *h, const struct hl_judgement *j)
{
	printf("%s: %s\n", j->tool->name, j->tool->question);
	printf("  %-14s%s\n", "verdict:", hl_verdict_name(j->verdict));
	if (j->verdict == HL_CANNOT)
		printf("  %-14s%s\n  %-14s%s\n", "why:", j->why, "fix:", j->fix);
	if (j->method)
		printf("  %-14s%s\n", "attach:", j->method);
	for (int i = 0; i < j->ntps; i++)
		printf("  %-14s%s %s\n", i ? "" : "tracepoints:",
		       j->tps[i].name, j->tps[i].found ? "found" : "MISSING");
	for (int i = 0; i < j->nways; i++)
		printf("  %-14s%s\n", i ? "" : "fallbacks:", j->ways[i]);
	print_targets(j);
	if (j->unchecked[0])
		printf("  %-14s%s\n", "not checked:", j->unchecked);
	printf("  %-14s%s\n", "privileges:", !j->needs_root ?
	       "none beyond reading the files" :
	       h->privileged ? "root or CAP_BPF+CAP_PERFMON (you have them)" :
	       "root or CAP_BPF+CAP_PERFMON (you do not have them)");
}

static void json_strings(const char *key, const char *const *v, int n)
{
	printf(",\"%s\":[", key);
	for (int i = 0; i < n; i++) {
		printf(i ? "," : "");
		hl_json_str(stdout, v[i]);
	}
	printf("]");
}

static void json_field(const char *key, const char *v)
{
	printf(",\"%s\":", key);
	if (v && v[0])
		hl_json_str(stdout, v);
	else
		printf("null");
}

static void print_json(const struct hl_host *h, const struct hl_judgement *j)
{
	const char *ways[HL_MAX_WAYS], *missing[HL_MAX_TRACEPOINTS];
	int nmissing = 0;

	hl_json_begin(stdout, "verdict", "howlong");
	json_field("name", j->tool->name);
	json_field("question", j->tool->question);
	json_field("verdict", hl_verdict_name(j->verdict));
	json_field("why", j->verdict == HL_CANNOT ? j->why : NULL);
	json_field("fix", j->verdict == HL_CANNOT ? j->fix : NULL);
	json_field("attach", j->method);
	for (int i = 0; i < j->nways; i++)
		ways[i] = j->ways[i];
	json_strings("fallbacks", ways, j->nways);
	for (int i = 0; i < j->ntps; i++)
		if (!j->tps[i].found)
			missing[nmissing++] = j->tps[i].name;
	json_strings("missing_tracepoints", missing, nmissing);
	printf(",\"targets\":[");
	for (int i = 0; i < j->ntargets; i++) {
		printf("%s{\"pid\":%d", i ? "," : "", (int)j->targets[i].pid);
		json_field("path", j->targets[i].path);
		printf(",\"markers\":%d}", j->targets[i].markers);
	}
	printf("]");
	json_field("not_checked", j->unchecked);
	printf(",\"needs_root\":%s,\"kernel\":", j->needs_root ? "true" :
	       "false");
	hl_json_str(stdout, h->release);
	printf(",\"privileged\":%s}\n", h->privileged ? "true" : "false");
}

static void judge(const struct hl_host *h, const struct hl_catalog_entry *e)
{
	struct hl_judgement *j = malloc(sizeof(*j));

	if (!j)
		hl_die("out of memory");
	hl_judge(h, e, j);
	if (cfg.json)
		print_json(h, j);
	else if (cfg.tool)
		print_detail(h, j);
	else
		print_row(j);
	free(j);
}

int main(int argc, char **argv)
{
	static const struct argp argp = {
		.options = options, .parser = parse, .doc = doc,
		.args_doc = "[TOOL]",
	};
	struct hl_host host;

	hl_tool = "howlong";
	hl_parse_plain_args(argc, argv, &argp);
	libbpf_set_print(NULL);	/* objects are opened to be read only */
	hl_host_read(&host);
	if (!cfg.json)
		print_host(&host);
	if (!cfg.json && !cfg.tool)
		printf("\n%-12s %-9s %s\n", "TOOL", "VERDICT", "QUESTION");
	for (const struct hl_catalog_entry *e = hl_catalog; e->name; e++)
		if (!cfg.tool || !strcmp(cfg.tool, e->name))
			judge(&host, e);
	if (fflush(stdout) || ferror(stdout))
		hl_die("cannot write: %s", strerror(errno));
	return 0;
}
