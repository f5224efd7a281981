// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * irqlat: how long do interrupts take?
 * The measurement itself is in progs/irqlat.bpf.c.
 */
#define _GNU_SOURCE
#include <argp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <linux/types.h>
#include "lib/common.h"
#include "irqlat.h"
#include "irqlat.skel.h"
#include "attach.h"
#include "cli.h"
#include "hist_maps.h"
#include "tracer.h"
#include "util.h"

HL_SKEL_OPS(irqlat_bpf, HL_TRACEPOINT_METHODS, irqlat_bpf__attach);

/* As /proc/softirqs names them, in the kernel's order. */
static const char *const vectors[IRQLAT_VECTORS] = {
	"hi", "timer", "net_tx", "net_rx", "block", "irq_poll", "tasklet",
	"sched", "hrtimer", "rcu",
};

static struct {
	bool soft, wait, per_cpu;
	bool some_irqs;
	__u32 vecs;		/* -s, 0: all */
	__u8 irqs[IRQLAT_IRQ_MAX / 8];
} cfg;

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "What to time (default: hard IRQ handlers):", 4 },
	{ "softirq", 'S', NULL, 0,
	  "Softirq handlers, entry to exit, per vector", 4 },
	{ "wait", 'w', NULL, 0,
	  "How long softirqs wait to run, raise to entry, per vector (with "
	  "-S: both, as phase \"wait\" and \"run\")", 4 },
	{ NULL, 0, NULL, 0, "Histograms:", 5 },
	{ "per-cpu", 'C', NULL, 0, "One histogram per CPU as well", 5 },
	{ "irq", 'I', "IRQ[,IRQ...]", 0,
	  "Only these hard IRQs (numbers as in /proc/interrupts; repeatable)",
	  5 },
	{ "vector", 's', "VEC[,VEC...]", 0,
	  "Only these softirq vectors: hi, timer, net_tx, net_rx, block, "
	  "irq_poll, tasklet, sched, hrtimer, rcu (repeatable; implies -S "
	  "unless -w is given)", 5 },
	{}
};

/* The line of /proc/interrupts for irq, malloc'ed, or NULL. */
static char *interrupts_line(unsigned long irq)
{
	FILE *f = fopen("/proc/interrupts", "re");
	char *line = NULL, *end;
	size_t cap = 0;

	if (!f)
		return NULL;
	while (getline(&line, &cap, f) > 0) {
		unsigned long n = strtoul(line, &end, 10);

		if (end != line && *end == ':' && n == irq) {
			fclose(f);
			return line;
		}
	}
	free(line);
	fclose(f);
	return NULL;
}

static void want_irqs(char *list)
{
	char *save = NULL, *s = strtok_r(list, ",", &save);
	uint64_t irq;
	char *line;

	if (!s)
		hl_usage_error("invalid --irq '%s': expected IRQ[,IRQ...]",
			       list);
	for (; s; s = strtok_r(NULL, ",", &save)) {
		if (!hl_parse_u64(s, 0, IRQLAT_IRQ_MAX - 1, &irq))
			hl_usage_error("invalid IRQ '%s': expected a number "
				       "as in /proc/interrupts", s);
		line = interrupts_line(irq);
		if (!line)
			hl_usage_error("no IRQ %s in /proc/interrupts", s);
		free(line);
		cfg.irqs[irq / 8] |= 1U << (irq % 8);
	}
	cfg.some_irqs = true;
}

static void want_vectors(char *list)
{
	char *save = NULL, *s = strtok_r(list, ",", &save);
	int v;

	if (!s)
		hl_usage_error("invalid --vector '%s': expected VEC[,VEC...]",
			       list);
	for (; s; s = strtok_r(NULL, ",", &save)) {
		for (v = 0; v < IRQLAT_VECTORS; v++)
			if (!strcasecmp(s, vectors[v]))
				break;
		if (v == IRQLAT_VECTORS)
			hl_usage_error("unknown softirq vector '%s'", s);
		cfg.vecs |= 1U << v;
	}
}

