"""syslat against selftests/c/pairs.c's "syscalls" mode (lib/pairs.py),
which makes N calls of each of four system calls and times every one
itself (CLOCK_MONOTONIC just before and just after the call):

- nanosleep of MS: each call lasts at least MS and at most its span;
- readv of a pipe that a second thread writes to MS after being asked:
  at most its span;
- openat of a path that does not exist: fails every time;
- getppid: at most its span.

The second thread reads its orders with read(2) and sleeps with
clock_nanosleep(2), so that the main thread's four calls are its own by
name. syslat's count of each must equal the program's, failures must be
told apart with -e, and by thread with -L.
"""
import contextlib
import os
import re
import threading

from lib import kernel, pairs, peers, report, tool, workload
from lib.harness import check, test

TOOL = "syslat"
SYSCOUNT = "/usr/sbin/syscount"
# syscount -L's rows: name, count, total microseconds
SYSCOUNT_ROW = re.compile(r"^(\w+)\s+(\d+)\s+([\d.]+)$", re.M)
N, MS = 5, 3
CALLS = ("nanosleep", "readv", "openat", "getppid")


def Output(result):
    return report.ToolOutput(result, TOOL)


def run(arg_lists, path=pairs.PATH):
    """syslat with each argument list on one "syscalls" run (PID in an
    argument is the program's pid)."""
    with pairs.Pairs("syscalls", N, MS, path=path) as p:
        args = [[str(a).replace("PID", str(p.pid)) for a in al]
                for al in arg_lists]
        results, recs = tool.traced(TOOL, args, p.go)
        pid = p.pid
    return [Output(r) for r in results], recs, pid


def by(hists, *names):
    """{(label values...): histogram} of a keyed report."""
    return {tuple(h["key"].get(n) for n in names): h for h in hists}


def check_call(h, recs, what):
    check(h["count"] == len(recs) == N, "%s: %d calls, the program made "
          "%d" % (what, h["count"], len(recs)))
    check(h["max_ns"] <= max(r.span_ns for r in recs) and
          h["sum_ns"] <= sum(r.span_ns for r in recs),
          "%s: max %d, sum %d above the program's spans" % (
              what, h["max_ns"], h["sum_ns"]))
    check(h["min_ns"] >= min(r.slept_ns for r in recs) and
          h["sum_ns"] >= sum(r.slept_ns for r in recs),
          "%s: min %d, sum %d below what it slept" % (
              what, h["min_ns"], h["sum_ns"]))


@test("syslat/calls")
def calls():
    """-p, -s the four calls, -e: one histogram per call and outcome,
    the program's counts, each within its bounds; openat only failed.
    Both builds of the program (PIE, non-PIE: no difference expected,
    the calls are the kernel's)."""
    tool.need(TOOL)
    done = []
    for what, path in pairs.BUILDS:
        (out,), recs, _ = run([["-j", "-e", "-p", "PID", "-s",
                                ",".join(CALLS)]], path)
        hists = by(out.final_report()["hists"], "syscall", "result")
        want = {("nanosleep", "ok"), ("readv", "ok"), ("openat", "error"),
                ("getppid", "ok")}
        check(set(hists) == want, "%s: histograms %s, expected %s" % (
            what, sorted(hists), sorted(want)))
        for (name, result), h in hists.items():
            check_call(h, [r for r in recs if r.what == name],
                       "%s %s (%s)" % (name, result, what))
        done.append(what)
    return "nanosleep, readv, getppid ok and openat failed, %d each, in " \
        "bounds: %s" % (N, ", ".join(done))


@test("syslat/cgroups")
def cgroups():
    """--per-cgroup: two copies of the program at once, each in a cgroup
    of its own: every call per cgroup with its program's count; -c with
    one of them: its calls only."""
    tool.need(TOOL)
    names = "nanosleep,getppid"
    with workload.Cgroup("a") as ca, workload.Cgroup("b") as cb, \
            pairs.Pairs("syscalls", N, MS) as a, \
            pairs.Pairs("syscalls", N, MS) as b:
        ca.add(a.pid)
        cb.add(b.pid)
        results, recs = tool.traced(TOOL, [
            ["-j", "--per-cgroup", "-s", names],
            ["-j", "-c", ca.path, "-s", names]],
            lambda: {ca.rel: a.go(), cb.rel: b.go()})
    per, only = [Output(r) for r in results]
    got = {k: h["count"] for k, h in by(per.final_report()["hists"],
                                        "cgroup", "syscall").items()
           if k[0] in recs}
    want = {(cg, r.what): 0 for cg in recs for r in recs[cg]
            if r.what in names.split(",")}
    for cg in recs:
        for r in recs[cg]:
            if (cg, r.what) in want:
                want[(cg, r.what)] += 1
    check(got == want, "--per-cgroup: %s, the programs made %s" % (
        got, want))
    got = {k[0]: h["count"] for k, h in by(only.final_report()["hists"],
                                           "syscall").items()}
    check(got == {"nanosleep": N, "getppid": N}, "-c %s: %s, expected %d "
          "of each" % (ca.rel, got, N))
    return "--per-cgroup %d calls in 4 histograms, -c %d" % (
        sum(want.values()), sum(got.values()))


