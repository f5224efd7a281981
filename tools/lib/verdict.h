/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Can this tool work on this host? Reasoned from what the host has (the
 * kernel's BTF, its tracepoints, the features the tools probe, the
 * targets running) and from what the tool's own BPF object asks for (its
 * programs' sections, its maps), without loading it.
 */
#ifndef HOWLONG_VERDICT_H
#define HOWLONG_VERDICT_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>
#include "catalog.h"
#include "kfeatures.h"

enum hl_verdict {
	HL_WORKS,
	HL_FALLBACK,	/* works, another way than the best (see ways) */
	HL_CANNOT,
};

struct hl_host {
	char release[65];
	char machine[65];
	bool privileged;	/* root or CAP_BPF+CAP_PERFMON */
	bool btf;		/* /sys/kernel/btf/vmlinux readable */
	bool uprobes;		/* the uprobe event source exists */
	char lockdown[32];	/* "none", "integrity", ... or "" unknown */
	/* Probed by loading tiny programs: only when privileged. */
	bool probed;
	struct hl_features f;
	bool atomics;
	bool sched_task_storage;
};

#define HL_MAX_TRACEPOINTS 16
#define HL_MAX_WAYS 4
#define HL_MAX_TARGETS 8

struct hl_tracepoint {
	char name[64];
	bool found;
};

/* A process or file the tool would attach to, and its markers. */
struct hl_target {
	pid_t pid;		/* 0: a file, not a running process */
	char path[PATH_MAX];	/* "" when the process's is unreadable */
	int markers;		/* the provider's marker sites; -1 unread */
};

struct hl_judgement {
	const struct hl_catalog_entry *tool;
	enum hl_verdict verdict;
	const char *method;	/* tp_btf, raw_tp, tracepoint, usdt, uprobe,
				 * or "files" (no BPF) */
	char why[256];		/* cannot: the reason */
	char fix[256];		/* cannot: what would fix it */
	char ways[HL_MAX_WAYS][160];	/* the fallbacks taken */
	int nways;
	struct hl_tracepoint tps[HL_MAX_TRACEPOINTS];
	int ntps;
	const char *provider;	/* marker tools: whose markers */
	struct hl_target targets[HL_MAX_TARGETS];
	int ntargets;
	bool needs_root;	/* BPF: root or CAP_BPF+CAP_PERFMON */
	char unchecked[160];	/* what could not be checked, and why */
};

/* What this host has. */
void hl_host_read(struct hl_host *h);

/* One tool's verdict on host h. */
void hl_judge(const struct hl_host *h, const struct hl_catalog_entry *tool,
	      struct hl_judgement *j);

const char *hl_verdict_name(enum hl_verdict v);

#endif /* HOWLONG_VERDICT_H */