static error_t parse(int key, char *arg, struct argp_state *state)
{
	(void)state;
	switch (key) {
	case 'S': cfg.soft = true; break;
	case 'w': cfg.wait = true; break;
	case 'C': cfg.per_cpu = true; break;
	case 'I': want_irqs(arg); break;
	case 's': want_vectors(arg); break;
	case ARGP_KEY_END:
		if (cfg.vecs && !cfg.wait)
			cfg.soft = true;
		if (cfg.some_irqs && (cfg.soft || cfg.wait))
			hl_usage_error("-I selects hard IRQs: not with -S, -w "
				       "or -s");
		break;
	default: return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const char doc[] =
"Summarize how long interrupt handlers take, as one histogram with "
"percentiles per hard IRQ and handler, or per softirq vector.\v"
"EXAMPLES:\n"
"  irqlat                      # hard IRQ handlers, until Ctrl-C\n"
"  irqlat -S 5 1               # softirq handlers per vector, over 5 s\n"
"  irqlat -w -s net_rx,timer   # how long those softirqs wait to run\n"
"  irqlat -S -w -C             # both, per vector and CPU\n"
"  irqlat -I 36 -j 1           # one IRQ, JSON Lines every second\n"
"  irqlat -S --listen 9103     # for Prometheus, on :9103\n"
"\nA shared IRQ line calls each of its handlers in turn: one histogram "
"per IRQ and handler name. Interrupts run in whichever task they "
"interrupt, so there are no task filters. See irqlat(8).";

static struct hl_tracer tracer;

/* Dense hard IRQ histograms (irqlat.h): index -> IRQ number. */
static unsigned int dense_irqs[IRQLAT_DENSE_IRQS], ndense;
static struct bpf_map *owners;

/* The IRQs /proc/interrupts numbers now, low ones first come. */
static void pick_dense_irqs(struct irqlat_bpf *skel)
{
	FILE *f = fopen("/proc/interrupts", "re");
	char *line = NULL, *end;
	size_t cap = 0;

	if (!f)
		return;
	while (ndense < IRQLAT_DENSE_IRQS && getline(&line, &cap, f) > 0) {
		unsigned long n = strtoul(line, &end, 10);

		if (end == line || *end != ':' || n >= IRQLAT_DENSE_IRQ_MAX)
			continue;
		dense_irqs[ndense++] = n;
		((__u8 *)skel->rodata->dense_irq)[n] = ndense;
	}
	free(line);
	fclose(f);
}

static int prepare(void *s, enum hl_method m, void *ctx)
{
	struct irqlat_bpf *skel = s;
	bool hard = !cfg.soft && !cfg.wait;

	(void)ctx;
	skel->rodata->per_cpu = cfg.per_cpu;
	skel->rodata->some_irqs = cfg.some_irqs;
	memcpy((void *)skel->rodata->wanted_irqs, cfg.irqs, sizeof(cfg.irqs));
	if (cfg.vecs)
		skel->rodata->wanted_vecs = cfg.vecs;
	skel->rodata->time_soft = cfg.soft;
	skel->rodata->time_wait = cfg.wait;
	if (!hl_select_programs(skel->obj, m, NULL))
		return -ENOENT;
	/* Only the hooks the mode needs: interrupts are hot. */
	hl_autoload_prefix(skel->obj, "hard_", hard);
	hl_autoload_prefix(skel->obj, "soft_entry", !hard);
	hl_autoload_prefix(skel->obj, "soft_exit", cfg.soft);
	hl_autoload_prefix(skel->obj, "raise_", cfg.wait);
	tracer.keyed = hard || cfg.per_cpu;
	if (hard && !cfg.per_cpu)
		pick_dense_irqs(skel);
	owners = skel->maps.owners;
	if (hl_hist_dense_size(skel->obj, hard ? ndense : cfg.per_cpu ? 0 :
			       IRQLAT_DENSE_IDS))
		return -EINVAL;
	return hl_hist_maps_size(skel->obj, tracer.keyed);
}

/*
 * The kernel hands the BPF side a handler's name in 15 characters at
 * most; /proc/interrupts lists the IRQ's handlers in full, comma
 * separated: the one that starts with those characters.
 */
static char *full_name(unsigned long irq, const char *comm)
{
	char *line, *p, *end, *name = NULL;

	if (strlen(comm) < COMM_LEN - 1)
		return strdup(comm);
	line = interrupts_line(irq);
	if (line) {
		line[strcspn(line, "\n")] = '\0';
		for (p = strstr(line, comm); p; p = strstr(p + 1, comm)) {
			if (p == line || p[-1] != ' ')
				continue;
			end = strstr(p, ", ");
			if (end)
				*end = '\0';
			name = strdup(p);
			break;
		}
		free(line);
	}
	return name ? name : strdup(comm);
}

/* Each IRQ's handlers by name, looked up once (a driver can come and go
 * while traced); the index is what regroup() puts in a histogram's id. */
#define NAMES_MAX 1024
static struct {
	unsigned int irq;
	char comm[COMM_LEN];
	char *name;
} names[NAMES_MAX];
static unsigned int nnames;

static __u64 name_index(unsigned int irq, const char *comm)
{
	unsigned int i;

	for (i = 0; i < nnames; i++)
		if (names[i].irq == irq && !strcmp(names[i].comm, comm))
			return i;
	if (nnames == NAMES_MAX)
		return NAMES_MAX - 1;	/* labelled as the last one */
	names[i].irq = irq;
	snprintf(names[i].comm, sizeof(names[i].comm), "%s", comm);
	names[i].name = full_name(irq, comm);
	if (!names[i].name)
		hl_die("out of memory");
	return nnames++;
}

/*
 * One histogram per IRQ and handler name: the BPF side tells handlers
 * apart by their struct irqaction, and two handlers of one shared IRQ can
 * bear the same name (two devices of one driver). Their histograms are
 * added up here, their id's tag replaced by the name's index.
 */
/* A dense histogram's id (irqlat.h) as a keyed one's, name's index
 * in place of the tag. */
static __u64 from_dense(__u64 id)
{
	enum irqlat_kind kind = id < IRQLAT_VECTORS ? IRQLAT_SOFT : IRQLAT_WAIT;
	struct irqlat_owner o = {};
	__u32 i = id;

	if (cfg.soft || cfg.wait)
		return (__u64)kind << IRQLAT_KIND_SHIFT |
		       (id % IRQLAT_VECTORS) << IRQLAT_NUM_SHIFT;
	if (i >= ndense || bpf_map__lookup_elem(owners, &i, sizeof(i), &o,
						sizeof(o), 0))
		o.name[0] = '\0';
	o.name[sizeof(o.name) - 1] = '\0';
	return (__u64)IRQLAT_HARD << IRQLAT_KIND_SHIFT |
	       (__u64)dense_irqs[i % IRQLAT_DENSE_IRQS] << IRQLAT_NUM_SHIFT |
	       name_index(dense_irqs[i % IRQLAT_DENSE_IRQS], o.name);
}

static size_t regroup(struct hl_hist *h, size_t n)
{
	struct hl_hist cur;
	size_t out = 0, j;
	__u64 id;

	for (size_t i = 0; i < n; i++) {
		cur = h[i];	/* h[out] may be h[i]: work on a copy */
		if (cur.dense) {
			id = from_dense(cur.id);
		} else {
			id = cur.id & ~IRQLAT_TAG_MASK;
			if ((id >> IRQLAT_KIND_SHIFT & IRQLAT_KIND_MASK) ==
			    IRQLAT_HARD)
				id |= name_index(id >> IRQLAT_NUM_SHIFT &
						 IRQLAT_NUM_MASK, cur.comm);
		}
		for (j = 0; j < out && h[j].id != id; j++)
			;
		if (j == out)
			hl_hist_init(&h[out++], id);
		hl_hist_merge(&h[j], &cur);
	}
	return out;
}

static int label(const struct hl_hist *h, struct hl_label *l, char *scratch,
		 size_t len)
{
	unsigned int num = h->id >> IRQLAT_NUM_SHIFT & IRQLAT_NUM_MASK;
	unsigned int kind = h->id >> IRQLAT_KIND_SHIFT & IRQLAT_KIND_MASK;
	__u64 cpu = h->id >> IRQLAT_CPU_SHIFT;
	int n = 0;

	(void)scratch;
	(void)len;
	if (kind == IRQLAT_HARD) {
		l[n].name = "irq";
		l[n].str = NULL;
		l[n++].num = num;
		l[n].name = "name";
		/* regroup() has made the tag an index into names */
		l[n++].str = (h->id & IRQLAT_TAG_MASK) < nnames ?
			     names[h->id & IRQLAT_TAG_MASK].name : h->comm;
	} else {
		l[n].name = "vector";
		l[n++].str = num < IRQLAT_VECTORS ? vectors[num] : "unknown";
		if (cfg.soft && cfg.wait) {
			l[n].name = "phase";
			l[n++].str = kind == IRQLAT_WAIT ? "wait" : "run";
		}
	}
	if (cpu) {
		l[n].name = "cpu";
		l[n].str = NULL;
		l[n++].num = cpu - 1;
	}
	return n;
}

static struct hl_tracer tracer = {
	.name = "irqlat",
	.no_task = true,
	.argp = { .options = options, .parser = parse },
	.doc = doc,
	.ops = &irqlat_bpf_ops, .prepare = prepare,
	.keyed = true,
	.loop = { .what = "hard IRQ handler time",
		  .report = { .label = label, .regroup = regroup } },
};

int main(int argc, char **argv)
{
	hl_tracer_start(&tracer, argc, argv);
	if (cfg.soft && cfg.wait)
		tracer.loop.what = "softirq wait and handler time";
	else if (cfg.wait)
		tracer.loop.what = "softirq wait";
	else if (cfg.soft)
		tracer.loop.what = "softirq handler time";
	hl_tracer_attach(&tracer);
	return hl_tracer_run(&tracer);
}