@test("syslat/every-call")
def every_call():
    """No -s: every call of the process, the four among them with the
    program's counts; -L: the main thread's nanosleep and the writer
    thread's clock_nanosleep apart, N each."""
    tool.need(TOOL)
    (all_, per_tid), recs, pid = run([["-j", "-p", "PID"],
                                      ["-j", "-L", "-p", "PID"]])
    hists = by(all_.final_report()["hists"], "syscall")
    for name in CALLS:
        check_call(hists.get((name,), report.EMPTY),
                   [r for r in recs if r.what == name], name)
    threads = by(per_tid.final_report()["hists"], "syscall", "tid")
    mains = [t for (n, t) in threads if n == "nanosleep"]
    writers = [t for (n, t) in threads if n == "clock_nanosleep"]
    check(mains == [pid] and len(writers) == 1 and writers[0] != pid,
          "-L: nanosleep on threads %s, clock_nanosleep on %s; expected "
          "the main thread %d and one other" % (mains, writers, pid))
    check(threads[("clock_nanosleep", writers[0])]["count"] == N and
          threads[("nanosleep", pid)]["count"] == N,
          "-L: counts %d and %d, expected %d" % (
              threads[("nanosleep", pid)]["count"],
              threads[("clock_nanosleep", writers[0])]["count"], N))
    return "%d calls in %d histograms, the four as the program counted; " \
        "-L: %d threads" % (sum(h["count"] for h in hists.values()),
                            len(hists), len({t for _, t in threads}))


def migrations(pid):
    """se.nr_migrations of each thread of pid, summed (None: not shown)."""
    total = None
    with contextlib.suppress(OSError):
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/sched" % (pid, tid)) as f:
                for line in f:
                    if line.startswith("se.nr_migrations"):
                        total = (total or 0) + int(line.split()[-1])
    return total


@contextlib.contextmanager
def moving(pid, cpus):
    """Moves every thread of pid from CPU to CPU, one after another,
    every millisecond or so, until the block ends: a thread asleep in a
    call wakes up elsewhere than it slept. Yields a list that holds the
    threads' migrations in the end (from before the process exits)."""
    stop, seen = threading.Event(), []

    def flip():
        i = 0
        while not stop.wait(0.001):
            i += 1
            with contextlib.suppress(OSError):
                for tid in os.listdir("/proc/%d/task" % pid):
                    with contextlib.suppress(OSError):
                        os.sched_setaffinity(int(tid),
                                             {cpus[i % len(cpus)]})
            n = migrations(pid)
            if n is not None:
                seen[:] = [n]
    t = threading.Thread(target=flip, daemon=True)
    t.start()
    try:
        yield seen
    finally:
        stop.set()
        t.join()


@test("syslat/migrating")
def migrating():
    """The program's threads moved from CPU to CPU every millisecond
    while they make their calls: most blocking calls end on another CPU
    than they began on, many fast ones too (a call that leaves its CPU
    is carried in its thread's storage). Counts exact, each call within
    the program's own bounds."""
    tool.need(TOOL)
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        check(False, "needs 2 CPUs, this machine has %d" % len(cpus))
    n, ms = 40, 2
    with pairs.Pairs("syscalls", n, ms) as p:
        with moving(p.pid, cpus) as moved:
            (r,), recs = tool.traced(TOOL, [["-j", "-e", "-p", str(p.pid),
                                             "-s", ",".join(CALLS)]],
                                     p.go)
    hists = by(Output(r).final_report()["hists"], "syscall")
    for name in CALLS:
        h = hists.get((name,), report.EMPTY)
        mine = [x for x in recs if x.what == name]
        check(h["count"] == len(mine) == n, "%s: %d calls, the program "
              "made %d" % (name, h["count"], len(mine)))
        check(h["max_ns"] <= max(x.span_ns for x in mine) and
              h["min_ns"] >= min(x.slept_ns for x in mine),
              "%s: %d..%d ns outside the program's bounds" % (
                  name, h["min_ns"], h["max_ns"]))
    # Each sleep that ends on another CPU is a migration: a quarter of
    # the blocking calls at least, or the case was not made.
    check(moved and moved[0] >= n // 2, "the threads migrated %s times "
          "in %d blocking calls" % (moved[0] if moved else "no", 2 * n))
    return "%d calls of each of the four exact and in bounds; the " \
        "threads migrated %d times" % (n, moved[0])


