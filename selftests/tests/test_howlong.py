"""howlong's verdicts against what happens: every tool it judges is run
against a real workload of its kind (the workloads of its own tests), and
"works" or "fallback" must mean exit 0 with counts, "cannot" a one-line
failure. howlong reasons from the tools' objects and the kernel without
loading anything; these runs are the independent truth, here and on
every kernel of the kernel matrix (5.10 has no lock:contention_begin, no
attach cookies, no task storage in scheduler hooks: the verdicts that
change there are held to the runs there).

A fallback that asks for -p (markers told apart by address) is tried
both ways: the tool's default run must fail, and with -p work.
"""
import json
import os
import socket
import subprocess
import threading
import time

from lib import jvm, kernel, pairs, pg, tool
from lib.harness import check, test

TOOL = "howlong"


def verdicts(prefix=()):
    r = tool.run(["-j"], name=TOOL, prefix=prefix)
    r.expect_rc(0)
    out = {}
    for line in r.out.splitlines():
        v = json.loads(line)
        check(v["type"] == "verdict" and v["tool"] == TOOL,
              "not a verdict: %r" % line)
        out[v["name"]] = v
    return out


def counted(result):
    """Samples in the tool's JSON Lines: its histograms' counts and its
    events (each tool's own tests check the schema)."""
    n = 0
    for line in result.out.splitlines():
        o = json.loads(line)
        n += sum(h["count"] for h in o.get("hists", ())) + (
            o.get("type") == "event")
    return n


def run_traced(name, args, work, target_exits=False):
    """(rc, samples, error line) of name with args around work()."""
    try:
        tracers = tool.start_all(name, [args])
    except Exception as e:     # it did not start: that is its verdict
        return 1, 0, str(e)[-200:]
    try:
        work()
    finally:
        results = [t.stop() for t in tracers]
        for t in tracers:
            t.__exit__(None, None, None)
    r = results[0]
    if r.rc and not (target_exits and tool.ended_with_target(r)):
        return r.rc, 0, r.err.strip()[-200:]
    return 0, counted(r), ""


def wakeups():
    for _ in range(200):
        time.sleep(0.001)


def syscalls():
    for _ in range(2000):
        os.getppid()
    time.sleep(0.2)


def tcp_rounds(n=20):
    """n connects to a listener on 127.0.0.1, a round trip on each."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(n)

    def serve():
        for _ in range(n):
            c, _ = srv.accept()
            c.sendall(c.recv(16))
            c.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    for _ in range(n):
        with socket.create_connection(srv.getsockname(), timeout=10) as c:
            c.sendall(b"ping")
            c.recv(16)
    t.join(10)
    srv.close()


def trial_block(args):
    from tests import test_biolat as b
    with b.Loop() as loop:
        return run_traced("biolat", args,
                          lambda: b.io(loop.dev, "read", 20))


def trial_irq(args):
    return run_traced("irqlat", args + ["-S"], tcp_rounds)


def trial_locks(args):
    n = 2000 if kernel.emulated() else 20000
    with pairs.Pairs("contend", "maps", 4, n) as p:
        return run_traced("locklat", args + ["-p", str(p.pid)],
                          lambda: p.go(timeout=120))


def trial_reclaim(args):
    from tests import test_reclaimlat as rl
    paths = rl.files_to_read()
    with rl.MemCgroup(rl.LIMIT) as cg:
        try:
            (rep,), _, _, _ = rl.reading(cg, paths, [args])
        except Exception as e:
            return 1, 0, str(e)[-200:]
    return 0, sum(h["count"] for h in rep["hists"]), ""


def trial_funcs(args, pid_needed):
    with pairs.Pairs("funcs", 5, 1) as p:
        pid = ["-p", str(p.pid)] if pid_needed else []
        return run_traced("funclat", args + pid +
                          [pairs.PATH + ":work_*"], p.go)


def trial_markers(args, pid_needed):
    with pairs.Pairs("threads", 2, 3, 1) as p:
        pid = ["-p", str(p.pid)] if pid_needed else []
        return run_traced("usdtlat", args + pid +
                          [pairs.PATH, "hltest:req__start",
                           "hltest:req__done"], p.go)


def trial_postgres(args, pid_needed):
    with pg.Cluster() as c, c.connect() as s:
        who = ["-p", str(s.pid)] if pid_needed else \
            ["--server", str(c.postmaster_pid)]
        return run_traced("pgquerylat", args + who,
                          lambda: [s.query("SELECT %d;" % i)
                                   for i in range(10)])


def trial_jit(args, pid_needed):
    with jvm.Jvm(rounds=2) as j:
        pid = ["-p", str(j.pid)] if pid_needed else []
        return run_traced("jitlat", args + pid, j.go)


def trial_pauses(args, pid_needed):
    with jvm.PauseJvm(2, 1) as j:
        pid = ["-p", str(j.pid)] if pid_needed else []
        return run_traced("jvmpauselat", args + pid,
                          lambda: (j.go(), j.finish()), target_exits=True)


def trial_list(args):
    r = tool.run(["-j", pairs.PATH], name="usdtlist")
    return r.rc, len(r.out.splitlines()), r.err.strip()


KERNEL_TRIALS = {
    "schedlat": lambda a: run_traced("schedlat", a, wakeups),
    "syslat": lambda a: run_traced("syslat", a, syscalls),
    "biolat": trial_block,
    "irqlat": trial_irq,
    "connlat": lambda a: run_traced("connlat", a, tcp_rounds),
    "rttlat": lambda a: run_traced("rttlat", a, tcp_rounds),
    "locklat": trial_locks,
    "reclaimlat": trial_reclaim,
    "usdtlist": trial_list,
}
USER_TRIALS = {
    "funclat": trial_funcs, "usdtlat": trial_markers,
    "pgquerylat": trial_postgres, "jitlat": trial_jit,
    "jvmpauselat": trial_pauses,
}


def pid_fallback(v):
    return any("-p " in w for w in v["fallbacks"])


def judge_one(name, v):
    """The tool's real run(s) for its verdict: (table row, [problems])."""
    args = ["-j"] if name != "usdtlist" else []
    if name in KERNEL_TRIALS:
        runs = [("", KERNEL_TRIALS[name](args))]
    elif pid_fallback(v):
        runs = [("default", USER_TRIALS[name](args, False)),
                ("-p", USER_TRIALS[name](args, True))]
    else:
        runs = [("", USER_TRIALS[name](args, False))]
    problems = []
    for how, (rc, n, err) in runs:
        worked = rc == 0 and n > 0
        expect = v["verdict"] != "cannot" and how != "default"
        if worked != expect:
            problems.append("%s%s: howlong says %s (%s), the run %s" % (
                name, " " + how if how else "", v["verdict"],
                v["why"] or "; ".join(v["fallbacks"]) or "-",
                "exited %d with %d samples%s" % (
                    rc, n, ": " + err if err else "")))
        elif not worked and not (rc != 0 and err and "\n" not in err):
            problems.append("%s%s failed without one line: exit %d, %r" % (
                name, " " + how if how else "", rc, err))
    return "%s %s (%s)" % (name, v["verdict"], ", ".join(
        "%s%d" % (how + " " if how else "", n)
        for how, (rc, n, e) in runs)), problems


