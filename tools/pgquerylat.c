// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pgquerylat: how long do PostgreSQL statements take, seen from inside the
 * server? The measurement is in progs/pgquerylat.bpf.c.
 */
#include <argp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include "lib/common.h"
#include "pgquerylat.h"
#include "pgquerylat.skel.h"
#include "attach.h"
#include "cli.h"
#include "kfeatures.h"
#include "hist_maps.h"
#include "json.h"
#include "owner.h"
#include "pg.h"
#include "report.h"
#include "sqlnorm.h"
#include "top.h"
#include "tracer.h"
#include "usdt.h"
#include "util.h"
#include "watch.h"

#define PROVIDER "postgresql"
#define TOP_ROWS_KEPT 5000

static int attach_markers(struct pgquerylat_bpf *skel);
HL_SKEL_OPS(pgquerylat_bpf, 1U << HL_USDT, attach_markers);

static struct {
	const char *bin;
	char path[PATH_MAX];
	bool classic, raw_text, per_db, per_user, phases;
	const char *db, *user;		/* --db, --user filters */
	bool has_threshold;
	uint64_t threshold_ns;
	uint64_t top;
	__u32 postmaster, backend, server;
	uint64_t seen[PG_COUNTERS];
	struct pgquerylat_bpf *skel;
} cfg;

enum {
	OPT_BIN = 0x300, OPT_CLASSIC, OPT_TOP, OPT_RAW, OPT_DB, OPT_USER,
	OPT_PER_DB, OPT_PER_USER, OPT_PHASES, OPT_SERVER,
};

/* --phases: marker pairs, in enum pg_phase order from PG_PHASE_PARSE. */
static const char *const phase_names[PG_PHASES] = {
	"", "parse", "rewrite", "plan", "execute", "lock wait",
};
static const char *const phase_markers[PG_PHASES][2] = {
	{ NULL, NULL },
	{ "query__parse__start", "query__parse__done" },
	{ "query__rewrite__start", "query__rewrite__done" },
	{ "query__plan__start", "query__plan__done" },
	{ "query__execute__start", "query__execute__done" },
	{ "lock__wait__start", "lock__wait__done" },
};

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "PostgreSQL:", 4 },
	{ "server", OPT_SERVER, "PID", 0,
	  "Only the backends of this server (its postmaster's pid); every "
	  "postgres of the same binary takes the traps (-p: one backend, "
	  "which alone does)", 4 },
	{ "bin", OPT_BIN, "PATH", 0,
	  "postgres binary (default: from -p or --server, a running "
	  "postmaster, or pg_config --bindir)", 4 },
	{ "threshold", 'M', "MS", 0,
	  "Print each statement slower than MS milliseconds", 4 },
	{ "top", OPT_TOP, "N", 0,
	  "Table of the N statements with the most total time", 4 },
	{ "per-db", OPT_PER_DB, NULL, 0, "One histogram per database", 4 },
	{ "per-user", OPT_PER_USER, NULL, 0, "One histogram per user", 4 },
	{ "phases", OPT_PHASES, NULL, 0,
	  "One histogram per phase: parse, rewrite, plan, execute (outermost "
	  "only) and heavyweight lock waits", 4 },
	{ "db", OPT_DB, "NAME", 0, "Only backends of this database", 4 },
	{ "user", OPT_USER, "NAME", 0, "Only backends of this user", 4 },
	{ "raw-text", OPT_RAW, NULL, 0,
	  "Print statement text as sent, literals included (default: "
	  "literals become $n placeholders)", 4 },
	{ "classic", OPT_CLASSIC, NULL, 0,
	  "Time query__start to query__done: simple protocol only", 4 },
	{}
};

