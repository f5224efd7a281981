"""pgquerylat against a real PostgreSQL server started by the test.

Every test gets its own throwaway cluster (lib/pg.py: initdb + pg_ctl as
user postgres, unix socket in a temp dir and a loopback port; copying
the run's template, starting and stopping take 0.3-0.5 s here, more on a
busy machine), so the only statements the server sees are the ones the
test sends, and it knows exactly what those are:

- psql -X -f (what Cluster.psql and Session run): one Query message per
  statement, nothing else; the connection itself only reports "idle".
  Checked with a uprobe on statement__status while writing these tests.
- pgbench -n -f SCRIPT: its first connection (the one it opens to check
  the server) sends nothing; each client sends the script once per
  transaction. -M simple and -M extended: exactly one active->idle cycle
  per transaction. -M prepared: one more per client and statement, the
  Parse+Sync of PQprepare, which runs nothing (no query__execute__start)
  and is not counted, as pg_stat_statements does not count it.
- A failing statement (1/0, a syntax error) goes active and then idle
  like any other; it never fires query__done.

The bound: a statement `SELECT pg_sleep(X)` is active for at least X
(pg_sleep waits until its end time, measured after the backend went
active) and, on this VM, for at most X + 1.9 ms when idle (200 samples;
pg_sleep rounds its wait up to whole ms and may wait one more ms) and
X + 5.5 ms with six busy loops on the two CPUs (one outlier of 13.8 ms
with four). BOUND is 5 ms; when the server itself saw a longer execution
(pg_stat_statements' max_exec_time, scheduling delay on a loaded machine)
the upper end is that plus 1 ms, the most parse/plan/commit adds here,
and the detail line says so.

The second ground truth, pg_stat_statements over `pgbench -S`: see
pgss_agrees().
"""
import os

from lib import pg, report, tool, workload
from lib.container import Container
from lib.harness import Failure, check, test
from lib.procs import free_pid

TOOL = "pgquerylat"
MS = 1000000
BOUND = 5 * MS              # pg_sleep(X) lasts [X, X + BOUND]
PROTOCOL_NS = 1 * MS        # what a statement adds to its execution
ERROR_NS = 5 * MS           # what raising an error adds (report, abort)
PGSS_PER_CALL = 50000       # pgquerylat - pg_stat_statements, per statement
EVENT_KEYS = {"type", "tool", "time", "pid", "duration_ns", "text", "error"}


def need_tool():
    tool.need(TOOL)


def Output(result):
    """A pgquerylat -j run, split by line type and checked: every hist
    line against docs/json.md, every event and top line as documented.
    --phases has no statements, so no "errors" count either."""
    counters = () if "--phases" in result.cmd() else ("errors",)
    return report.ToolOutput(result, TOOL, counters, check_event, tops=True)


def _time_ok(v):
    return isinstance(v, str) and report.TIME_RE.match(v)


_uint = report.uint


def check_event(e):
    check(EVENT_KEYS <= set(e), "event lacks %s: %r" % (
        sorted(EVENT_KEYS - set(e)), e))
    check(e["tool"] == TOOL, "event tool is %r" % e["tool"])
    check(_time_ok(e["time"]), "event time %r is not RFC 3339 UTC with ns"
          % (e["time"],))
    check(_uint(e["pid"]) and e["pid"] > 0 and _uint(e["duration_ns"]),
          "event pid/duration_ns not positive integers: %r" % e)
    check(isinstance(e["text"], str) and isinstance(e["error"], bool),
          "event text/error not string/boolean: %r" % e)
    return e


def traced(tracer_args, work):
    """Start one pgquerylat per argument list, wait until each says
    "Tracing", run work(), SIGINT them all; returns ([Output], work()).
    On a kernel without attach cookies, where pgquerylat can time one
    backend only (-p), a tracer of every backend must say so in one line
    and the test ends there (harness.Done)."""
    tool.one_process_only(TOOL, tracer_args, tool.no_pid, "backend")
    results, ret = tool.traced(TOOL, tracer_args, work)
    return [Output(r) for r in results], ret


def upper_bound(c, x_ns):
    """X + BOUND, or more if the server itself timed a longer execution
    of a pg_sleep (pg_stat_statements, since the last reset)."""
    rows = c.rows("SELECT coalesce(max(max_exec_time), 0) FROM "
                  "pg_stat_statements WHERE query LIKE '%pg_sleep%';")
    server = int(float(rows[0][0]) * MS)
    return max(x_ns + BOUND, server + PROTOCOL_NS)


def check_sleeps(h, n, x_ns, hi, what):
    """n samples, every one in [x_ns, hi] (min_ns and max_ns are exact)."""
    check(h["count"] == n, "%s: count %d, expected %d" % (
        what, h["count"], n))
    check(h["min_ns"] >= x_ns, "%s: min %s below pg_sleep's %s" % (
        what, report.fmt_ns(h["min_ns"]), report.fmt_ns(x_ns)))
    check(h["max_ns"] <= hi, "%s: max %s above %s" % (
        what, report.fmt_ns(h["max_ns"]), report.fmt_ns(hi)))
    return "%s: %d in [%s, %s]" % (what, n, report.fmt_ns(h["min_ns"]),
                                   report.fmt_ns(h["max_ns"]))