@test("syslat/vs-syscount")
def vs_syscount():
    """libbpf-tools' syscount -L beside syslat on the program (-p): for
    every call syscount reports, the same count; for the calls that last
    a millisecond or more (nanosleep, readv), the summed time within 1%
    plus 5 us a call. The two read the clock at their own points of
    programs run one after the other on the same hooks, so the time of
    the other's program falls inside one's span and not the other's:
    under emulation, up to a few hundred microseconds a call (300 us
    allowed there)."""
    tool.need(TOOL)
    with pairs.Pairs("syscalls", N, MS) as p:
        with peers.Peer([SYSCOUNT, "-L", "-T", "1000", "-p",
                         str(p.pid)]) as peer:
            (r,), _ = tool.traced(TOOL, [["-j", "-p", str(p.pid)]], p.go)
            theirs = {m[0]: (int(m[1]), float(m[2]) * 1000)
                      for m in SYSCOUNT_ROW.findall(
                          peer.stop().decode(errors="replace"))}
    ours = by(Output(r).final_report()["hists"], "syscall")
    per_call = 300000 if kernel.emulated() else 5000
    check(set(CALLS) <= set(theirs), "syscount reports %s, not all of %s"
          % (sorted(theirs), CALLS))
    for name, (n, ns) in sorted(theirs.items()):
        h = ours.get((name,), report.EMPTY)
        check(h["count"] == n, "%s: syslat %d calls, syscount %d" % (
            name, h["count"], n))
        if ns >= 1e6 * n:
            check(abs(h["sum_ns"] - ns) <= 0.01 * ns + per_call * n, "%s: "
                  "syslat %s in all, syscount %s" % (
                      name, report.fmt_ns(h["sum_ns"]), report.fmt_ns(ns)))
    return "%d calls in %d names as syscount counted them, sums within " \
        "bounds" % (sum(n for n, _ in theirs.values()), len(theirs))


# ---- bad input ----

BAD = {
    "syscall-unknown": (["-s", "nosuchcall"], 2, ["nosuchcall"]),
    "syscall-one-unknown": (["-s", "read,nosuchcall"], 2, ["nosuchcall"]),
    "syscall-empty": (["-s", ","], 2, ["','"]),
    "owner-twice": (["-P", "-L"], 2, ["exclude"]),
    "attach-method": (["--attach", "kprobe"], 2, ["kprobe"]),
}
tool.register_bad(TOOL, BAD, lambda: ["1", "1"])


@test("syslat/intervals")
def intervals():
    """Reports every second over a run of about four: the per-interval
    counts of each call add up to the program's, exactly. Keyed
    histograms are reset, not deleted, after each report (and deleted
    after an interval without samples): a key read but not reset would
    be counted again, one reset too early lost."""
    tool.need(TOOL)
    n, ms = 150, 12
    with pairs.Pairs("syscalls", n, ms) as p:
        (r,), recs = tool.traced(TOOL, [["-j", "-p", str(p.pid), "-s",
                                         "nanosleep,getppid", "1"]], p.go)
    reports = Output(r).hists
    check(len(reports) >= 3, "%d reports: the run was too short to span "
          "intervals" % len(reports))
    counts = {}
    for rep in reports:
        for h in rep["hists"]:
            name = h["key"]["syscall"]
            counts[name] = counts.get(name, 0) + h["count"]
    want = {name: sum(1 for x in recs if x.what == name)
            for name in ("nanosleep", "getppid")}
    check(counts == want == {"nanosleep": n, "getppid": n},
          "over %d reports syslat counted %s, the program made %s" % (
              len(reports), counts, want))
    return "%d reports, %s" % (len(reports), counts)
