// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * usdtlist: what can I time here? The USDT markers (sys/sdt.h) of a
 * binary, a library or every file a process maps, with their arguments
 * decoded and whether libbpf 1.1 can attach them. It reads ELF notes and
 * nothing else: no BPF, no privileges beyond reading the files.
 */
#define _GNU_SOURCE
#include <argp.h>
#include <elf.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "json.h"
#include "target.h"
#include "usdt.h"
#include "util.h"

#define MAX_PID 4194304ULL	/* PID_MAX_LIMIT */

static struct {
	const char *pos[2];	/* positionals: [BINARY] [PROVIDER:NAME] */
	int npos;
	pid_t pid;
	const char *file;
	const char *glob;	/* as given, for messages */
	char *provider_glob;	/* NULL: any provider */
	const char *name_glob;
	bool json;
} cfg;

/* One provider:name of one object: all its sites. */
struct marker {
	const struct hl_usdt *first;	/* the first site in note order */
	size_t nsites;
	size_t variants;		/* distinct argument strings */
	const struct hl_usdt *bad;	/* the first site libbpf cannot read */
	const char *why;		/* and why */
	struct hl_usdt_arg bad_arg;
	int bad_index;
};

static const struct argp_option options[] = {
	{ "pid", 'p', "PID", 0,
	  "Every file this process maps (executable, libraries)", 0 },
	{ "json", 'j', NULL, 0,
	  "One JSON object per marker on stdout (see docs/json.md)", 0 },
	{}
};

static const char doc[] =
"List the USDT markers (sys/sdt.h) of a binary, a library or a running "
"process: provider, name, number of sites, each argument's type and "
"location, semaphore, and whether libbpf 1.1 can attach the marker. "
"PROVIDER:NAME is a glob (fnmatch); NAME alone matches any provider. "
"Needs no privileges beyond reading the files.\v"
"EXAMPLES:\n"
"  usdtlist /usr/lib/postgresql/15/bin/postgres\n"
"  usdtlist /usr/lib/postgresql/15/bin/postgres 'postgresql:query__*'\n"
"  usdtlist -p $(pgrep -o java) 'hotspot:gc__*'\n"
"  usdtlist -j /usr/bin/python3.11 | jq -r .name\n"
"\nSee usdtlist(8).";

static void set_glob(const char *glob)
{
	const char *colon = strchr(glob, ':');

	cfg.glob = glob;
	if (!colon) {
		cfg.name_glob = glob;
	} else {
		cfg.provider_glob = strndup(glob, colon - glob);
		if (!cfg.provider_glob)
			hl_die("out of memory");
		cfg.name_glob = colon + 1;
	}
	if (!*cfg.name_glob || (cfg.provider_glob && !*cfg.provider_glob) ||
	    strchr(cfg.name_glob, ':'))
		hl_usage_error("invalid marker pattern '%s': expected "
			       "PROVIDER:NAME or NAME (globs allowed)", glob);
}