def bound_note(hi, x_ns):
    return "" if hi == x_ns + BOUND else " (server saw %s: bound %s)" % (
        report.fmt_ns(hi - PROTOCOL_NS), report.fmt_ns(hi))


def sleeps(x, n):
    return "SELECT pg_sleep(%g);\n" % x * n


# ---- the cluster itself ----

def _listeners(port):
    """Local addresses listening on TCP port (from /proc/net/tcp{,6})."""
    found = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(path) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                addr, p = local.rsplit(":", 1)
                if state == "0A" and int(p, 16) == port:
                    found.append(addr)
    return found


@test("pg/cluster")
def cluster():
    """Two clusters one after the other, from initdb and from the
    template: start on a unix socket and 127.0.0.1 only, a pg_sleep seen
    by pg_stat_statements, sessions, stop, directory gone, postmaster
    gone."""
    times = []
    for fresh in (True, False):
        with pg.Cluster(fresh=fresh) as c:
            d, pm = c.dir, c.postmaster_pid
            check(os.path.isdir(d) and os.stat(d).st_uid ==
                  pg._postgres_ids()[0], "%s not owned by postgres" % d)
            check(_listeners(c.port) == ["0100007F"],
                  "port %d listened on %r, expected 127.0.0.1 only" % (
                      c.port, _listeners(c.port)))
            check(c.psql("SELECT 41 + 1;", tcp=True).strip() == "42",
                  "no answer over TCP")
            c.psql(sleeps(0.01, 3))
            calls = c.rows("SELECT calls FROM pg_stat_statements WHERE "
                           "query = 'SELECT pg_sleep($1)';")
            check(calls == [["3"]], "pg_stat_statements saw %r pg_sleep "
                  "calls, expected 3" % calls)
            with c.connect() as s, c.connect() as s2:
                check(c.backend_pids() == sorted([s.pid, s2.pid]),
                      "backend_pids %r, sessions are %d and %d" % (
                          c.backend_pids(), s.pid, s2.pid))
                out = s.query("SELECT 1/0;\nSELECT pg_backend_pid();")
                check("division by zero" in out and str(s.pid) in out,
                      "session output %r" % out)
            check(c.backend_pids() == [], "backends left after close: %r"
                  % c.backend_pids())
        check(not os.path.exists(d), "%s still there after stop" % d)
        check(not pg.running(pm), "postmaster %d still running" % pm)
        times.append(c.timing)
    return "start+stop: %s" % "; ".join(
        "%.2fs (%s)" % (sum(t.values()), ", ".join(
            "%s %.2f" % kv for kv in t.items())) for t in times)


@test("pg/cluster-failure")
def cluster_failure():
    """A test that fails inside the with block still stops and removes
    its cluster."""
    c = d = None
    try:
        with pg.Cluster() as c:
            d = c.dir
            c.connect()         # left open on purpose
            raise Failure("deliberate")
    except Failure as e:
        check(str(e) == "deliberate", "unexpected failure: %s" % e)
    check(c is not None and c.dir is None, "cluster not stopped")
    check(not pg.running(c.postmaster_pid), "postmaster %d still running"
          % c.postmaster_pid)
    check(not os.path.exists(d), "%s left behind" % d)
    return "stopped in %.2fs" % c.timing["stop"]


# ---- pgquerylat: ground truth pg_sleep ----

@test("pgquerylat/simple-protocol")
def simple_protocol():
    """20 x pg_sleep(50 ms) from one psql -f: exactly 20 statements."""
    need_tool()
    n, x = 20, 0.05
    with pg.Cluster() as c:
        c.pgss_reset()
        (out,), _ = traced([["-j", "--server", c.postmaster_pid]],
                           lambda: c.psql(sleeps(x, n)))
        hi = upper_bound(c, int(x * 1e9))
        got = out.final_report()["errors"]
        check(got == 0, "errors %d, expected 0" % got)
        return check_sleeps(out.final_hist(), n, int(x * 1e9), hi,
                            "psql") + bound_note(hi, int(x * 1e9))


def pgbench_sleeps(c, mode, n, x, tracers):
    """pgbench -n -M mode -c 1 -t n of `SELECT pg_sleep(x);`, traced."""
    script = c.write_file("sleep.sql", "SELECT pg_sleep(%g);\n" % x)
    c.pgss_reset()
    outs, _ = traced(tracers, lambda: c.pgbench(
        ["-n", "-M", mode, "-c", 1, "-t", n, "-f", script]))
    return outs, upper_bound(c, int(x * 1e9))