@test("howlong/verdicts-vs-runs")
def verdicts_vs_runs():
    """Every tool howlong lists, run for real: its verdict holds."""
    tool.need(TOOL)
    got = verdicts()
    names = set(KERNEL_TRIALS) | set(USER_TRIALS)
    check(set(got) == names, "howlong judged %s, the tests know %s" % (
        sorted(got), sorted(names)))
    judged = [judge_one(n, got[n]) for n in sorted(got)]
    problems = [p for _, ps in judged for p in ps]
    check(not problems, "; ".join(problems))
    return "%s: %s" % (kernel.release(), "; ".join(r for r, _ in judged))


@test("howlong/detail")
def detail():
    """howlong TOOL: the tracepoints a kernel tool needs as its BTF has
    them (btf_trace_NAME prototypes, read here from bpftool), and the
    running PostgreSQL server among pgquerylat's targets."""
    tool.need(TOOL)
    r = tool.run(["locklat"], name=TOOL)
    r.expect_rc(0)
    has = kernel.has_name("btf_trace_contention_begin")
    check(("contention_begin found" in r.out) == has and
          ("contention_begin MISSING" in r.out) != has,
          "locklat's tracepoint, BTF has it: %s; howlong said %r" % (
              has, r.out))
    with pg.Cluster() as c:
        v = verdicts()["pgquerylat"]
    pids = [t["pid"] for t in v["targets"]]
    check(c.postmaster_pid in pids, "the running server %d not among "
          "pgquerylat's targets %s" % (c.postmaster_pid, pids))
    t = v["targets"][pids.index(c.postmaster_pid)]
    check(t["markers"] > 0, "its postgres has %d markers" % t["markers"])
    return "contention_begin %s; server %d: %s, %d marker sites" % (
        "found" if has else "missing", c.postmaster_pid, t["path"],
        t["markers"])


@test("howlong/unprivileged")
def unprivileged():
    """As nobody: the same verdicts the kernel decides (tracepoints, BTF),
    and it says what it could not check, instead of failing."""
    tool.need(TOOL)
    root = verdicts()
    mine = verdicts(prefix=tool.NOBODY)
    for name, v in mine.items():
        check(not v["privileged"] and v["needs_root"] == (
            name != "usdtlist"), "%s: privileged %s, needs_root %s" % (
                name, v["privileged"], v["needs_root"]))
        check((v["verdict"] == "cannot") == (root[name]["verdict"] ==
                                             "cannot"),
              "%s: %s as nobody, %s as root" % (
                  name, v["verdict"], root[name]["verdict"]))
    unchecked = [n for n, v in mine.items() if v["not_checked"]]
    check("pgquerylat" in unchecked and "syslat" in unchecked,
          "not said what it could not check: %s" % sorted(unchecked))
    r = tool.run([], name=TOOL, prefix=tool.NOBODY)
    r.expect_rc(0)
    check("Not root" in r.out, "the table does not say it ran without "
          "root: %r" % r.out[:300])
    return "%d tools; unchecked said for %d" % (len(mine), len(unchecked))


tool.register_bad(TOOL, {
    "unknown-tool": (["nosuchtool"], 2, ["unknown tool 'nosuchtool'"]),
    "two-tools": (["schedlat", "syslat"], 2, ["unexpected argument"]),
    "unknown-option": (["--bogus"], 2, ["unrecognized option"]),
}, None)