static error_t parse(int key, char *arg, struct argp_state *state)
{
	uint64_t v;

	(void)state;
	switch (key) {
	case 'p':
		if (!hl_parse_u64(arg, 1, MAX_PID, &v))
			hl_usage_error("invalid PID '%s': expected a number "
				       "from 1 to %llu", arg, MAX_PID);
		cfg.pid = v;
		break;
	case 'j':
		cfg.json = true;
		break;
	case ARGP_KEY_ARG:
		if (cfg.npos == 2)
			hl_usage_error("unexpected argument '%s': usage is "
				       "BINARY [PROVIDER:NAME] or -p PID "
				       "[PROVIDER:NAME]", arg);
		cfg.pos[cfg.npos++] = arg;
		break;
	case ARGP_KEY_END:
		/* -p may come after the positionals: sort them out here */
		if (cfg.pid && cfg.npos == 2)
			hl_usage_error("unexpected argument '%s': -p PID takes "
				       "no BINARY", cfg.pos[0]);
		if (!cfg.pid && !cfg.npos)
			hl_usage_error("nothing to list: give a BINARY or "
				       "LIBRARY, or -p PID");
		if (!cfg.pid)
			cfg.file = cfg.pos[0];
		if (cfg.npos > !cfg.pid)
			set_glob(cfg.pos[cfg.npos - 1]);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static bool wanted(const struct hl_usdt *s)
{
	return !cfg.glob ||
	       ((!cfg.provider_glob ||
		 !fnmatch(cfg.provider_glob, s->provider, 0)) &&
		!fnmatch(cfg.name_glob, s->name, 0));
}

/* Sites of one marker together, in note order within it. */
static int by_marker(const void *a, const void *b)
{
	const struct hl_usdt *x = *(const struct hl_usdt *const *)a;
	const struct hl_usdt *y = *(const struct hl_usdt *const *)b;
	int c = strcmp(x->provider, y->provider);

	if (!c)
		c = strcmp(x->name, y->name);
	return c ? c : (x > y) - (x < y);
}

static int by_args(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sum up the n sites of one marker; args is scratch room for n. */
static void summarize(struct marker *m, const struct hl_usdt *const *sites,
		      size_t n, const char **args, bool judge)
{
	memset(m, 0, sizeof(*m));
	m->first = sites[0];
	m->nsites = n;
	for (size_t i = 0; i < n; i++) {
		args[i] = sites[i]->args;
		/* one site libbpf cannot read fails the attach of all */
		if (judge && !m->why) {
			m->why = hl_usdt_args_problem(sites[i]->args,
						      &m->bad_arg,
						      &m->bad_index);
			if (m->why)
				m->bad = sites[i];
		}
	}
	qsort(args, n, sizeof(*args), by_args);
	for (size_t i = 0; i < n; i++)
		m->variants += !i || strcmp(args[i], args[i - 1]);
}

static const char *const kind_names[] = {
	[HL_USDT_ARG_REG] = "reg", [HL_USDT_ARG_MEM] = "mem",
	[HL_USDT_ARG_CONST] = "const", [HL_USDT_ARG_OTHER] = "other",
};

/* A JSON string of len bytes at s (a piece of a site's args). */
static void json_strn(const char *s, int len)
{
	char *copy = strndup(s, len);

	if (!copy)
		hl_die("out of memory");
	hl_json_str(stdout, copy);
	free(copy);
}

static void json_arg(const struct hl_usdt_arg *a)
{
	fputs("{\"spec\":", stdout);
	json_strn(a->spec, a->spec_len);
	printf(",\"type\":\"%s\",\"size\":%d,\"signed\":%s,\"float\":%s,"
	       "\"kind\":\"%s\",\"location\":", hl_usdt_arg_type(a), a->size,
	       a->is_signed ? "true" : "false",
	       a->is_float ? "true" : "false", kind_names[a->kind]);
	json_strn(a->loc, a->loc_len);
	fputs(",\"register\":", stdout);
	if (a->kind == HL_USDT_ARG_REG || a->kind == HL_USDT_ARG_MEM)
		hl_json_str(stdout, a->reg);
	else
		fputs("null", stdout);
	if (a->kind == HL_USDT_ARG_MEM)
		printf(",\"offset\":%lld", (long long)a->val);
	else
		fputs(",\"offset\":null", stdout);
	if (a->kind == HL_USDT_ARG_CONST && a->is_signed)
		printf(",\"value\":%lld}", (long long)a->val);
	else if (a->kind == HL_USDT_ARG_CONST)
		printf(",\"value\":%llu}", (unsigned long long)a->val);
	else
		fputs(",\"value\":null}", stdout);
}

static void print_json(const char *object, const struct marker *m,
		       const struct hl_usdt *const *sites, bool judge)
{
	const char *p = m->first->args;
	struct hl_usdt_arg a;
	int i = 0;

	hl_json_begin(stdout, "marker", "usdtlist");
	fputs(",\"object\":", stdout);
	hl_json_str(stdout, object);
	if (cfg.pid)
		printf(",\"pid\":%d", (int)cfg.pid);
	else
		fputs(",\"pid\":null", stdout);
	fputs(",\"provider\":", stdout);
	hl_json_str(stdout, m->first->provider);
	fputs(",\"name\":", stdout);
	hl_json_str(stdout, m->first->name);
	printf(",\"sites\":%zu,\"addresses\":[", m->nsites);
	for (size_t k = 0; k < m->nsites; k++)
		printf("%s%llu", k ? "," : "",
		       (unsigned long long)sites[k]->pc);
	if (m->first->semaphore)
		printf("],\"semaphore\":%llu",
		       (unsigned long long)m->first->semaphore);
	else
		fputs("],\"semaphore\":null", stdout);
	printf(",\"arg_variants\":%zu,\"args\":[", m->variants);
	while (hl_usdt_arg_next(&p, &a)) {
		fputs(i++ ? "," : "", stdout);
		json_arg(&a);
	}
	fputs("],\"attachable\":", stdout);
	if (!judge) {
		fputs("null,\"problem\":null}\n", stdout);
		return;
	}
	if (!m->bad) {
		fputs("true,\"problem\":null}\n", stdout);
		return;
	}
	printf("false,\"problem\":{\"address\":%llu,\"arg\":%d,\"spec\":",
	       (unsigned long long)m->bad->pc, m->bad_index);
	json_strn(m->bad_arg.spec, m->bad_arg.spec_len);
	fputs(",\"reason\":", stdout);
	hl_json_str(stdout, m->why);
	fputs("}}\n", stdout);
}

/* "int32 arg0 in %r14d", "uint64 arg1 at -8(%rbp)", "int64 arg2 = 5" */
static void print_arg(int i, const struct hl_usdt_arg *a)
{
	printf("    %s arg%d ", hl_usdt_arg_type(a), i);
	/* the value the BPF program reads: "1@$-56" is 200 in a uint8 */
	if (a->kind == HL_USDT_ARG_CONST && a->is_signed)
		printf("= %lld\n", (long long)a->val);
	else if (a->kind == HL_USDT_ARG_CONST)
		printf("= %llu\n", (unsigned long long)a->val);
	else if (a->kind == HL_USDT_ARG_REG)
		printf("in %.*s\n", a->loc_len, a->loc);
	else if (memchr(a->loc, '(', a->loc_len))
		printf("at %.*s\n", a->loc_len, a->loc);
	else	/* garbage: quoted, so that even "" shows */
		printf("as '%.*s'\n", a->loc_len, a->loc);
}

static void print_text(const struct marker *m, bool judge)
{
	const char *p = m->first->args;
	struct hl_usdt_arg a;
	int i = 0;

	printf("  %s:%s: %zu site%s", m->first->provider, m->first->name,
	       m->nsites, m->nsites == 1 ? "" : "s");
	if (m->variants > 1)
		printf(" (%zu argument variants, the first shown)",
		       m->variants);
	if (m->first->semaphore)
		printf(", semaphore 0x%llx",
		       (unsigned long long)m->first->semaphore);
	else
		fputs(", no semaphore", stdout);
	if (!judge)
		fputs(", attachable: cannot judge (not x86-64)\n", stdout);
	else if (!m->bad)
		fputs(", attachable\n", stdout);
	else
		printf(", NOT attachable by libbpf 1.1: site 0x%llx arg%d "
		       "%.*s: %s\n", (unsigned long long)m->bad->pc,
		       m->bad_index, m->bad_arg.spec_len, m->bad_arg.spec,
		       m->why);
	while (hl_usdt_arg_next(&p, &a))
		print_arg(i++, &a);
	if (!i)
		puts("    (no arguments)");
}

/* Print the markers of one object that match; how many did. */
static size_t print_object(const char *object, const struct hl_usdt_list *l)
{
	const struct hl_usdt **sites;
	const char **args;
	struct marker m;
	size_t n = 0, shown = 0;
	/* libbpf's x86 argument grammar is modelled for x86-64 files */
#ifdef __x86_64__
	bool judge = l->machine == EM_X86_64;
#else
	bool judge = false;
#endif

	sites = calloc(l->n, sizeof(*sites));
	args = calloc(l->n, sizeof(*args));
	if (!sites || !args)
		hl_die("out of memory for %zu marker sites", l->n);
	for (size_t i = 0; i < l->n; i++)
		if (wanted(&l->sites[i]))
			sites[n++] = &l->sites[i];
	qsort(sites, n, sizeof(*sites), by_marker);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n &&
		     !strcmp(sites[j]->name, sites[i]->name) &&
		     !strcmp(sites[j]->provider, sites[i]->provider); j++)
			;
		summarize(&m, sites + i, j - i, args, judge);
		if (cfg.json) {
			print_json(object, &m, sites + i, judge);
		} else {
			if (!shown)
				printf("%s\n", object);
			print_text(&m, judge);
		}
		shown++;
	}
	free(sites);
	free(args);
	return shown;
}

static int list_file(const char *path)
{
	struct hl_usdt_list l;
	size_t shown, sites;

	hl_usdt_read_or_die(path, &l);
	sites = l.n;
	shown = sites ? print_object(path, &l) : 0;
	hl_usdt_free(&l);
	fflush(stdout);
	if (!sites)
		hl_warn("%s has no USDT markers", path);
	else if (!shown)
		hl_warn("no marker matches '%s' in %s (%zu sites)", cfg.glob,
			path, sites);
	return HL_EXIT_OK;
}

static int list_process(pid_t pid)
{
	struct hl_mapped_file *files;
	const char *unread = NULL;
	size_t sites = 0, shown = 0;
	int n, err, nunread = 0, unread_err = 0;
	struct hl_usdt_list l;

	n = hl_target_mapped_files(pid, &files);
	if (n == -ESRCH)
		hl_die("no such process: %d", (int)pid);
	if (n == -EACCES)
		hl_die("cannot read /proc/%d/maps: %s (run as root or as the "
		       "process's user)", (int)pid, strerror(-n));
	if (n < 0)
		hl_die("cannot read /proc/%d/maps: %s", (int)pid,
		       strerror(-n));
	for (int i = 0; i < n; i++) {
		err = files[i].path ? hl_usdt_read(files[i].path, &l) :
				      files[i].err;
		/* data files (locale archives, fonts) are no concern */
		if (err == -ENOEXEC || err == -EISDIR)
			continue;
		if (err) {
			if (!nunread++) {
				unread = files[i].name;
				unread_err = err;
			}
			continue;
		}
		sites += l.n;
		shown += print_object(files[i].name, &l);
		hl_usdt_free(&l);
	}
	fflush(stdout);
	/* one line for all the files we could not read, not one each */
	if (nunread)
		hl_warn("could not read %d of the %d files process %d maps "
			"(first %s: %s)%s", nunread, n, (int)pid, unread,
			unread_err == -EBADMSG ? "corrupt ELF file" :
			strerror(-unread_err), unread_err == -EPERM ||
			unread_err == -EACCES ? "; run as root" : "");
	if (!sites)
		hl_warn("process %d has no USDT markers in the %d files it "
			"maps", (int)pid, n);
	else if (!shown)
		hl_warn("no marker matches '%s' in process %d (%zu sites)",
			cfg.glob, (int)pid, sites);
	hl_target_mapped_free(files, n);
	return HL_EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct argp argp = {
		.options = options, .parser = parse, .doc = doc,
		.args_doc = "BINARY|LIBRARY [PROVIDER:NAME]\n"
			    "-p PID [PROVIDER:NAME]",
	};
	int rc;

	hl_tool = "usdtlist";
	hl_parse_plain_args(argc, argv, &argp);
	rc = cfg.pid ? list_process(cfg.pid) : list_file(cfg.file);
	free(cfg.provider_glob);
	if (fflush(stdout) || ferror(stdout))
		hl_die("cannot write the list: %s", strerror(errno));
	return rc;
}
