// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "cgroup.h"
#include "container.h"
#include "owner.h"
#include "util.h"

enum hl_owner hl_owner;

enum { OPT_PER_CGROUP = 0x180 };

static const struct argp_option options[] = {
	{ "pids", 'P', NULL, 0, "One histogram per process", 4 },
	{ "tids", 'L', NULL, 0, "One histogram per thread", 4 },
	{ "per-cgroup", OPT_PER_CGROUP, NULL, 0,
	  "One histogram per cgroup (v2)", 4 },
	{}
};

static void set_owner(enum hl_owner o)
{
	if (hl_owner && hl_owner != o)
		hl_usage_error("-P, -L and --per-cgroup exclude each other");
	hl_owner = o;
}

static error_t parse(int key, char *arg, struct argp_state *state)
{
	(void)arg;
	(void)state;
	switch (key) {
	case 'P': set_owner(HL_OWNER_PID); break;
	case 'L': set_owner(HL_OWNER_TID); break;
	case OPT_PER_CGROUP: set_owner(HL_OWNER_CGROUP); break;
	default: return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp hl_owner_argp = { .options = options, .parser = parse };

const struct argp_child hl_owner_children[] = {
	{ &hl_owner_argp, 0, NULL, 4 },
	{}
};

/* The cgroup's path, and the container it is if a runtime made it. */
static int cgroup_labels(uint64_t id, struct hl_label *l, char *scratch,
			 size_t len)
{
	size_t tail = len / 4;
	char *ctr = scratch + len - tail;

	hl_cgroup_name(id, scratch, len - tail);
	l[0].name = "cgroup";
	l[0].str = scratch;
	if (!hl_container_name(scratch, ctr, tail))
		return 1;
	l[1].name = "container";
	l[1].str = ctr;
	return 2;
}

int hl_owner_label(uint64_t id, const char *comm, struct hl_label *l,
		   char *scratch, size_t len)
{
	switch (hl_owner) {
	case HL_OWNER_PID:
	case HL_OWNER_TID:
		l[0].name = hl_owner == HL_OWNER_PID ? "pid" : "tid";
		l[0].str = NULL;
		l[0].num = id;
		l[1].name = "comm";
		l[1].str = comm;
		return 2;
	case HL_OWNER_CGROUP:
		return cgroup_labels(id, l, scratch, len);
	default:
		return 0;
	}
}