@test("pgquerylat/extended-protocol")
def extended_protocol():
    """pgbench -M extended and -M prepared: n statements each (prepared:
    the Parse+Sync of PQprepare is no statement, in the histogram, per
    backend (-P) and per database alike; the -t 10 tracer beside them
    times each pg_sleep exactly)."""
    need_tool()
    n, x = 20, 0.02
    xn = int(x * 1e9)
    details = []
    with pg.Cluster() as c:
        pm = c.postmaster_pid
        (out,), hi = pgbench_sleeps(c, "extended", n, x, [["-j", "--server", pm]])
        details.append(check_sleeps(out.final_hist(), n, xn, hi,
                                    "extended") + bound_note(hi, xn))

        (out, slow, per_pid, per_db), hi = pgbench_sleeps(
            c, "prepared", n, x, [["-j", "--server", pm],
                                  ["-j", "-M", "10", "--server", pm],
                                  ["-j", "-P", "--server", pm],
                                  ["-j", "--per-db", "--server", pm]])
        details.append(check_sleeps(out.final_hist(), n, xn, hi,
                                    "prepared (no prepare counted)"))
        for o, by in ((per_pid, "pid"), (per_db, "db")):
            hs = list(o.final_hist(by).values())
            check(len(hs) == 1, "prepared, by %s: %d histograms, expected "
                  "1 (one backend, one database)" % (by, len(hs)))
            check_sleeps(hs[0], n, xn, hi, "prepared, by %s" % by)
        ev = slow.events
        check(len(ev) == n, "prepared: -t 10 printed %d events, expected "
              "%d" % (len(ev), n))
        durs = sorted(e["duration_ns"] for e in ev)
        check(durs[0] >= xn and durs[-1] <= hi,
              "prepared: events from %s to %s, expected [%s, %s]" % (
                  report.fmt_ns(durs[0]), report.fmt_ns(durs[-1]),
                  report.fmt_ns(xn), report.fmt_ns(hi)))
        details.append("-t 10: %d in [%s, %s]%s" % (
            n, report.fmt_ns(durs[0]), report.fmt_ns(durs[-1]),
            bound_note(hi, xn)))
    return "; ".join(details)


@test("pgquerylat/classic")
def classic():
    """--classic (query__start/done): psql's n statements, and none of
    pgbench -M extended's n, which the default mode sees beside it."""
    need_tool()
    n, x = 10, 0.02
    xn = int(x * 1e9)
    with pg.Cluster() as c:
        pm = c.postmaster_pid
        c.pgss_reset()
        (out,), _ = traced([["-j", "--classic", "--server", pm]],
                           lambda: c.psql(sleeps(x, n)))
        hi = upper_bound(c, xn)
        d1 = check_sleeps(out.final_hist(), n, xn, hi, "simple")
        (cl, dflt), hi = pgbench_sleeps(
            c, "extended", n, x, [["-j", "--classic", "--server", pm],
                                  ["-j", "--server", pm]])
        check_sleeps(dflt.final_hist(), n, xn, hi, "extended (default)")
        got = cl.final_hist()["count"]
        check(got == 0, "--classic counted %d extended-protocol statements; "
              "query__start/done never fire for them" % got)
    return d1 + "; extended: 0 (default mode: %d)" % n


@test("pgquerylat/errors")
def errors():
    """Failing statements are timed and counted; -t marks them."""
    need_tool()
    sql = ("SELECT 1/0;\n"
           "SELEC 1;\n"
           "DO $$BEGIN PERFORM pg_sleep(0.06); "
           "RAISE EXCEPTION 'howlong test'; END$$;\n"
           "SELECT pg_sleep(0.06);\n")
    xn = 60 * MS
    with pg.Cluster() as c:
        pm = c.postmaster_pid
        c.pgss_reset()
        (hist, thr), (_, err) = traced(
            [["-j", "--server", pm], ["-j", "-M", "50", "--server", pm]],
            lambda: c.psql(sql, on_error_stop=False, stderr=True))
        nerr = err.count("ERROR:")
        check(nerr == 3, "psql reported %d errors, expected 3: %r" % (
            nerr, err))
        hi = upper_bound(c, xn)
        h = hist.final_hist()
        check(h["count"] == 4, "count %d, expected 4 (3 failing, 1 not)" %
              h["count"])
        got = hist.final_report()["errors"]
        check(got == 3, "errors %d, expected 3" % got)
        ev = thr.events
        check(len(ev) == 2, "-t 50 printed %d events, expected 2: %r" % (
            len(ev), ev))
        flags = sorted(e["error"] for e in ev)
        check(flags == [False, True], "error flags %r, expected one true "
              "(the DO block that raised) and one false" % flags)
        for e in ev:
            # The failing DO block's span also holds the error's report
            # and the abort, which pg_stat_statements (whose figure hi
            # follows) never records for a failed statement.
            top = hi + (ERROR_NS if e["error"] else 0)
            check(xn <= e["duration_ns"] <= top, "event %s (error=%s) "
                  "outside [%s, %s]" % (report.fmt_ns(e["duration_ns"]),
                                        e["error"], report.fmt_ns(xn),
                                        report.fmt_ns(top)))
        failed = [e for e in ev if e["error"]][0]
        check("DO" in failed["text"].upper(), "the failing event's text is "
              "%r, expected the DO block" % failed["text"])
    return "4 counted (3 errors); events: %s" % ", ".join(
        "%s error=%s" % (report.fmt_ns(e["duration_ns"]),
                         str(e["error"]).lower()) for e in ev)