static error_t parse(int key, char *arg, struct argp_state *state)
{
	(void)state;
	switch (key) {
	case OPT_BIN: cfg.bin = arg; break;
	case OPT_SERVER:
		cfg.server = hl_parse_pid(arg, "--server");
		break;
	case OPT_CLASSIC: cfg.classic = true; break;
	case OPT_RAW: cfg.raw_text = true; break;
	case OPT_PER_DB: cfg.per_db = true; break;
	case OPT_PER_USER: cfg.per_user = true; break;
	case OPT_PHASES: cfg.phases = true; break;
	case OPT_DB: cfg.db = arg; break;
	case OPT_USER: cfg.user = arg; break;
	case 'M':
		cfg.threshold_ns = hl_parse_ms(arg, "threshold");
		cfg.has_threshold = true;
		break;
	case OPT_TOP:
		if (!hl_parse_u64(arg, 1, 100000, &cfg.top))
			hl_usage_error("invalid --top '%s': expected a number "
				       "from 1 to 100000", arg);
		break;
	case ARGP_KEY_END:
		if (cfg.has_threshold + !!cfg.top + cfg.per_db +
		    cfg.per_user + cfg.phases > 1)
			hl_usage_error("-M, --top, --per-db, --per-user and "
				       "--phases exclude each other");
		if (cfg.phases && (cfg.classic || cfg.db || cfg.user))
			hl_usage_error("--phases goes with neither --classic "
				       "nor --db/--user");
		break;
	default: return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const char doc[] =
"Summarize PostgreSQL statement latency, from the moment a backend goes "
"active to the moment it goes idle again (simple and extended protocol, "
"failed statements too), using the server's own USDT markers: no "
"extension, no configuration change, no restart.\v"
"EXAMPLES:\n"
"  pgquerylat                # histogram of every statement until Ctrl-C\n"
"  pgquerylat 1 10           # ten one-second histograms\n"
"  pgquerylat --server 812   # the backends of one server (postmaster)\n"
"  pgquerylat -p 4242        # one backend\n"
"  pgquerylat -M 100         # print statements slower than 100 ms\n"
"  pgquerylat --top 10 5     # top 10 statements by total time, every 5 s\n"
"  pgquerylat -P 5 1         # one histogram per backend\n"
"  pgquerylat --phases       # parse, plan, execute and lock waits\n"
"  pgquerylat -j -M 50       # slow statements as JSON Lines\n"
"  pgquerylat --bin /usr/lib/postgresql/15/bin/postgres\n"
"\nStatement text has literals replaced by $n unless --raw-text. See "
"pgquerylat(8).";

static bool events_mode(void)
{
	return cfg.has_threshold || cfg.top;
}

/* Histograms are kept per backend in BPF whenever user space has to sort
 * backends by their process title (database, user). */
static bool keyed(void)
{
	return cfg.per_db || cfg.per_user || cfg.db || cfg.user ||
	       cfg.phases;
}

static const struct hl_marker_prog markers[] = {
	{ "status_", PROVIDER, "statement__status" },
	{ "query_start_", PROVIDER, "query__start" },
	{ "query_done_", PROVIDER, "query__done" },
	{ "xact_abort", PROVIDER, "transaction__abort" },
	{ "exec_start", PROVIDER, "query__execute__start" },
	{}
};

/* The statement text is read by the "_ev" programs where the kernel can
 * fault its pages in, by their "_evr" twins elsewhere. */
static const char *events_suffix(void)
{
	return hl_kernel_has_kfunc("bpf_copy_from_user_str") ? "_ev" : "_evr";
}

static bool sleepable(const char *name)
{
	size_t len = strlen(name);

	return len > 3 && !strcmp(name + len - 3, "_ev");
}

static void select_programs(struct bpf_object *obj)
{
	const char *skip = cfg.classic ? "status_" : "query_";
	struct bpf_program *prog;

	hl_select_programs(obj, HL_USDT, events_mode() ? events_suffix() :
			   "_hist");
	bpf_object__for_each_program(prog, obj) {
		const char *name = bpf_program__name(prog);

		if (!strncmp(name, "phase_", 6) || cfg.phases) {
			bpf_program__set_autoload(prog, cfg.phases &&
						  !strncmp(name, "phase_", 6));
			continue;
		}
		if (!strcmp(name, "xact_abort"))
			bpf_program__set_autoload(prog, true);
		/* --classic's query__start never fires for a lone Parse. */
		if (!strcmp(name, "exec_start"))
			bpf_program__set_autoload(prog, !cfg.classic);
		if (!strncmp(name, skip, strlen(skip)))
			bpf_program__set_autoload(prog, false);
		/* Sleepable: bpf_copy_from_user_str may fault pages in. */
		if (bpf_program__autoload(prog) && sleepable(name))
			bpf_program__set_flags(prog, BPF_F_SLEEPABLE);
	}
}

static int prepare(void *s, enum hl_method m, void *ctx)
{
	struct pgquerylat_bpf *skel = s;

	(void)m;
	(void)ctx;
	skel->rodata->filter_cfg = hl_opts.filter;
	skel->rodata->owner_mode = hl_owner;
	skel->rodata->have_task_storage = hl_tstore_setup(skel->obj);
	skel->rodata->key_mode = keyed() ? PG_KEY_PID : PG_KEY_NONE;
	skel->rodata->postmaster_pid = cfg.postmaster;
	skel->rodata->backend_pid = cfg.backend;
	skel->rodata->threshold_ns = cfg.top ? 0 : cfg.threshold_ns;
	skel->rodata->want_titles = cfg.per_db || cfg.per_user || cfg.db ||
				    cfg.user;
	skel->rodata->need_execute = !cfg.classic;
	select_programs(skel->obj);
	bpf_map__set_autocreate(skel->maps.events, events_mode());
	return hl_hist_maps_size(skel->obj, keyed());
}

static int attach_one(struct bpf_program *prog, const char *marker,
		      __u64 cookie)
{
	LIBBPF_OPTS(bpf_usdt_opts, opts, .usdt_cookie = cookie);
	struct bpf_link *link;

	link = bpf_program__attach_usdt(prog, hl_marker_pid(cfg.backend),
					cfg.path, PROVIDER, marker, &opts);
	if (!link)
		return -errno;
	hl_keep_link(link);
	return 0;
}

/* Each phase's start and done markers share two programs; the cookie
 * tells them which phase fired. */
static int attach_phases(struct pgquerylat_bpf *skel)
{
	int err = 0;

	for (int p = PG_PHASE_PARSE; p < PG_PHASES && !err; p++) {
		err = attach_one(skel->progs.phase_begin, phase_markers[p][0], p);
		if (!err)
			err = attach_one(skel->progs.phase_end,
					 phase_markers[p][1], p);
	}
	return err;
}

/* Markers need the binary's path: attach each loaded program to its own. */
static int attach_markers(struct pgquerylat_bpf *skel)
{
	if (cfg.phases)
		return attach_phases(skel);
	return hl_attach_markers(skel->obj, cfg.path, markers, cfg.backend);
}

static void check_markers(void)
{
	struct hl_usdt_list l;
	const char *needed[] = {
		cfg.classic ? "query__start" : "statement__status",
		cfg.classic ? "query__done" : "query__execute__start",
		"transaction__abort",
	};

	hl_usdt_read_or_die(cfg.path, &l);
	for (size_t i = 0; i < sizeof(needed) / sizeof(*needed); i++)
		if (needed[i] && !cfg.phases)
			hl_usdt_require(&l, cfg.path, PROVIDER, needed[i]);
	for (int p = PG_PHASE_PARSE; cfg.phases && p < PG_PHASES; p++)
		for (int edge = 0; edge < 2; edge++)
			hl_usdt_require(&l, cfg.path, PROVIDER,
					phase_markers[p][edge]);
	hl_usdt_free(&l);
}

/* -p: one backend, probed alone; --server: the backends a postmaster
 * starts, which can only be probed by path, so every server of that
 * binary takes the traps (the BPF program keeps its backends). */
static void resolve_target(void)
{
	__u32 pid = hl_opts.filter.tgid;

	if (pid && cfg.server)
		hl_usage_error("-p and --server exclude each other");
	if (pid && hl_pg_role(pid) == HL_PG_POSTMASTER)
		hl_usage_error("process %u is a PostgreSQL server: -p takes one "
			       "backend; for all of its backends use --server "
			       "%u", pid, pid);
	if (pid && hl_pg_role(pid) != HL_PG_BACKEND)
		hl_usage_error("process %u is not a PostgreSQL backend", pid);
	if (cfg.server && hl_pg_role(cfg.server) == HL_PG_BACKEND)
		hl_usage_error("process %u is a PostgreSQL backend, not a "
			       "server: use -p %u", cfg.server, cfg.server);
	if (cfg.server && hl_pg_role(cfg.server) != HL_PG_POSTMASTER)
		hl_usage_error("process %u is not a PostgreSQL server "
			       "(postmaster)", cfg.server);
	/* The BPF program filters by backend_pid or postmaster_pid. */
	hl_opts.filter.tgid = 0;
	cfg.backend = pid;
	cfg.postmaster = cfg.server;
	if (cfg.server)
		hl_watch_process(cfg.server);
	hl_pg_find_binary(cfg.bin, pid ? pid : cfg.server, cfg.path,
			  sizeof(cfg.path));
	check_markers();
	/* Without attach cookies libbpf attaches a position-independent
	 * binary's markers to one process only, and a server's backends
	 * are processes of their own. */
	if (!hl_addressable(cfg.path, cfg.backend))
		hl_die("timing every backend needs BPF attach cookies (Linux "
		       "5.15); on this kernel, pass -p with one backend's pid");
}

static int counters(struct hl_label *c, int max)
{
	static const char *const names[PG_COUNTERS] = {
		[PG_CNT_ERRORS] = "errors",
	};

	return hl_counter_labels(cfg.skel->maps.counters, names, PG_COUNTERS,
				 cfg.seen, c, max);
}

/* Database or user names, indexed by the id regroup() gives a group. */
#define MAX_GROUPS 1024
static char *group_names[MAX_GROUPS];

static uint64_t group_id(const char *name)
{
	uint64_t i;

	for (i = 0; i < MAX_GROUPS && group_names[i]; i++)
		if (!strcmp(group_names[i], name))
			return i;
	if (i == MAX_GROUPS)
		return MAX_GROUPS - 1;
	group_names[i] = strdup(name);
	if (!group_names[i])
		hl_die("out of memory");
	return i;
}

static bool title_matches(const struct hl_pg_title *t)
{
	return (!cfg.db || !strcmp(cfg.db, t->db)) &&
	       (!cfg.user || !strcmp(cfg.user, t->user));
}

/* Titles BPF saved at each backend's first statement; entries of
 * backends that are gone are dropped once read. */
static void load_titles(void)
{
	int fd = bpf_map__fd(cfg.skel->maps.titles);
	char title[PG_TITLE_MAX], path[32];
	__u32 pid, next, *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		pid = next;
		prev = &pid;
		if (bpf_map_lookup_elem(fd, &pid, title))
			continue;
		title[sizeof(title) - 1] = '\0';
		hl_pg_title_saved(pid, title);
		snprintf(path, sizeof(path), "/proc/%u", pid);
		if (access(path, F_OK))
			bpf_map_delete_elem(fd, &pid);
	}
}

static size_t regroup(struct hl_hist *h, size_t n)
{
	struct hl_pg_title t;
	struct hl_hist cur;
	size_t out = 0, j;
	uint64_t id;

	load_titles();
	for (size_t i = 0; i < n; i++) {
		cur = h[i];	/* h[out] may be h[i]: work on a copy */
		hl_pg_title(cur.id, &t);
		if (!title_matches(&t))
			continue;
		id = !cfg.per_db && !cfg.per_user ? 0 :
		     group_id(cfg.per_db ? (t.db[0] ? t.db : "?") :
					   (t.user[0] ? t.user : "?"));
		for (j = 0; j < out && (h[j].id != id ||
					h[j].owner != cur.owner); j++)
			;
		if (j == out) {
			hl_hist_init(&h[out++], id);
			h[j].owner = cur.owner;
			memcpy(h[j].comm, cur.comm, sizeof(h[j].comm));
		}
		hl_hist_merge(&h[j], &cur);
	}
	if (!out && hl_owner == HL_OWNER_NONE && !cfg.per_db && !cfg.per_user)
		hl_hist_init(&h[out++], 0);	/* filtered: one, maybe empty */
	return out;
}

static int label(const struct hl_hist *h, struct hl_label *l, char *scratch,
		 size_t len)
{
	(void)scratch;
	(void)len;
	if (cfg.phases) {
		l[0].name = "phase";
		l[0].str = h->id < PG_PHASES ? phase_names[h->id] : "?";
		return 1;
	}
	l[0].name = cfg.per_db ? "db" : "user";
	l[0].str = h->id < MAX_GROUPS && group_names[h->id] ?
		   group_names[h->id] : "?";
	return 1;
}

static void print_event(const struct pg_event *e, const char *text)
{
	struct hl_pg_title t;
	char dur[16];

	hl_pg_title(e->pid, &t);
	if (hl_opts.json) {
		hl_json_begin(stdout, "event", "pgquerylat");
		fputs(",\"time\":", stdout);
		hl_json_time(stdout, hl_wall_ns());
		fprintf(stdout, ",\"pid\":%u,\"user\":", e->pid);
		hl_json_str(stdout, t.user);
		fputs(",\"db\":", stdout);
		hl_json_str(stdout, t.db);
		fprintf(stdout, ",\"duration_ns\":%llu,\"error\":%s,"
			"\"truncated\":%s,\"text\":",
			(unsigned long long)e->duration_ns,
			e->flags & PG_ERROR ? "true" : "false",
			e->flags & PG_TRUNCATED ? "true" : "false");
		hl_json_str(stdout, text);
		fputs("}\n", stdout);
	} else {
		hl_fmt_duration(dur, sizeof(dur), e->duration_ns);
		if (hl_opts.timestamp)
			hl_print_time_inline(stdout, hl_wall_ns());
		printf("%-7u %-12s %-12s %9s %s%s%s\n", e->pid,
		       t.user[0] ? t.user : "-", t.db[0] ? t.db : "-", dur,
		       e->flags & PG_ERROR ? "ERROR " : "", text,
		       e->flags & PG_TRUNCATED ? "..." : "");
	}
	fflush(stdout);
}

static int on_event(void *ctx, void *data, size_t size)
{
	const struct pg_event *e = data;
	char norm[PG_TEXT_MAX * 2], raw[PG_TEXT_MAX];
	const char *text = raw;
	struct hl_pg_title t;
	size_t len;

	if (size < sizeof(*e))
		return 0;
	/* The text follows the header, NUL included when it fit. */
	len = size - sizeof(*e) < e->text_len ? size - sizeof(*e) : e->text_len;
	if (len >= sizeof(raw))
		len = sizeof(raw) - 1;
	memcpy(raw, (const char *)(e + 1), len);
	raw[len] = '\0';
	if (cfg.db || cfg.user) {
		load_titles();
		hl_pg_title(e->pid, &t);
		if (!title_matches(&t))
			return 0;
	}
	if (e->flags & PG_NO_TEXT) {
		text = "(text not readable)";
	} else if (!cfg.raw_text) {
		/* Even when nothing is left (only comments): never raw. */
		hl_sql_normalize(raw, norm, sizeof(norm));
		text = norm;
	}
	if (cfg.top)
		hl_top_add(ctx, text, e->duration_ns, e->flags & PG_ERROR);
	else
		print_event(e, text);
	return 0;
}

static struct hl_tracer tracer = {
	.name = "pgquerylat", .user_space = true,
	.argp = { .options = options, .parser = parse,
		  .children = hl_owner_children }, .doc = doc,
	.ops = &pgquerylat_bpf_ops, .prepare = prepare, .path = cfg.path,
	.loop = { .on_event = on_event, .noun = "slow statements",
		  .top_kept = TOP_ROWS_KEPT },
};

/* Histograms, per backend, database, user or phase, or statements as
 * they come, or --top's table. */
static void choose_report(struct hl_tracer *t)
{
	static char header[64];

	t->keyed = keyed() && !events_mode();
	t->events = events_mode();
	t->loop.what = events_mode() ? "PostgreSQL statements" :
				       "PostgreSQL statement latency";
	if (cfg.per_db || cfg.per_user || cfg.phases)
		t->loop.report.label = label;
	if (!cfg.phases)
		t->loop.report.counters = counters;
	if (keyed() && !cfg.phases)
		t->loop.report.regroup = regroup;
	t->loop.top_rows = cfg.top;
	snprintf(header, sizeof(header), "%-7s %-12s %-12s %9s %s", "PID",
		 "USER", "DB", "DURATION", "TEXT");
	t->loop.header = header;
}

int main(int argc, char **argv)
{
	hl_tracer_start(&tracer, argc, argv);
	if (hl_owner != HL_OWNER_NONE &&
	    (events_mode() || cfg.per_db || cfg.per_user))
		hl_usage_error("-P, -L and --per-cgroup go with neither -M, "
			       "--top, --per-db nor --per-user");
	resolve_target();
	choose_report(&tracer);
	cfg.skel = hl_tracer_attach(&tracer);
	return hl_tracer_run(&tracer);
}
