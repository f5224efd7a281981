// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pgquerylat: PostgreSQL statement latency from the server's own markers.
 *
 * postgresql:statement__status(text) fires whenever a backend's activity
 * changes, in every protocol: with the statement text when it goes active,
 * with NULL when it goes idle (also after an error). A statement is timed
 * from the first non-NULL after idle to the next NULL. The classic
 * query__start/query__done pair (simple protocol only) is kept as an
 * option.
 *
 * In the extended protocol every Parse, Bind and Execute message reports
 * the text, and only Sync reports idle. A client that prepares a statement
 * on its own (Parse [Describe] Sync: libpq's PQprepare, pgbench -M
 * prepared) makes an active->idle span that runs no statement: parse and
 * rewrite fire, query__execute__start (PortalRun) does not. It fires once
 * per execution in both protocols, so a span counts only if it fired, as
 * pg_stat_statements counts executions; a span that failed counts anyway,
 * as an error (a syntax error in a Parse, or in a simple Query). That costs
 * one more marker hit per statement, the only way found to tell a Parse
 * from a simple Query: both report the text once, from the same site.
 *
 * "_hist" programs only fill the histogram; "_ev" programs keep the text
 * and send finished statements to user space for --threshold and --top.
 * Where the kernel has bpf_copy_from_user_str (6.12), they are sleepable
 * and read the text with it, faulting its pages in; elsewhere the "_evr"
 * twins read it with bpf_probe_read_user_str, which gives up on a page
 * that is not present (the text is then counted as missing).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/usdt.bpf.h>
#include "lib/hist.bpf.h"
#define EVENTS_RING_SIZE (1 << 22)
#include "lib/events.bpf.h"
#include "lib/kernel.bpf.h"
#include "lib/filter.bpf.h"
#include "lib/owner.bpf.h"
#include "lib/counters.bpf.h"
#include "lib/tstore.bpf.h"
#include "pgquerylat.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Faults the user pages in, unlike bpf_probe_read_user_str (6.12+).
 * Weak: only the "_ev" programs call it, and they are loaded only where
 * the kernel has it. */
extern int bpf_copy_from_user_str(void *dst, __u32 dst__sz,
				  const void *unsafe_ptr__ign,
				  __u64 flags) __ksym __weak;

const volatile __u32 key_mode = PG_KEY_NONE;
const volatile __u32 postmaster_pid = 0;	/* its backends only */
const volatile __u32 backend_pid = 0;		/* this backend only */
const volatile __u64 threshold_ns = 0;		/* events at least this long */
const volatile bool want_titles = false;	/* for --per-db and friends */
const volatile bool need_execute = false;	/* see the header: not --classic */

/* The event header sits right before the text, so that one
 * bpf_ringbuf_output() sends both, only as long as the text is. */
struct stmt {
	__u64 start_ns;
	__u32 titled;
	__u32 ours;	/* 0: not checked yet, 1: not ours, 2: ours */
	struct pg_event ev;
	char text[PG_TEXT_MAX];
};

DEFINE_THREAD_STORAGE(stmts, struct stmt, 4096);

/* Backend pid -> process title, saved at its first statement: short
 * connections are gone before user space could read /proc. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, char[PG_TITLE_MAX]);
} titles SEC(".maps");

/* --phases: when each phase began, and how deep it nests (execute does:
 * INSERT runs an inner executor; a function can plan and run queries). */
#define PHASE_SLOTS 8	/* a power of two >= PG_PHASES: index & 7 */

struct phases {
	__u64 start[PHASE_SLOTS];
	__u32 depth[PHASE_SLOTS];
};

DEFINE_THREAD_STORAGE(phase_ts, struct phases, 4096);

static __always_inline bool backend_matches(void)
{
	struct task_struct___hl *t;

	if (backend_pid)
		return bpf_get_current_pid_tgid() >> 32 == backend_pid;
	if (!postmaster_pid)
		return true;
	t = (struct task_struct___hl *)bpf_get_current_task();
	return BPF_CORE_READ(t, real_parent, tgid) == postmaster_pid;
}

static __always_inline struct stmt *stmt_of_current(bool create)
{
	return stmts_get(create);
}

/* ROLLBACK aborts the transaction on purpose: not an error. */
static __always_inline bool is_rollback(const char *t)
{
	char c0 = t[0] | 0x20, c1 = t[1] | 0x20;

	return (c0 == 'r' && c1 == 'o') || (c0 == 'a' && c1 == 'b');
}

/* Histogram mode reads no text, but must know a ROLLBACK from an error:
 * its first two bytes tell. */
static __always_inline void mark_rollback(struct stmt *s, const char *text)
{
	char c[2];

	if (!bpf_probe_read_user(c, sizeof(c), text) && is_rollback(c))
		s->ev.flags |= PG_ROLLBACK;
}

static __always_inline void save_title(struct stmt *s)
{
	struct task_struct___hl *t;
	char title[PG_TITLE_MAX];
	__u32 pid;

	if (!want_titles || s->titled)
		return;
	s->titled = 1;
	t = (struct task_struct___hl *)bpf_get_current_task();
	if (bpf_probe_read_user_str(title, sizeof(title),
				    (void *)BPF_CORE_READ(t, mm, arg_start)) < 0)
		return;
	pid = bpf_get_current_pid_tgid() >> 32;
	bpf_map_update_elem(&titles, &pid, title, BPF_ANY);
}

static __always_inline struct stmt *begin(const char *text)
{
	struct stmt *s;

	s = stmt_of_current(true);
	if (!s || s->start_ns)
		return NULL;	/* already active: the first text counts */
	/* A backend's pid and parent never change: check them once. */
	if (!s->ours)
		s->ours = backend_matches() ? 2 : 1;
	if (s->ours != 2 ||
	    !task_matches((struct task_struct___hl *)bpf_get_current_task()))
		return NULL;
	save_title(s);
	s->start_ns = bpf_ktime_get_ns();
	s->ev.flags = 0;
	s->ev.text_len = 0;
	return s;
}