@test("pgquerylat/rollback-not-error")
def rollback_not_error():
    """An explicit ROLLBACK or ABORT aborts its transaction on purpose:
    a statement, not an error, in histogram mode (which reads no text) as
    with -t."""
    need_tool()
    sql = "BEGIN;\nSELECT 1;\nROLLBACK;\nBEGIN;\nabort;\n"
    with pg.Cluster() as c:
        pm = c.postmaster_pid
        (hist, thr), _ = traced([["-j", "--server", pm],
                                 ["-j", "-M", "0", "--server", pm]],
                                lambda: c.psql(sql))
    h = hist.final_hist()
    check(h["count"] == 5, "count %d, psql ran 5 statements" % h["count"])
    got = hist.final_report()["errors"]
    check(got == 0, "histogram mode: %d errors, expected 0" % got)
    flags = [e["error"] for e in thr.events]
    check(len(flags) == 5 and not any(flags), "-t 0: error flags %r, "
          "expected 5 false" % flags)
    return "5 statements, 2 rollbacks, 0 errors in both modes"


@test("pgquerylat/threshold")
def threshold():
    """-t 50 -j: exactly the three 100 ms statements among eight, with the
    session's backend pid and normalized text."""
    need_tool()
    fast, slow = 0.001, 0.1
    sql = (sleeps(fast, 2) + sleeps(slow, 1) + sleeps(fast, 1) +
           sleeps(slow, 2) + sleeps(fast, 2))
    xn = int(slow * 1e9)
    with pg.Cluster() as c, c.connect() as s:
        c.pgss_reset()
        (out,), _ = traced([["-j", "-M", "50", "--server", c.postmaster_pid]],
                           lambda: s.query(sql))
        hi = upper_bound(c, xn)
        ev = out.events
        check(len(ev) == 3, "printed %d events, expected 3: %r" % (
            len(ev), [(e["duration_ns"], e["text"]) for e in ev]))
        for e in ev:
            check(e["pid"] == s.pid, "event pid %d, the session's backend "
                  "is %d" % (e["pid"], s.pid))
            check(xn <= e["duration_ns"] <= hi, "event %s outside [%s, %s]"
                  % (report.fmt_ns(e["duration_ns"]), report.fmt_ns(xn),
                     report.fmt_ns(hi)))
            check(not e["error"], "event marked as error: %r" % e)
            check((e.get("db"), e.get("user"), e.get("truncated")) ==
                  ("postgres", "postgres", False), "event db %r user %r "
                  "truncated %r, expected postgres, postgres, false" % (
                      e.get("db"), e.get("user"), e.get("truncated")))
            check("pg_sleep" in e["text"] and "0.1" not in e["text"],
                  "event text %r: expected the normalized statement (no "
                  "literal 0.1)" % e["text"])
        for h in out.hists:     # a hist line beside the events is optional
            got = report.only_hist(h)["count"]
            check(got == 8, "hist beside the events counts %d, expected 8"
                  % got)
    return "3 of 8, %s .. %s, text %r%s" % (
        report.fmt_ns(min(e["duration_ns"] for e in ev)),
        report.fmt_ns(max(e["duration_ns"] for e in ev)), ev[0]["text"],
        bound_note(hi, xn))


