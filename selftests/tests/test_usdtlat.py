"""usdtlat against selftests/c/pairs.c, a program with markers of its own
that times every interval itself (lib/pairs.py).

Bound: the program reads CLOCK_MONOTONIC just before the START marker and
just after the END marker, and sleeps a known time between them;
usdtlat's clock reads happen inside the two marker traps, so every
interval it reports must lie in [slept, the program's span] — no
tolerance. Pairing: per thread innermost first (nested pairs), by an
argument value across threads (--key); starts that never end expire
after --timeout and are counted in "lost".
"""
import collections
import os
import subprocess
import time

from lib import markers, pairs, report, tool, workload
from lib.container import Container
from lib.harness import Failure, check, test
from lib.procs import die_with_parent

TOOL = "usdtlat"
EVENT_KEYS = {"type", "tool", "time", "pid", "tid", "end_tid",
              "duration_ns"}
START, DONE = "hltest:req__start", "hltest:req__done"
QUEUED, JOB_DONE = "hltest:job__queued", "hltest:job__done"


def check_event(e):
    check(EVENT_KEYS <= set(e) and all(
        k in EVENT_KEYS or k.startswith("arg") for k in e),
        "event fields %s" % sorted(e))
    check(e["tool"] == TOOL and all(report.uint(e[k]) for k in (
        "pid", "tid", "end_tid", "duration_ns")), "bad event %r" % e)
    check(isinstance(e["time"], str) and report.TIME_RE.match(e["time"]),
          "event time %r" % (e["time"],))
    return e


def Output(result):
    return report.ToolOutput(result, TOOL, ("unmatched",), check_event)


def traced(arg_lists, p):
    """Tracers on the running pairs program p, its work, the outputs."""
    results, recs = tool.traced(TOOL, arg_lists, p.go)
    return [Output(r) for r in results], recs


def within(d, rec, what):
    check(rec.slept_ns <= d <= rec.span_ns, "%s: %d ns, outside [%d, %d] "
          "(slept, the program's own span) for %r" % (
              what, d, rec.slept_ns, rec.span_ns, rec))


def match_ids(events, recs, what):
    """Each event (arg0 = id) against the program's record of that id."""
    by_id = {r.id: r for r in recs}
    got = collections.Counter(e["arg0"] for e in events)
    want = collections.Counter(r.id for r in recs)
    check(got == want, "%s: ids %s, the program timed %s" % (
        what, sorted(got.elements()), sorted(want.elements())))
    for e in events:
        within(e["duration_ns"], by_id[e["arg0"]], what)