static __always_inline void read_text(struct stmt *s, const char *text,
				      bool sleepable)
{
	long n;

	if (sleepable)
		n = bpf_copy_from_user_str(s->text, sizeof(s->text), text, 0);
	else
		n = bpf_probe_read_user_str(s->text, sizeof(s->text), text);
	if (n <= 0) {
		s->ev.flags |= PG_NO_TEXT;
		return;
	}
	s->ev.text_len = n;
	if (n == sizeof(s->text))
		s->ev.flags |= PG_TRUNCATED;
	if (n > 1 && is_rollback(s->text))
		s->ev.flags |= PG_ROLLBACK;
}

static __always_inline void emit(struct stmt *s, __u64 d)
{
	__u32 len = s->ev.text_len;

	if (d < threshold_ns)
		return;
	s->ev.duration_ns = d;
	s->ev.pid = bpf_get_current_pid_tgid() >> 32;
	if (len > PG_TEXT_MAX)
		len = PG_TEXT_MAX;
	events_output(&s->ev, sizeof(s->ev) + len);
}

static __always_inline void end(bool events)
{
	struct stmt *s = stmt_of_current(false);
	__u64 d;

	if (!s || !s->start_ns)
		return;
	d = bpf_ktime_get_ns() - s->start_ns;
	s->start_ns = 0;
	if (need_execute && !(s->ev.flags & (PG_EXECUTED | PG_ERROR)))
		return;	/* it only prepared a statement: not a call */
	if ((s->ev.flags & (PG_ERROR | PG_ROLLBACK)) == PG_ERROR)
		counter_inc(PG_CNT_ERRORS);
	else
		s->ev.flags &= ~PG_ERROR;
	if (events) {
		emit(s, d);
		return;
	}
	/* By backend when user space groups backends by their title. */
	hist_record_current(key_mode == PG_KEY_PID ?
			    bpf_get_current_pid_tgid() >> 32 : 0, d,
			    key_mode == PG_KEY_PID);
}

SEC("usdt")
int BPF_USDT(status_hist, const char *text)
{
	struct stmt *s;

	if (!text) {
		end(false);
		return 0;
	}
	s = begin(text);
	if (s)
		mark_rollback(s, text);
	return 0;
}

static __always_inline void status_text(const char *text, bool sleepable)
{
	struct stmt *s;

	if (!text) {
		end(true);
		return;
	}
	s = begin(text);
	if (s)
		read_text(s, text, sleepable);
}

SEC("usdt")
int BPF_USDT(status_ev, const char *text)
{
	status_text(text, true);
	return 0;
}

SEC("usdt")
int BPF_USDT(status_evr, const char *text)
{
	status_text(text, false);
	return 0;
}

SEC("usdt")
int BPF_USDT(query_start_hist, const char *text)
{
	struct stmt *s = begin(text);

	if (s)
		mark_rollback(s, text);
	return 0;
}

SEC("usdt")
int BPF_USDT(query_start_ev, const char *text)
{
	struct stmt *s = begin(text);

	if (s)
		read_text(s, text, true);
	return 0;
}

SEC("usdt")
int BPF_USDT(query_start_evr, const char *text)
{
	struct stmt *s = begin(text);

	if (s)
		read_text(s, text, false);
	return 0;
}

SEC("usdt")
int BPF_USDT(query_done_hist)
{
	end(false);
	return 0;
}

SEC("usdt")
int BPF_USDT(query_done_ev)
{
	end(true);
	return 0;
}

SEC("usdt")
int BPF_USDT(query_done_evr)
{
	end(true);
	return 0;
}

static __always_inline void flag_active(__u32 flag)
{
	struct stmt *s = stmt_of_current(false);

	if (s && s->start_ns)
		s->ev.flags |= flag;
}

/* An error aborts the transaction; the statement then goes idle. */
SEC("usdt")
int BPF_USDT(xact_abort)
{
	flag_active(PG_ERROR);
	return 0;
}

/* A portal runs: the span executes a statement (see the header). */
SEC("usdt")
int BPF_USDT(exec_start)
{
	flag_active(PG_EXECUTED);
	return 0;
}

/* ---- --phases: one program per edge, the cookie names the phase ---- */

/* Masked rather than compared: the verifier keeps a mask's bound. */
static __always_inline __u32 phase_of(struct pt_regs *ctx)
{
	__u32 p = bpf_usdt_cookie(ctx);

	return p < PG_PHASES ? p & (PHASE_SLOTS - 1) : 0;
}

SEC("usdt")
int BPF_USDT(phase_begin)
{
	__u32 p = phase_of(ctx);
	struct phases *ph;

	if (!p || !backend_matches() ||
	    !task_matches((struct task_struct___hl *)bpf_get_current_task()))
		return 0;
	ph = phase_ts_get(true);
	if (!ph)
		return 0;
	p &= PHASE_SLOTS - 1;
	if (!ph->depth[p]++)
		ph->start[p] = bpf_ktime_get_ns();
	return 0;
}

SEC("usdt")
int BPF_USDT(phase_end)
{
	__u32 p = phase_of(ctx);
	struct phases *ph;

	if (!p)
		return 0;
	ph = phase_ts_get(false);
	p &= PHASE_SLOTS - 1;
	if (!ph || !ph->depth[p] || --ph->depth[p])
		return 0;
	hist_record_current(p, bpf_ktime_get_ns() - ph->start[p], true);
	return 0;
}