@test("pgquerylat/top")
def top():
    """--top: statements that differ only in literals are one row, with
    the calls, time and errors that were run; no literal is printed."""
    need_tool()
    x = 0.02
    xn = int(x * 1e9)
    sql = "".join("SELECT pg_sleep(%g), %d;\n" % (x, k) for k in range(6))
    sql += "".join("SELECT %d + 1;\n" % (k + 7) for k in range(4))
    sql += "".join("SELECT 1/%d;\n" % k for k in (3, 5, 0))
    sql += "".join("SELECT 'hunter%d' AS pw;\n" % k for k in (2, 3))
    with pg.Cluster() as c, c.connect() as s:
        c.pgss_reset()
        (out, one), _ = traced(
            [["-j", "--top", "10", "-p", s.pid],
             ["-j", "--top", "1", "-p", s.pid]], lambda: s.query(sql))
        hi = upper_bound(c, xn)
        rows = out.final_top()
        texts = [r["text"] for r in rows]
        check(len(rows) == 4, "%d rows, expected 4: %r" % (len(rows), texts))
        for r in rows:
            for lit in ("hunter", "0.02", "'"):
                check(lit not in r["text"], "row text %r shows literal %r" % (
                    r["text"], lit))

        def row(pred, what):
            found = [r for r in rows if pred(r["text"].lower())]
            check(len(found) == 1, "%d rows look like %s: %r" % (
                len(found), what, texts))
            return found[0]

        sl = row(lambda t: "pg_sleep" in t, "SELECT pg_sleep(..), k")
        plus = row(lambda t: "+" in t, "SELECT k + 1")
        div = row(lambda t: "/" in t, "SELECT 1/k")
        pw = row(lambda t: " pw" in t, "SELECT '..' AS pw")
        check(rows[0] is sl, "the pg_sleep row is not first")
        check((sl["calls"], sl["errors"]) == (6, 0),
              "pg_sleep row: calls %d errors %d, expected 6 and 0" % (
                  sl["calls"], sl["errors"]))
        check(6 * xn <= sl["total_ns"] <= 6 * hi and
              xn <= sl["p50_ns"] <= sl["p99_ns"] <= hi,
              "pg_sleep row: total %s p50 %s p99 %s, expected 6 x and each "
              "in [%s, %s]" % (report.fmt_ns(sl["total_ns"]),
                               report.fmt_ns(sl["p50_ns"]),
                               report.fmt_ns(sl["p99_ns"]),
                               report.fmt_ns(xn), report.fmt_ns(hi)))
        for r, calls, errs in ((plus, 4, 0), (div, 3, 1), (pw, 2, 0)):
            check((r["calls"], r["errors"]) == (calls, errs),
                  "row %r: calls %d errors %d, expected %d and %d" % (
                      r["text"], r["calls"], r["errors"], calls, errs))
            check(r["total_ns"] < sl["total_ns"] / 10,
                  "row %r: total %s for trivial statements" % (
                      r["text"], report.fmt_ns(r["total_ns"])))
        first = one.final_top()
        check(len(first) == 1 and first[0]["text"] == sl["text"] and
              first[0]["calls"] == 6, "--top 1 gave %r" % first)
    return "4 rows: %s" % "; ".join("%r x%d%s" % (
        r["text"], r["calls"], " (%d errors)" % r["errors"]
        if r["errors"] else "") for r in rows)


@test("pgquerylat/pid-backend")
def pid_backend():
    """-p BACKEND: only that session, while another runs beside it; -P
    over the postmaster sees both, each under its own pid."""
    need_tool()
    na, xa, nb, xb = 5, 0.02, 7, 0.03
    with pg.Cluster() as c, c.connect() as a, c.connect() as b:
        c.pgss_reset()

        def work():
            a.send(sleeps(xa, na))
            b.send(sleeps(xb, nb))
            a.wait()
            b.wait()

        (one, every), _ = traced([["-j", "-p", a.pid],
                                  ["-j", "-P", "--server", c.postmaster_pid]],
                                 work)
        hi_a = upper_bound(c, int(xa * 1e9))
        d = check_sleeps(one.final_hist(), na, int(xa * 1e9), hi_a,
                         "-p %d" % a.pid)
        per = every.final_hist("pid")
        check(sorted(per) == sorted([a.pid, b.pid]),
              "-P --server: pids %r, expected %d and %d" % (
                  sorted(per), a.pid, b.pid))
        check(per[a.pid]["count"] == na and per[b.pid]["count"] == nb,
              "-P: counts %d and %d, expected %d and %d" % (
                  per[a.pid]["count"], per[b.pid]["count"], na, nb))
    return d + "; other session: %d not counted" % nb


@test("pgquerylat/late-backend")
def late_backend():
    """-p POSTMASTER: a backend that connects after pgquerylat attached
    is measured, under its own pid (-P)."""
    need_tool()
    n, x = 5, 0.02
    xn = int(x * 1e9)
    with pg.Cluster() as c:
        before = c.backend_pids()
        c.pgss_reset()
        (out,), res = traced(
            [["-j", "-P", "--server", c.postmaster_pid]],
            lambda: c.psql("SELECT pg_backend_pid();\n" + sleeps(x, n)))
        pid = int(res.split()[0])
        hi = upper_bound(c, xn)
        check(pid not in before, "backend %d existed before" % pid)
        per = out.final_hist("pid")
        check(list(per) == [pid], "pids %r, expected only the new backend "
              "%d" % (list(per), pid))
        h = per[pid]
        check(h["count"] == n + 1, "count %d, expected %d (pg_backend_pid "
              "and %d sleeps)" % (h["count"], n + 1, n))
        check(h["sum_ns"] >= n * xn and h["max_ns"] <= hi,
              "sum %s below %d x %s, or max %s above %s" % (
                  report.fmt_ns(h["sum_ns"]), n, report.fmt_ns(xn),
                  report.fmt_ns(h["max_ns"]), report.fmt_ns(hi)))
    return "backend %d: %d statements, max %s" % (pid, h["count"],
                                                  report.fmt_ns(h["max_ns"]))


