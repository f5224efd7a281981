// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "pg.h"
#include "target.h"
#include "util.h"

static const char *const pg_names[] = { "postgres", "postmaster", NULL };

static int is_postgres(pid_t pid)
{
	char link[64], exe[PATH_MAX], *base;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n <= 0)
		return 0;
	exe[n] = '\0';
	base = strrchr(exe, '/');
	base = base ? base + 1 : exe;
	for (int i = 0; pg_names[i]; i++)
		if (!strncmp(base, pg_names[i], strlen(pg_names[i])) &&
		    (!base[strlen(pg_names[i])] ||
		     base[strlen(pg_names[i])] == ' '))
			return 1;
	return 0;
}

enum hl_pg_role hl_pg_role(pid_t pid)
{
	pid_t tgid, ppid;

	if (!is_postgres(pid) || hl_target_tgid_and_parent(pid, &tgid, &ppid))
		return HL_PG_NONE;
	return is_postgres(ppid) ? HL_PG_BACKEND : HL_PG_POSTMASTER;
}

int hl_pg_binary(pid_t pid, char *path, size_t len)
{
	int n = 0;

	if (!pid)
		pid = hl_target_find_process(pg_names, &n);
	if (pid && !hl_target_from_pid(pid, path, len))
		return 0;
	if (!hl_target_from_command("pg_config --bindir", "/postgres", path,
				    len))
		return 0;
	return -ENOENT;
}

void hl_pg_find_binary(const char *bin, pid_t pid, char *path, size_t len)
{
	if (bin) {
		if (access(bin, R_OK))
			hl_usage_error("cannot read --bin %s: %s", bin,
				       strerror(errno));
		snprintf(path, len, "%s", bin);
		return;
	}
	if (!hl_pg_binary(pid, path, len))
		return;
	hl_die("no PostgreSQL server found: pass --bin PATH to its postgres "
	       "binary, or -p PID");
}

static void parse_title(const char *title, struct hl_pg_title *t)
{
	char w[3][64];
	int i = 0;

	t->user[0] = t->db[0] = '\0';
	if (strncmp(title, "postgres: ", 10))
		return;
	if (sscanf(title + 10, "%63s %63s %63s", w[0], w[1], w[2]) < 2)
		return;
	/* Debian sets cluster_name: "postgres: 15/main: USER DB ..." */
	if (w[0][strlen(w[0]) - 1] == ':')
		i = 1;
	snprintf(t->user, sizeof(t->user), "%s", w[i]);
	snprintf(t->db, sizeof(t->db), "%s", w[i + 1]);
}

#define TITLE_CACHE 4096

static struct {
	pid_t pid;
	struct hl_pg_title t;
} cache[TITLE_CACHE];

void hl_pg_title_saved(pid_t pid, const char *title)
{
	size_t slot = (size_t)pid % TITLE_CACHE;

	parse_title(title, &cache[slot].t);
	cache[slot].pid = cache[slot].t.user[0] ? pid : 0;
}

void hl_pg_title(pid_t pid, struct hl_pg_title *t)
{
	size_t slot = (size_t)pid % TITLE_CACHE;
	char path[64], title[256] = "";
	FILE *f;

	if (cache[slot].pid == pid) {
		*t = cache[slot].t;
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	f = fopen(path, "r");
	if (f) {
		if (!fgets(title, sizeof(title), f))
			title[0] = '\0';
		fclose(f);
	}
	parse_title(title, t);
	if (t->user[0]) {
		cache[slot].pid = pid;
		cache[slot].t = *t;
	}
}