def slack(events, recs):
    """How far inside the bounds, median over the events: "interval -
    slept (oversleep and marker traps), span - interval (the traps and
    the program's clock reads)"."""
    by_id = {r.id: r for r in recs}
    over = sorted(e["duration_ns"] - by_id[e["arg0"]].slept_ns
                  for e in events)
    under = sorted(by_id[e["arg0"]].span_ns - e["duration_ns"]
                   for e in events)
    return "median %s above slept, %s below the span (max %s)" % (
        report.fmt_ns(over[len(over) // 2]),
        report.fmt_ns(under[len(under) // 2]), report.fmt_ns(under[-1]))


@test("usdtlat/threads")
def threads():
    """4 threads x 6 pairs: every interval as an event within its bound,
    on the thread that ran it; the histogram beside it agrees. Both builds
    of the program: position-independent and fixed-address (ET_EXEC)."""
    tool.need(TOOL)
    return "; ".join("%s: %s" % (what, threads_of(path))
                     for what, path in pairs.BUILDS)


def threads_of(path):
    with pairs.Pairs("threads", 4, 6, 2, path=path) as p:
        (ev, hist), recs = traced(
            [["-j", "-M", "0", "-a", "0", "-p", p.pid, path, START, DONE],
             ["-j", "-p", p.pid, path, START, DONE]], p)
    check(len(recs) == 24, "the program timed %d pairs" % len(recs))
    match_ids(ev.events, recs, "-t 0")
    tids = {e["tid"] for e in ev.events}
    check(len(tids) == 4 and all(e["end_tid"] == e["tid"]
                                 for e in ev.events),
          "events on threads %r" % sorted(tids))
    h = hist.final_hist()
    check(h["count"] == 24, "histogram count %d, 24 pairs" % h["count"])
    lo, hi = sum(r.slept_ns for r in recs), sum(r.span_ns for r in recs)
    check(lo <= h["sum_ns"] <= hi, "histogram sum %d outside [%d, %d]" % (
        h["sum_ns"], lo, hi))
    return "24/24 pairs on 4 threads, each in [slept, span]: %s; " \
        "histogram sum %s in [%s, %s]" % (
            slack(ev.events, recs), report.fmt_ns(h["sum_ns"]),
            report.fmt_ns(lo), report.fmt_ns(hi))


@test("usdtlat/by-path")
def by_path():
    """Without -p: the markers are probed by path, in every process that
    maps the file (here only the test program), for both builds."""
    tool.need(TOOL)
    tool.one_process_only(TOOL, [["-j", pairs.PATH, START, DONE]])
    done = []
    for what, path in pairs.BUILDS:
        with pairs.Pairs("threads", 2, 3, 1, path=path) as p:
            (out,), recs = traced([["-j", path, START, DONE]], p)
        h = out.final_hist()
        check(h["count"] == len(recs) == 6, "%s: %d pairs, the program "
              "timed %d" % (what, h["count"], len(recs)))
        check(sum(r.slept_ns for r in recs) <= h["sum_ns"] <=
              sum(r.span_ns for r in recs), "%s: sum %d outside the "
              "program's bounds" % (what, h["sum_ns"]))
        done.append("%s 6/6" % what)
    return ", ".join(done)


@test("usdtlat/by")
def by():
    """--by 1 (an integer) and --by 2:str (a string): one histogram per
    kind, with the program's counts, min and max within the bounds."""
    tool.need(TOOL)
    with pairs.Pairs("threads", 2, 9, 1) as p:
        (a, b), recs = traced(
            [["-j", "--by", "1", "-p", p.pid, pairs.PATH, START, DONE],
             ["-j", "--by", "2:str", "-p", p.pid, pairs.PATH, START, DONE]],
            p)
    names = ("fast", "medium", "slow")
    for out, field, key in ((a, "arg1", lambda k: k),
                            (b, "arg2", lambda k: names[k])):
        hists = out.final_hist(field)
        check(set(hists) == {key(k) for k in range(3)},
              "--by %s: keys %r" % (field, sorted(hists)))
        for k in range(3):
            mine = [r for r in recs if r.kind == k]
            h = hists[key(k)]
            check(h["count"] == len(mine), "%s=%r: count %d, the program "
                  "%d" % (field, key(k), h["count"], len(mine)))
            check(min(r.slept_ns for r in mine) <= h["min_ns"] and
                  h["max_ns"] <= max(r.span_ns for r in mine),
                  "%s=%r: [%d, %d] outside the program's bounds" % (
                      field, key(k), h["min_ns"], h["max_ns"]))
    return "3 kinds x 6 pairs, by integer and by string"


@test("usdtlat/owners")
def owners():
    """-P, -L, --per-cgroup, --by with -P, and -c, on two copies of the
    program at once, each in a cgroup of its own: every owner's count is
    the count its program timed, the owner keys come after --by's, and
    -c counts its cgroup's program only."""
    tool.need(TOOL)
    # non-PIE: by path on kernels without attach cookies too
    args = [pairs.NOPIE, START, DONE]
    with workload.Cgroup("a") as cga, workload.Cgroup("b") as cgb, \
            pairs.Pairs("threads", 2, 6, 1, path=pairs.NOPIE) as a, \
            pairs.Pairs("threads", 2, 3, 1, path=pairs.NOPIE) as b:
        cga.add(a.pid)
        cgb.add(b.pid)
        results, (ra, rb) = tool.traced(TOOL, [["-j", "-P"] + args,
                                 ["-j", "--per-cgroup"] + args,
                                 ["-j", "-L"] + args,
                                 ["-j", "--by", "1", "-P"] + args,
                                 ["-j", "-c", cga.path] + args],
                                lambda: (a.go(), b.go()))
        outs = [Output(r) for r in results]
        rel = {a.pid: cga.rel, b.pid: cgb.rel}
    recs = {a.pid: ra, b.pid: rb}
    by_pid = outs[0].final_hist("pid")
    check({p: h["count"] for p, h in by_pid.items()} ==
          {p: len(r) for p, r in recs.items()},
          "-P: %s, the programs timed %s" % (
              {p: h["count"] for p, h in by_pid.items()},
              {p: len(r) for p, r in recs.items()}))
    check(all(h["key"].get("comm") == "pairs-nopie"
              for h in by_pid.values()),
          "-P: comm %s" % [h["key"] for h in by_pid.values()])
    by_cg = {k: h["count"] for k, h in outs[1].final_hist("cgroup").items()
             if k in rel.values()}
    check(by_cg == {rel[p]: len(r) for p, r in recs.items()},
          "--per-cgroup: %s, the programs timed %s" % (
              by_cg, {rel[p]: len(r) for p, r in recs.items()}))
    # Each of a program's two threads does its pairs ("threads 2 N").
    by_tid = sorted(h["count"] for h in outs[2].final_hist("tid").values())
    want_tid = sorted([len(ra) // 2] * 2 + [len(rb) // 2] * 2)
    check(by_tid == want_tid, "-L: counts per thread %s, the programs' "
          "threads did %s" % (by_tid, want_tid))
    both = outs[3].final_report()["hists"]
    got = collections.Counter({(h["key"]["arg1"], h["key"]["pid"]):
                               h["count"] for h in both})
    want = collections.Counter((rec.kind, p) for p, r in recs.items()
                               for rec in r)
    check(got == want, "--by 1 -P: %s, the programs %s" % (
        dict(got), dict(want)))
    check(all(list(h["key"]) == ["arg1", "pid", "comm"] for h in both),
          "--by 1 -P: key order %s" % [list(h["key"]) for h in both])
    n = outs[4].final_hist()["count"]
    check(n == len(ra), "-c %s: %d, its program timed %d" % (cga.rel, n,
                                                             len(ra)))
    return "-P %d/%d, --per-cgroup %s, -L %d threads, --by 1 -P %d " \
        "keys, -c %d" % (by_pid[a.pid]["count"], by_pid[b.pid]["count"],
                         sorted(by_cg.values()), len(by_tid), len(got), n)


def cgroup_of(pid):
    """pid's cgroup v2 path, as the tools label it."""
    with open("/proc/%d/cgroup" % pid) as f:
        return [l[3:].strip() for l in f if l.startswith("0::")][0]


@test("usdtlat/containers")
def containers():
    """The program on the host and in two containers, each container with
    its own copy (another inode at the same path): by path, only the
    host's copy is probed; with --all-containers every copy, each counted
    in its own cgroup exactly; -p with a container's process and the
    path as the container sees it probes its copy only. Without attach
    cookies (before 5.15) libbpf tells markers apart by address, which
    copies share: --all-containers must say so in one line, exit 1."""
    from lib import kernel
    tool.need(TOOL)
    # non-PIE: by path on kernels without attach cookies too
    args = [pairs.NOPIE, START, DONE]
    cookies = kernel.attach_cookies()
    with Container("a", own=[pairs.NOPIE]) as ca, \
            Container("b", own=[pairs.NOPIE]) as cb, \
            pairs.Pairs("threads", 2, 2, 1, path=pairs.NOPIE) as h, \
            pairs.Pairs("threads", 2, 3, 1, path=pairs.NOPIE,
                        container=ca) as a, \
            pairs.Pairs("threads", 2, 5, 1, path=pairs.NOPIE,
                        container=cb) as b:
        cgs = {h: cgroup_of(h.pid), a: cgroup_of(a.pid),
               b: cgroup_of(b.pid)}
        check(cgs[a] == ca.cgroup.rel and cgs[b] == cb.cgroup.rel,
              "containers in cgroups %s" % list(cgs.values()))
        if not cookies:
            said = tool.one_line_error(TOOL, ["--all-containers"] + args,
                                       1, ["Linux 5.15", "-p"])
        results, recs = tool.traced(TOOL, [
            ["-j", "--per-cgroup"] + args] + ([
                ["-j", "--per-cgroup", "--all-containers"] + args]
                if cookies else []) + [
            ["-j", "-p", str(a.pid)] + args],
            lambda: {p: p.go() for p in (h, a, b)})
    outs = [Output(r) for r in results]
    host_only, one = outs[0], outs[-1]
    want = {cgs[p]: len(r) for p, r in recs.items()}
    got = {k: v["count"] for k, v in host_only.final_hist("cgroup").items()}
    check(got == {cgs[h]: len(recs[h])}, "by path: %s, expected only the "
          "host's %d" % (got, len(recs[h])))
    if cookies:
        got = {k: v["count"]
               for k, v in outs[1].final_hist("cgroup").items()}
        check(got == want, "--all-containers: %s, the programs timed %s" %
              (got, want))
        said = "--all-containers %s" % sorted(want.values())
    n = one.final_hist()["count"]
    check(n == len(recs[a]), "-p %d (in container a): %d, it timed %d" % (
        a.pid, n, len(recs[a])))
    return "by path %d; %s; -p in a container %d" % (len(recs[h]), said, n)


@test("usdtlat/nested")
def nested():
    """A pair inside a pair on one thread: the inner END closes the inner
    START, the outer the outer."""
    tool.need(TOOL)
    with pairs.Pairs("nested", 5, 2) as p:
        (ev,), recs = traced([["-j", "-M", "0", "-a", "0", "-a", "2:str",
                               "-p", p.pid, pairs.PATH, START, DONE]], p)
    match_ids(ev.events, recs, "nested")
    for e in ev.events:
        want = "inner" if e["arg0"] % 2 else "outer"
        check(e["arg2"] == want, "event %r: arg2 %r" % (e, e["arg2"]))
    return "%d pairs, 5 inner within 5 outer, each in its bound: %s" % (
        len(ev.events), slack(ev.events, recs))


@test("usdtlat/key")
def key():
    """Queued on one thread, done on another: --key 0 pairs them by the
    job id; pairing by thread finds none and counts the ENDs unmatched."""
    tool.need(TOOL)
    with pairs.Pairs("queue", 6, 3) as p:
        (ev, thread), recs = traced(
            [["-j", "--key", "0", "-M", "0", "-a", "0", "-p", p.pid,
              pairs.PATH, QUEUED, JOB_DONE],
             ["-j", "-p", p.pid, pairs.PATH, QUEUED, JOB_DONE]], p)
    match_ids(ev.events, recs, "--key 0")
    check(all(e["end_tid"] != e["tid"] for e in ev.events),
          "--key pairs did not cross threads: %r" % ev.events[:2])
    rep = thread.final_report()
    h = report.only_hist(rep)
    check(h["count"] == 0 and rep["unmatched"] == 6, "by thread: count %d,"
          " unmatched %d; expected 0 and 6" % (h["count"], rep["unmatched"]))
    return "6/6 jobs paired across threads (%s); by thread: 0 paired, 6 " \
        "unmatched" % slack(ev.events, recs)


@test("usdtlat/expire")
def expire():
    """5 starts that never end are dropped after --timeout 1 and counted
    lost, by key and by thread; a later pair still counts."""
    tool.need(TOOL)
    with pairs.Pairs("orphans", 5) as p:
        tracers = tool.start_all(TOOL, [
            ["-j", "--timeout", "1", "--key", "0", "-p", p.pid, pairs.PATH,
             QUEUED, JOB_DONE],
            ["-j", "--timeout", "1", "-p", p.pid, pairs.PATH, QUEUED,
             JOB_DONE],
            ["-j", "-p", p.pid, pairs.PATH, START, DONE]])
        try:
            recs = p.go()
            time.sleep(2.5)
        except BaseException:
            for t in tracers:
                t.__exit__(None, None, None)
            raise
        outs = [Output(r) for r in tool.stop_all(tracers)]
    for out, how in zip(outs[:2], ("--key", "by thread")):
        rep = out.final_report()
        check(rep["lost"] == 5 and report.only_hist(rep)["count"] == 0,
              "%s: lost %d, count %d; expected 5 and 0" % (
                  how, rep["lost"], report.only_hist(rep)["count"]))
    h = outs[2].final_hist()
    check(h["count"] == 1 and h["max_ns"] <= recs[0].span_ns,
          "the pair after the orphans: %r" % h)
    return "5 never-ending starts lost by key and by thread; 1 later pair"


# ---- bad input ----

def _start():
    return [pairs.PATH, START, DONE]


BAD = {
    "no-markers-given": ([pairs.PATH], 2, ["PROVIDER:START"]),
    "marker-syntax": (lambda: [pairs.PATH, "nocolon", DONE], 2,
                      ["nocolon"]),
    "same-marker": (lambda: [pairs.PATH, START, START], 2, ["same"]),
    "binary-missing": (["/nonexistent", START, DONE], 2, ["/nonexistent"]),
    "binary-no-markers": (["/bin/true", START, DONE], 1,
                          ["no USDT markers"]),
    "marker-missing": (lambda: [pairs.PATH, "hltest:nope", DONE], 1,
                       ["hltest:nope"]),
    "by-range": (lambda: ["--by", "3"] + _start(), 2, ["3 arguments"]),
    "key-range": (lambda: ["--key", "0,1"] + _start(), 2, ["1 argument"]),
    "key-syntax": (lambda: ["--key", "x"] + _start(), 2, ["'x'"]),
    "arg-without-t": (lambda: ["-a", "0"] + _start(), 2, ["-M"]),
    "arg-syntax": (lambda: ["-M", "1", "-a", "0:int"] + _start(), 2,
                   ["0:int"]),
    "timeout": (lambda: ["--timeout", "0"] + _start(), 2, ["timeout"]),
    # this runner maps no "pairs"
    "pid-not-mapping": (lambda: ["-p", os.getpid(), "pairs", START, DONE],
                        2, ["maps no pairs"]),
    # a path this runner does not map: another copy of a binary
    "pid-not-mapping-path": (lambda: ["-p", os.getpid()] + _start(), 2,
                             ["does not map " + pairs.PATH]),
    "attach-method": (lambda: ["--attach", "tp_btf"] + _start(), 2,
                      ["--attach"]),
    "all-containers-and-pid": (
        lambda: ["--all-containers", "-p", os.getpid()] + _start(), 2,
        ["--all-containers", "-p"]),
}
tool.register_bad(TOOL, BAD, _start)


# ---- -p: that process only ----

def load_base(pid, path):
    """How far process pid's mapping of the file at path is moved from the
    addresses it was linked at (0 for a fixed-address executable)."""
    ino = os.stat(path).st_ino
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            w = line.split()
            if len(w) >= 6 and int(w[4]) == ino and int(w[2], 16) == 0:
                return int(w[0].split("-")[0], 16) - markers.link_base(path)
    raise Failure("process %d does not map %s" % (pid, path))


def probed(pid, path, site, sema):
    """(breakpoint at the site, semaphore value), read from pid's memory."""
    base = load_base(pid, path)
    with open("/proc/%d/mem" % pid, "rb") as f:
        f.seek(base + site)
        first = f.read(1)
        f.seek(base + sema)
        count = int.from_bytes(f.read(2), "little")
    return first == b"\xcc", count


class Spinner:
    """build/test-progs/markers spin: a process that waits on stdin."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        self.proc = subprocess.Popen([self.path, "spin"],
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     preexec_fn=die_with_parent)
        check(self.proc.stdout.readline() == b"ready\n", "spin: no ready")
        self.pid = self.proc.pid
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdin.close()
        self.proc.stdout.close()
        return False


@test("usdtlat/pid-only")
def pid_only():
    """-p A probes A alone: in A the START site becomes a breakpoint and
    the guarded END marker's semaphore is raised; in B, the same program
    running beside it, neither, as read from each process's memory (so
    B pays nothing for A's tracing). Both builds of the program."""
    tool.need(TOOL)
    for what, path in markers.builds():
        pid_only_of(what, path)
    return "traced: int3 at the site, semaphore 1; the other: neither; " \
        "both gone after (PIE and non-PIE)"


def pid_only_of(what, path):
    sites = markers.by_marker(markers.readelf_sites(path))
    site = sites[("hltest", "no__args")][0].pc
    sema = sites[("hltest", "guarded")][0].semaphore
    check(sema, "hltest:guarded has no semaphore")
    with Spinner(path) as a, Spinner(path) as b:
        with tool.Tracer(["-p", a.pid, path, "hltest:no__args",
                          "hltest:guarded"], name=TOOL) as t:
            in_a = probed(a.pid, path, site, sema)
            in_b = probed(b.pid, path, site, sema)
            t.stop().expect_rc(0)
        after = probed(a.pid, path, site, sema)
    check(in_a == (True, 1), "%s, traced process: breakpoint %s, "
          "semaphore %d" % ((what,) + in_a))
    check(in_b == (False, 0), "%s, other process: breakpoint %s, "
          "semaphore %d" % ((what,) + in_b))
    check(after == (False, 0), "%s, after detaching: breakpoint %s, "
          "semaphore %d" % ((what,) + after))

# ---- Debian's python3: a fixed-address executable, guarded markers ----

PYTHON = "/usr/bin/python3"
PYMARKERS = os.path.join(tool.ROOT, "selftests", "lib", "pymarkers.py")


def need_python_markers(*names):
    have = {(s.provider, s.name) for s in markers.readelf_sites(PYTHON)}
    for n in names:
        if tuple(n.split(":")) not in have:
            raise Failure("%s has no marker %s (Debian's python3 has)" % (
                PYTHON, n))


@test("usdtlat/python-gc")
def python_gc():
    """python3's gc__start/gc__done, 200 explicit collections with
    automatic ones off: usdtlat's count equals what gc.callbacks saw, and
    each interval lies inside the span from the start callback to the stop
    callback (they run just outside the markers)."""
    tool.need(TOOL)
    need_python_markers("python:gc__start", "python:gc__done")
    with pairs.Pairs("gc", 200, path=PYMARKERS) as p:
        (ev, hist), recs = traced(
            [["-j", "-M", "0", "-p", p.pid, PYTHON, "python:gc__start",
              "python:gc__done"],
             ["-j", "-p", p.pid, PYTHON, "python:gc__start",
              "python:gc__done"]], p)
    check(len(recs) == 200, "gc.callbacks saw %d collections" % len(recs))
    h = hist.final_hist()
    check(h["count"] == len(recs) == len(ev.events), "usdtlat: %d pairs "
          "(%d events), gc.callbacks %d collections" % (
              h["count"], len(ev.events), len(recs)))
    # events come in the order the one thread ended its collections
    for e, r in zip(ev.events, recs):
        check(e["duration_ns"] <= r.span_ns, "collection %d: %d ns, longer "
              "than its callbacks' span %d ns" % (r.id, e["duration_ns"],
                                                  r.span_ns))
    check(h["sum_ns"] <= sum(r.span_ns for r in recs), "sum %d above the "
          "callbacks' %d" % (h["sum_ns"], sum(r.span_ns for r in recs)))
    return "200/200 collections, %s of the callbacks' %s" % (
        report.fmt_ns(h["sum_ns"]),
        report.fmt_ns(sum(r.span_ns for r in recs)))


@test("usdtlat/python-calls")
def python_calls():
    """python3's function__entry/function__return, by function name: the
    calls of leaf() and fib() equal those sys.setprofile saw. (Python 3.11
    fires function__entry only while a profile or trace function is set,
    CPython issue 98894: the profiler that counts is also what makes the
    marker fire; usdtlat(8) says so.)"""
    tool.need(TOOL)
    need_python_markers("python:function__entry", "python:function__return")
    with pairs.Pairs("calls", 300, path=PYMARKERS) as p:
        (out,), _ = traced(
            [["-j", "--by", "1:str", "-p", p.pid, PYTHON,
              "python:function__entry", "python:function__return"]], p)
        want = p.counts
    got = out.final_hist("arg1")
    check(set(want) == {"leaf", "fib"} and want["leaf"] == 300,
          "sys.setprofile saw %r" % want)
    for name, n in want.items():
        c = got.get(name, report.EMPTY)["count"]
        check(c == n, "%s: usdtlat %d calls, sys.setprofile %d" % (
            name, c, n))
    return "leaf %d, fib %d calls, as sys.setprofile saw" % (
        want["leaf"], want["fib"])