@test("pgquerylat/pg-stat-statements")
def pgss_agrees():
    """pgbench -S -T 5 -c 2 against pg_stat_statements (track=all,
    track_planning=on). Calls: equal (pgbench's own statements, vacuum,
    truncate, its scale and partition queries, are in both). Time:
    pgquerylat times active->idle, which holds the planning and execution
    pg_stat_statements adds up plus parse, analysis, commit, sending the
    result and the two marker hits; so it is at least pg_stat_statements'
    total and at most 50 us more per statement. Measured here: 18-21 us
    per statement in all against 8-9 us of planning and execution
    (2.2-2.4x for this trivial query, +9.6 to +12.2 us per statement, with
    pgquerylat and with a plain uprobe on the same marker alike); a ratio
    bound would depend on the query, the per-statement excess does not,
    and 50 us leaves 4x room."""
    need_tool()
    with pg.Cluster({"pg_stat_statements.track_planning": "on"}) as c:
        c.pgbench(["-i", "-s", 1, "-q"])
        c.pgss_reset()
        (out,), _ = traced([["-j", "--server", c.postmaster_pid]],
                           lambda: c.pgbench(["-S", "-T", 5, "-c", 2]))
        calls, ns = c.pgss_totals()
    h = out.final_hist()
    check(calls > 1000, "pg_stat_statements saw only %d calls" % calls)
    check(h["count"] == calls, "count %d, pg_stat_statements %d calls" % (
        h["count"], calls))
    extra = (h["sum_ns"] - ns) / calls
    detail = "%d statements; sum %s vs %s (%.2fx, +%.1f us/statement)" % (
        calls, report.fmt_ns(h["sum_ns"]), report.fmt_ns(ns),
        h["sum_ns"] / ns if ns else float("inf"), extra / 1000)
    check(h["sum_ns"] >= ns, "sum below pg_stat_statements': " + detail)
    check(extra <= PGSS_PER_CALL, "more than %d us/statement above "
          "pg_stat_statements: %s" % (PGSS_PER_CALL // 1000, detail))
    return detail


@test("pgquerylat/containers")
def containers():
    """A server on the host and one in a container (its own copy of the
    postgres binary, its own mount, pid and cgroup namespaces), each in a
    cgroup of its own: --bin with the host's file probes the host's copy
    only; with --all-containers both, each server's count in its cgroup
    equal to its own pg_stat_statements calls; --server with the
    container's postmaster probes its copy (found through its root), its
    statements only, and -p with one of its backends, that backend's."""
    need_tool()
    binp = os.path.join(pg.bindir(), "postgres")
    with Container("pg", own=[binp]) as ct, workload.Cgroup("host") as cgh, \
            pg.Cluster() as h, pg.Cluster(container=ct) as a, \
            a.connect() as s:
        cgh.add(h.postmaster_pid)     # its backends are forked from now
        for c in (h, a):
            c.pgss_reset()
        (host_only, every, one, backend), _ = traced(
            [["-j", "--per-cgroup", "--bin", binp],
             ["-j", "--per-cgroup", "--all-containers", "--bin", binp],
             ["-j", "--server", a.postmaster_pid],
             ["-j", "-p", s.pid]],
            lambda: (h.psql(sleeps(0.001, 12)), a.psql(sleeps(0.001, 20)),
                     s.query(sleeps(0.001, 7))))
        calls = {cgh.rel: h.pgss_totals()[0],
                 ct.cgroup.rel: a.pgss_totals()[0]}
    ours = set(calls)

    got = host_only.final_counts("cgroup", ours)
    check(got == {cgh.rel: calls[cgh.rel]}, "--bin: %s, expected the host "
          "server's only: %s" % (got, calls))
    got = every.final_counts("cgroup", ours)
    check(got == calls, "--all-containers: %s, pg_stat_statements %s" % (
        got, calls))
    n = one.final_hist()["count"]
    check(n == calls[ct.cgroup.rel], "--server %d (in the container): %d, "
          "its pg_stat_statements %d" % (a.postmaster_pid, n,
                                         calls[ct.cgroup.rel]))
    m = backend.final_hist()["count"]
    check(m == 7, "-p %d (a backend in the container): %d, it ran 7" % (
        s.pid, m))
    return "host %d, container %d: by --bin the host's only, "\
        "--all-containers both, --server in the container %d, -p of a "\
        "backend there %d" % (calls[cgh.rel], calls[ct.cgroup.rel], n, m)


PGBENCH_MODES = ("simple", "extended", "prepared")


def top_by_text(out, what):
    """--top's final rows by text; a text twice would be a grouping bug."""
    rows = out.final_top()
    by = {r["text"]: r for r in rows}
    check(len(by) == len(rows), "%s: --top printed a text twice: %r" % (
        what, sorted(r["text"] for r in rows)))
    return by


@test("pgquerylat/pgss-statements")
def pgss_statements():
    """pgbench's built-in tpcb-like script (-c 2 -t 50 -n, after -i -s 1)
    over -M simple, extended and prepared, against pg_stat_statements
    (track=all, track_planning=on, reset before each mode), statement by
    statement, matched by text (pg_stat_statements' with whitespace runs
    made one space, as pgquerylat prints text; neither has comments here):
    the same statements, each with exactly as many calls; pgquerylat's
    total at least pg_stat_statements' planning plus execution (its span,
    from the first message to Sync, holds both: no tolerance needed, both
    read CLOCK_MONOTONIC); the histogram's count their sum; no errors.
    pgbench's own queries (scale, partitions) are among them.

    One exception, pg_stat_statements' and known: with -M prepared it
    counts a utility statement (the script's BEGIN and END) once per
    connection only. Its ProcessUtility hook zeroes the queryId in the
    PlannedStmt, which for a prepared statement is the cached one, and a
    statement with queryId 0 is not recorded. For those two the test
    wants exactly one call per client from pg_stat_statements (the
    exception is that and nothing else) and one per transaction from
    pgquerylat."""
    need_tool()
    clients, txns = 2, 50
    utility = ("BEGIN", "END")
    details = []
    with pg.Cluster({"pg_stat_statements.track_planning": "on"}) as c:
        c.pgbench(["-i", "-s", 1, "-q"])
        pm = c.postmaster_pid
        for mode in PGBENCH_MODES:
            c.pgss_reset()
            (hist, top), _ = traced(
                [["-j", "--server", pm], ["-j", "--top", "1000", "--server", pm]],
                lambda: c.pgbench(["-n", "-M", mode, "-c", clients,
                                   "-t", txns]))
            server = c.pgss_statements()
            rows = top_by_text(top, mode)
            want = {t: v[0] for t, v in server.items()}
            for t in utility if mode == "prepared" else ():
                check(want.get(t) == clients, "prepared: pg_stat_statements"
                      " counts %r %s times, expected once per client (%d)"
                      % (t, want.get(t), clients))
                want[t] = clients * txns
            calls = sum(want.values())
            # seven statements a transaction, BEGIN to END
            check(calls >= 7 * clients * txns, "%s: %d calls, pgbench ran "
                  "%d statements" % (mode, calls, 7 * clients * txns))
            check(set(rows) == set(server), "%s: texts only pgquerylat has:"
                  " %r; only pg_stat_statements has: %r" % (
                      mode, sorted(set(rows) - set(server)),
                      sorted(set(server) - set(rows))))
            slack = []
            for text, (_, ns) in sorted(server.items()):
                r, n = rows[text], want[text]
                check((r["calls"], r["errors"]) == (n, 0),
                      "%s: %r: %d calls, %d errors; expected %d calls" % (
                          mode, text, r["calls"], r["errors"], n))
                check(r["total_ns"] >= ns, "%s: %r: %s in all, below "
                      "pg_stat_statements' planning and execution, %s" % (
                          mode, text, report.fmt_ns(r["total_ns"]),
                          report.fmt_ns(ns)))
                slack.append((r["total_ns"] - ns) / n)
            h = hist.final_hist()
            check(h["count"] == calls, "%s: histogram counts %d, "
                  "pg_stat_statements %d calls" % (mode, h["count"], calls))
            got = hist.final_report()["errors"]
            check(got == 0, "%s: %d errors" % (mode, got))
            details.append("%s: %d statements, %d calls, %.1f to %.1f "
                           "us/call above" % (mode, len(server), calls,
                                              min(slack) / 1000,
                                              max(slack) / 1000))
    return "; ".join(details)


@test("pgquerylat/rollback-modes")
def rollback_modes():
    """BEGIN; SELECT 1; ROLLBACK; from pgbench -n -c 1 -t N in -M simple,
    extended and prepared: every statement counted and none an error, in
    histogram mode, with -t 0 and with --top; one `SELECT 1/0` from psql in
    the same window is the control: exactly one error in each mode."""
    need_tool()
    n = 20
    details = []
    with pg.Cluster() as c:
        script = c.write_file("rollback.sql",
                              "BEGIN;\nSELECT 1;\nROLLBACK;\n")
        pm = c.postmaster_pid
        for mode in PGBENCH_MODES:
            def work():
                c.pgbench(["-n", "-M", mode, "-c", 1, "-t", n, "-f", script])
                c.psql("SELECT 1/0;", on_error_stop=False, stderr=True)

            (hist, ev, top), _ = traced([["-j", "--server", pm],
                                         ["-j", "-M", "0", "--server", pm],
                                         ["-j", "--top", "10", "--server", pm]],
                                        work)
            want = 3 * n + 1
            h = hist.final_hist()
            got = (h["count"], hist.final_report()["errors"])
            check(got == (want, 1), "%s, histogram: %d statements, %d "
                  "errors; expected %d and 1 (the 1/0)" % ((mode,) + got +
                                                          (want,)))
            errs = [e["text"] for e in ev.events if e["error"]]
            check(len(ev.events) == want and len(errs) == 1 and
                  "/" in errs[0], "%s, -t 0: %d events, errors %r; expected"
                  " %d and only the 1/0" % (mode, len(ev.events), errs, want))
            rows = top_by_text(top, mode)
            bad = {t: r["errors"] for t, r in rows.items()
                   if r["errors"] != ("/" in t)}
            check(sum(r["calls"] for r in rows.values()) == want and
                  not bad, "%s, --top: %d calls, errors %r; expected %d, "
                  "one error, the 1/0's" % (
                      mode, sum(r["calls"] for r in rows.values()),
                      {t: r["errors"] for t, r in rows.items()}, want))
            rb = [r for t, r in rows.items() if t.upper() == "ROLLBACK"]
            check(len(rb) == 1 and rb[0]["calls"] == n, "%s, --top: "
                  "ROLLBACK rows %r, expected one of %d calls" % (mode, rb, n))
            details.append(mode)
    return "%d ROLLBACKs, 0 errors and the control's 1 in %s, in each of " \
        "histogram, -t 0, --top" % (n, ", ".join(details))


# ---- bad input ----

BAD = {
    "bin-missing": (["--bin", "/nonexistent"], 2, ["/nonexistent"]),
    "bin-no-markers": (["--bin", "/bin/true"], 1, ["no USDT markers"]),
    "pid-not-postgres": (["-p", os.getpid()], 2, [str(os.getpid())]),
    "pid-0": (["-p", "0"], 2, ["0"]),
    "pid-missing": (lambda: ["-p", free_pid()], 2, []),
    "attach-method": (["--attach", "raw_tp"], 2, ["--attach"]),
    "owner-and-per-db": (["--per-cgroup", "--per-db"], 2,
                         ["--per-cgroup", "--per-db"]),
    "owner-and-threshold": (["-P", "-M", "5"], 2, ["-P", "-M"]),
}
tool.register_bad(TOOL, BAD,
                  lambda: ["--bin", os.path.join(pg.bindir(), "postgres")])


@test("pgquerylat/pid-or-server")
def pid_or_server():
    """-p takes one backend, --server a postmaster: each given the other
    kind of process, or both together, is a usage error that names the
    right option."""
    need_tool()
    with pg.Cluster() as c, c.connect() as a:
        pm, be = c.postmaster_pid, a.pid
        said = [tool.one_line_error(TOOL, argv, 2, names) for argv, names in (
            (["-p", pm], ["--server %d" % pm]),
            (["--server", be], ["-p %d" % be]),
            (["--server", os.getpid()], ["not a PostgreSQL server"]),
            (["-p", be, "--server", pm], ["-p and --server"]))]
    return "; ".join(said)


@test("pgquerylat/phases")
def phases():
    """--phases: the execute phase of pg_sleep(X) lasts at least X, and a
    statement blocked on a table lock that another session holds for H
    shows exactly one lock wait of about H (it starts once the blocked
    backend asks for the lock, a few ms after we send it, and ends at the
    holder's COMMIT, sent H after)."""
    import time
    need_tool()
    n, x, hold = 5, 0.02, 0.3
    with pg.Cluster() as c, c.connect() as a, c.connect() as b:
        a.query("CREATE TABLE locked (i int);")

        def work():
            a.send(sleeps(x, n))
            a.wait()
            a.send("BEGIN; LOCK TABLE locked IN ACCESS EXCLUSIVE MODE;")
            a.wait()
            b.send("SELECT count(*) FROM locked;")
            time.sleep(hold)
            a.send("COMMIT;")
            a.wait()
            b.wait()

        (out,), _ = traced([["-j", "--phases", "--server", c.postmaster_pid]],
                           work)
        per = out.final_hist("phase")
    for name in ("parse", "plan", "execute", "lock wait"):
        check(name in per, "--phases: no %r histogram among %r" % (
            name, sorted(per)))
    lw, ex = per["lock wait"], per["execute"]
    hold_ns = int(hold * 1e9)
    check(lw["count"] == 1, "lock waits: %d, expected 1" % lw["count"])
    check(hold_ns - 100 * MS <= lw["max_ns"] <= hold_ns + 100 * MS,
          "lock wait %s, expected %s +- 100ms" % (
              report.fmt_ns(lw["max_ns"]), report.fmt_ns(hold_ns)))
    check(ex["count"] >= n and ex["sum_ns"] >= n * int(x * 1e9),
          "execute: %d runs, %s in all; expected at least %d and %s" % (
              ex["count"], report.fmt_ns(ex["sum_ns"]), n,
              report.fmt_ns(n * x * 1e9)))
    return "lock wait %s (held %s); execute %d runs, %s" % (
        report.fmt_ns(lw["max_ns"]), report.fmt_ns(hold_ns), ex["count"],
        report.fmt_ns(ex["sum_ns"]))
