"""Filters (-p, --comm, -c) and keys (-L, -P, --per-cgroup), each checked
against the schedstat of the threads it must cover, and only those. The
tools run with --run-delay, which reads the very accounting schedstat
shows: what these tests check is which tasks are covered, and that oracle
is exact (test_accuracy holds the default algorithm to other truth)."""
import os

from lib import report, workload
from lib.harness import test, check

ROUND = 1.0     # seconds of work per victim round
RD = ["--run-delay"]


def threaded(scenario):
    return scenario.victim(workload.unique_comm("thr"), threads=3,
                           duration=ROUND)


@test("filters/pid-threads")
def pid_threads():
    """-p covers every thread of a multi-threaded process."""
    with workload.Scenario(hogs=2) as sc:
        v = threaded(sc)
        sc.tracer(RD + ["-j", "-p", v.pid])
        kernel = sc.window([v])[v]
        r, = sc.stop_tracers()
    h = report.only_hist(report.final_report(r))
    busy = sum(1 for w in kernel.values() if w.count)
    check(busy == len(v.tids), "only %d of %d threads waited" % (
        busy, len(v.tids)))
    return "%d threads: %s" % (len(v.tids), report.compare(
        h, workload.total(kernel)))


@test("filters/per-thread")
def per_thread():
    """-p PID -L: one histogram per thread, keyed by tid, with its comm."""
    with workload.Scenario(hogs=2) as sc:
        v = threaded(sc)
        comms = {t: v.comm_of(t).decode() for t in v.tids}
        sc.tracer(RD + ["-j", "-p", v.pid, "-L"])
        kernel = sc.window([v])[v]
        r, = sc.stop_tracers()
    hists = report.by_key(report.final_report(r), "tid")
    want = sorted(t for t, w in kernel.items() if w.count)
    check(sorted(hists) == want, "tids %s, expected %s" % (
        sorted(hists), want))
    worst = 0.0
    for tid, h in hists.items():
        check(set(h["key"]) == {"tid", "comm"}, "key %r" % h["key"])
        check(h["key"]["comm"] == comms[tid], "tid %d: comm %r, expected "
              "%r" % (tid, h["key"]["comm"], comms[tid]))
        report.compare(h, kernel[tid], what="tid %d: " % tid)
        worst = max(worst, abs(report.relerr(h["sum_ns"], kernel[tid].sum)))
    return "%d threads with their comm, worst sum err %.3f%%" % (
        len(hists), worst * 100)


def two_victims(sc):
    """Two single-threaded processes contending on one CPU (plus a hog)."""
    return (sc.victim(workload.unique_comm("A"), duration=ROUND),
            sc.victim(workload.unique_comm("B"), duration=ROUND))


@test("filters/per-process")
def per_process():
    """-P system-wide: both contending processes, keyed by pid, with comm."""
    with workload.Scenario(hogs=1) as sc:
        a, b = two_victims(sc)
        sc.tracer(RD + ["-j", "-P"])
        kernel = sc.window([a, b])
        r, = sc.stop_tracers()
    hists = report.by_key(report.final_report(r), "pid")
    details = []
    for v in (a, b):
        check(v.pid in hists, "pid %d (%s) missing among %d processes" % (
            v.pid, v.comm.decode(), len(hists)))
        h = hists[v.pid]
        check(set(h["key"]) == {"pid", "comm"}, "key %r" % h["key"])
        check(h["key"]["comm"] == v.comm.decode(), "pid %d: comm %r, "
              "expected %r" % (v.pid, h["key"]["comm"], v.comm.decode()))
        details.append(report.compare(h, workload.total(kernel[v]),
                                      what="pid %d: " % v.pid))
    return "%d processes; ours: %s" % (len(hists), "; ".join(details))


@test("filters/comm")
def comm():
    """--comm picks only the process of that name."""
    with workload.Scenario(hogs=1) as sc:
        a, b = two_victims(sc)
        sc.tracer(RD + ["-j", "-P", "--comm", a.comm.decode()])
        kernel = sc.window([a, b])
        r, = sc.stop_tracers()
    hists = report.by_key(report.final_report(r), "pid")
    check(list(hists) == [a.pid], "pids %s, expected only %d" % (
        list(hists), a.pid))
    return report.compare(hists[a.pid], workload.total(kernel[a]))


def relative_to_sys_fs_cgroup(path):
    """The -c spelling relative to /sys/fs/cgroup (the tool's base)."""
    return os.path.relpath(path, "/sys/fs/cgroup")


@test("filters/cgroup")
def cgroup():
    """-c counts only the tasks in the cgroup (absolute and relative path)."""
    with workload.Scenario(hogs=1) as sc:
        cg = sc.cgroup()
        a, b = two_victims(sc)
        cg.add(a.pid)
        sc.tracer(RD + ["-j", "-c", cg.path])
        sc.tracer(RD + ["-j", "-c", relative_to_sys_fs_cgroup(cg.path)])
        kernel = sc.window([a, b])
        results = sc.stop_tracers()
    details = []
    for r in results:
        h = report.only_hist(report.final_report(r))
        details.append(report.compare(h, workload.total(kernel[a]),
                                      what=r.cmd() + ": "))
    check(details[0] == details[1], "absolute and relative -c differ: %s" %
          " vs ".join(details))
    return "%s (B excluded: %d waits)" % (details[0],
                                          workload.total(kernel[b]).count)


# A container's scope as docker's systemd cgroup driver names it.
DOCKER_ID = "5eed1e55" * 8
DOCKER_SCOPE = "docker-%s.scope" % DOCKER_ID


@test("filters/per-cgroup")
def per_cgroup():
    """--per-cgroup keys by the path below the cgroup2 root, and names the
    container of a cgroup a runtime would have made: victim A in one of
    our cgroups, victim B in a docker scope below it."""
    with workload.Scenario(hogs=1) as sc:
        cg = sc.cgroup()
        a, b = two_victims(sc)
        cg.add(a.pid)
        scope = os.path.join(cg.path, DOCKER_SCOPE)
        os.mkdir(scope)
        try:
            with open(os.path.join(scope, "cgroup.procs"), "w") as f:
                f.write(str(b.pid))
            sc.tracer(RD + ["-j", "--per-cgroup"])
            kernel = sc.window([a, b])
            r, = sc.stop_tracers()
        finally:
            cg.add(b.pid)
            os.rmdir(scope)
    hists = report.by_key(report.final_report(r), "cgroup")
    inner = cg.rel + "/" + DOCKER_SCOPE
    check(cg.rel in hists and inner in hists, "no key %r or %r among %s" % (
        cg.rel, inner, sorted(hists)))
    check(hists[cg.rel]["key"] == {"cgroup": cg.rel},
          "key %r" % hists[cg.rel]["key"])
    want = {"cgroup": inner, "container": "docker:" + DOCKER_ID[:12]}
    check(hists[inner]["key"] == want, "key %r, expected %r" % (
        hists[inner]["key"], want))
    return "%d cgroups; %s: %s; %s: %s" % (
        len(hists), cg.rel, report.compare(
            hists[cg.rel], workload.total(kernel[a])),
        want["container"], report.compare(
            hists[inner], workload.total(kernel[b])))
