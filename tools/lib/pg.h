/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What PostgreSQL tools need to know about the server's processes. */
#ifndef HOWLONG_PG_H
#define HOWLONG_PG_H

#include <stddef.h>
#include <sys/types.h>

enum hl_pg_role {
	HL_PG_NONE,
	HL_PG_POSTMASTER,	/* the server: parent of every backend */
	HL_PG_BACKEND,		/* one connection (or auxiliary process) */
};

enum hl_pg_role hl_pg_role(pid_t pid);

/* The postgres binary pid runs (if any), else a running postmaster's,
 * else pg_config's: 0, or -ENOENT when there is none. */
int hl_pg_binary(pid_t pid, char *path, size_t len);

/* The postgres binary to attach to: --bin, else the one pid runs (if any),
 * else a running postmaster's, else pg_config's. Exits with a one-line
 * error when there is none. */
void hl_pg_find_binary(const char *bin, pid_t pid, char *path, size_t len);

struct hl_pg_title {
	char user[64];
	char db[64];
};

/* User and database from a backend's process title ("postgres: USER DB
 * ..."); empty strings when unknown. Cached per pid. */
void hl_pg_title(pid_t pid, struct hl_pg_title *t);
/* The same from a title a BPF program saved; remembered for pid. */
void hl_pg_title_saved(pid_t pid, const char *title);

#endif /* HOWLONG_PG_H */
