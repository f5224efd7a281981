/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* pgquerylat: types shared by progs/pgquerylat.bpf.c and tools/pgquerylat.c. */
#ifndef HOWLONG_PGQUERYLAT_H
#define HOWLONG_PGQUERYLAT_H

/* Statement text kept per backend; longer text is cut and flagged. */
#define PG_TEXT_MAX 1024

/* Enough of a backend's title for "postgres: CLUSTER: USER DB". */
#define PG_TITLE_MAX 160

enum pg_key {
	PG_KEY_NONE,
	PG_KEY_PID,
};

/* --phases: histogram keys, also the USDT cookie of each marker pair. */
enum pg_phase {
	PG_PHASE_PARSE = 1,
	PG_PHASE_REWRITE,
	PG_PHASE_PLAN,
	PG_PHASE_EXECUTE,
	PG_PHASE_LOCK_WAIT,
	PG_PHASES,
};

enum pg_flags {
	PG_ERROR = 1,		/* the transaction aborted while it ran */
	PG_TRUNCATED = 2,	/* text longer than PG_TEXT_MAX - 1 */
	PG_NO_TEXT = 4,		/* text could not be read */
	PG_ROLLBACK = 8,	/* ROLLBACK/ABORT: an abort is not an error */
	PG_EXECUTED = 16,	/* a portal ran: not just a Parse (BPF only) */
};

/* One finished statement, for --threshold and --top: this header, then
 * text_len bytes of text (NUL included; 0 when unreadable). */
struct pg_event {
	__u64 duration_ns;
	__u32 pid;
	__u32 flags;
	__u32 text_len;
	__u32 pad;
};

enum pg_counter {
	PG_CNT_ERRORS,		/* statements that ended in an abort */
	PG_COUNTERS,		/* at most HL_COUNTERS */
};

#endif /* HOWLONG_PGQUERYLAT_H */
