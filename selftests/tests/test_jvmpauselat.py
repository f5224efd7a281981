"""jvmpauselat against a real HotSpot JVM (OpenJDK 17) started by the test.

The workload (selftests/java/PauseWork.java, lib/jvm.PauseJvm) allocates
(young collections), calls System.gc() a known number of times (full
collections, or concurrent cycles with -XX:+ExplicitGCInvokesConcurrent)
and takes thread dumps (pauses that collect nothing).

The ground truth is the JVM's own account, -Xlog:safepoint,gc written to a
file: one "Safepoint" line per stop-the-world pause with its operation and
its Total, preceded by a "GC(n) Pause Young|Full|Remark|Cleanup" line for
each collection in it. jvmpauselat must see every pause, in order, with the
same operation and collection kind (young, full; Remark and Cleanup are
G1's concurrent-cycle pauses: "concurrent").

Durations: hs_private:safepoint__begin fires right after the JVM reads its
begin clock and safepoint__end right after it has read its end clock and
written the log line (HotSpot 17's SafepointTracing). The difference per
pause is the two uprobe traps' skew plus that log write (a file here: a
pipe costs 20-30 us and more), measured at -4..+21 us, median 1.3-2.2 us
over ~800 pauses. The VM thread runs in a busy process on 2 CPUs though,
and may be preempted right after it has read a clock (notably once it has
released the Java threads); the delay then lands in one measure only:
seen in about one pause in 200, +65 us .. +478 us. So: the median
|difference| must be within MEDIAN_NS, at most max(2, n/10) pauses beyond
PAUSE_NS (+2%), and none beyond SANE_NS (a difference that large is no
preemption but a wrong pairing).

Histograms cannot be paired with the log pause by pause, so a histogram
run has a -t 0 run beside it on the same JVM: the events are held to the
log as above, and each histogram's count must equal the log's and its sum
the events' within TWIN_NS per pause. Both tools' programs run in the same
uprobe traps, one after the other, so one tool's clock reads trail the
other's by the first one's run time: the same at both ends but for the
histogram update at the end (measured 5-6 us per pause with --per-op's
keyed maps, more on a bucket's first sample), and the VM thread's
preemption after a clock read (above) lands in one run's sum only: one
such pause is allowed, up to PREEMPT_NS (once in a fresh root: 8 pauses,
13.50 ms to the twin's 13.84 ms).
The test JVMs run with -XX:GuaranteedSafepointInterval=0 (no periodic
"Cleanup" safepoint while idle), so that when a tool attaches with -p to a
JVM that waits for "go", every pause the JVM logs from then on is one the
tool must see.
"""
import collections
import statistics

from lib import jvm, kernel, report, tool, workload
from lib.container import Container
from lib.harness import check, test

TOOL = "jvmpauselat"
EVENT_KEYS = {"type", "tool", "time", "pid", "tid", "duration_ns",
              "reach_ns", "op", "gc"}
GC_KINDS = (None, "young", "full", "concurrent")
MEDIAN_NS = 10000
PAUSE_NS = 50000
PAUSE_REL = 0.02
SANE_NS = 10000000
TWIN_NS = 20000
PREEMPT_NS = 500000
IDLE = ["-XX:+UnlockDiagnosticVMOptions", "-XX:GuaranteedSafepointInterval=0"]
GCS, DUMPS = 5, 3


def need_tool():
    tool.need(TOOL)


def check_event(e):
    check(set(e) == EVENT_KEYS, "event fields %s, expected %s" % (
        sorted(e), sorted(EVENT_KEYS)))
    check(e["tool"] == TOOL, "event tool is %r" % e["tool"])
    check(isinstance(e["time"], str) and report.TIME_RE.match(e["time"]),
          "event time %r is not RFC 3339 UTC with ns" % (e["time"],))
    check(all(report.uint(e[k]) for k in ("pid", "tid", "duration_ns",
                                          "reach_ns")) and e["pid"] > 0,
          "event pid/tid/duration_ns/reach_ns not integers: %r" % e)
    check(e["reach_ns"] <= e["duration_ns"], "event reach_ns > duration_ns:"
          " %r" % e)
    check(isinstance(e["op"], str) and e["gc"] in GC_KINDS,
          "event op/gc: %r" % e)
    return e


def Output(result):
    return report.ToolOutput(result, TOOL, (), check_event)


def traced(arg_lists, fn):
    """tool.traced(), each output checked."""
    tool.one_process_only(TOOL, arg_lists)
    # the work lets the JVMs exit: a tool on one (-p) ends with it
    results, ret = tool.traced(TOOL, arg_lists, fn, target_exits=True)
    return [Output(r) for r in results], ret


def idle_jvm(**kw):
    return jvm.PauseJvm(GCS, DUMPS, flags=IDLE + list(kw.pop("flags", ())),
                        **kw)


def whole_life(j):
    """Start j, run its work, let it exit."""
    with j:
        j.go()
        j.finish()


def work(jvms):
    """The JVMs (started, idle, traced) run their work one after the
    other, then exit. Returns how many pauses each had logged before."""
    base = [logged_so_far(j) for j in jvms]
    for j in jvms:
        j.go()
    for j in jvms:
        j.finish()
    return base


def logged_so_far(j):
    """Safepoint lines in the JVM's log now (the file is written line by
    line as each pause ends)."""
    with open(j.log, errors="replace") as f:
        return sum(1 for line in f if jvm.SAFEPOINT_RE.match(line))


def diff_within(ours, theirs, where):
    """One pause's duration against the JVM's: True within PAUSE_NS+2%;
    a failure beyond SANE_NS."""
    d = abs(ours - theirs)
    check(d <= SANE_NS, "%s: %d ns, the JVM says %d ns" % (
        where, ours, theirs))
    return d <= PAUSE_NS + PAUSE_REL * theirs


def agreement(diffs, outliers, n, what):
    """Median and outlier rules of the module doc, over n pauses."""
    med = statistics.median(diffs) if diffs else 0
    check(med <= MEDIAN_NS, "%s: median |difference| %d ns > %d ns" % (
        what, med, MEDIAN_NS))
    check(outliers <= max(2, n // 10), "%s: %d of %d pauses differ by more "
          "than %d us + %d%%" % (what, outliers, n, PAUSE_NS // 1000,
                                 PAUSE_REL * 100))
    return "|diff| median %s max %s, %d beyond %d us" % (
        report.fmt_ns(med), report.fmt_ns(max(diffs) if diffs else 0),
        outliers, PAUSE_NS // 1000)


def match_labels(events, pauses, what):
    """Events (in order) against the JVM's pauses: same count, same
    operation and collection kind one by one."""
    got = [(e["op"], e["gc"]) for e in events]
    want = [(p.op, p.gc) for p in pauses]
    check(len(got) == len(want), "%s: %d pauses, the JVM logged %d: %s" % (
        what, len(got), len(want), collections.Counter(want)))
    for i, (g, w) in enumerate(zip(got, want)):
        check(g == w, "%s: pause %d is %s/%s, the JVM says %s/%s" % (
            what, i, g[0], g[1], w[0], w[1]))


def match_events(events, pauses, what):
    """match_labels(), and durations and times to reach the safepoint
    within the bounds. Returns a summary."""
    match_labels(events, pauses, what)
    diffs, outliers = [], 0
    for i, (e, p) in enumerate(zip(events, pauses)):
        where = "%s: pause %d (%s)" % (what, i, p.op)
        ok = diff_within(e["duration_ns"], p.total_ns, where)
        ok &= diff_within(e["reach_ns"], p.reach_ns, where + " reach")
        outliers += not ok
        diffs.append(abs(e["duration_ns"] - p.total_ns))
    return agreement(diffs, outliers, len(pauses), what)


def kinds(pauses):
    return collections.Counter((p.op, p.gc) for p in pauses)


def check_workload(pauses, full_kind="full"):
    """The workload did what it says: one pause per System.gc() and per
    thread dump (else the ground truth itself is off)."""
    c = kinds(pauses)
    check(c[("ThreadDump", None)] == DUMPS, "the JVM logged %d ThreadDump "
          "pauses, the workload took %d dumps" % (c[("ThreadDump", None)],
                                                  DUMPS))
    n = sum(v for (op, gc), v in c.items() if gc == full_kind)
    check(n >= GCS, "the JVM logged %d %s collections for %d System.gc()"
          % (n, full_kind, GCS))


def summary(pauses):
    return ", ".join("%d %s%s" % (n, op, "/" + gc if gc else "")
                     for (op, gc), n in sorted(kinds(pauses).items(),
                                               key=lambda kv: -kv[1]))


# ---- agreement with -Xlog:safepoint ----

@test("jvmpauselat/every-pause")
def every_pause():
    """-t 0 -j --jvm LIBJVM started before the JVM: every pause of its
    whole life (a JVM started after the tool) as an event, in the
    JVM's order, labelled as the JVM logged it."""
    need_tool()
    jvm.classes()
    j = jvm.PauseJvm(GCS, DUMPS)
    (out,), _ = traced([["-j", "-M", "0", "--jvm", jvm.LIBJVM]],
                       lambda: whole_life(j))
    pauses = j.pauses()
    check_workload(pauses)
    mine = [e for e in out.events if e["pid"] == j.pid]
    tids = {e["tid"] for e in mine}
    check(len(tids) <= 1, "pauses on several threads %r (one VM thread)"
          % sorted(tids))
    agree = match_events(mine, pauses, "late JVM")
    return "%d/%d pauses (%s); %s" % (len(mine), len(pauses),
                                      summary(pauses), agree)


@test("jvmpauselat/concurrent-gc")
def concurrent_gc():
    """-XX:+ExplicitGCInvokesConcurrent: System.gc() starts a G1
    concurrent cycle, whose Remark and Cleanup pauses are labelled
    "concurrent", the cycle's start "young"."""
    need_tool()
    with idle_jvm(flags=["-XX:+ExplicitGCInvokesConcurrent"]) as j:
        (out,), base = traced([["-j", "-M", "0", "-p", j.pid]],
                              lambda: work([j]))
    pauses = j.pauses()[base[0]:]
    check_workload(pauses, "concurrent")
    agree = match_events(out.events, pauses, "concurrent cycles")
    return "%d/%d pauses (%s); %s" % (len(out.events), len(pauses),
                                      summary(pauses), agree)


@test("jvmpauselat/pid-labels")
def pid_labels():
    """-p JVM -t 0: every pause the JVM logs, in order, with its
    operation and collection kind; each duration only held to the JVM's
    within SANE_NS (no wrong pairing). Unlike the timing agreement of
    the other tests, this holds under emulation too (the kernel
    matrix)."""
    need_tool()
    with idle_jvm() as j:
        (out,), base = traced([["-j", "-M", "0", "-p", j.pid]],
                              lambda: work([j]))
    pauses = j.pauses()[base[0]:]
    check_workload(pauses)
    match_labels(out.events, pauses, "-p")
    # Under emulation (arm64's virt machine) a full GC's safepoint was
    # seen taking twice what the JVM counts: as long again is allowed.
    for i, (e, p) in enumerate(zip(out.events, pauses)):
        sane = SANE_NS + (p.total_ns if kernel.emulated() else 0)
        check(abs(e["duration_ns"] - p.total_ns) <= sane,
              "pause %d (%s): %d ns, the JVM says %d ns" % (
                  i, p.op, e["duration_ns"], p.total_ns))
    return "%d/%d pauses (%s)" % (len(out.events), len(pauses),
                                  summary(pauses))


@test("jvmpauselat/containers")
def containers():
    """A JVM on the host and one in a container (its own copy of
    libjvm.so, its own mount, pid and cgroup namespaces), each in a cgroup
    of its own: --jvm with the host's libjvm.so probes the host's copy
    only; with --all-containers both, each JVM's count in its cgroup
    equal to the pauses it logged; -p with the container's JVM probes its
    copy (found in its maps, through its root), its pauses only; and -c
    with the container's cgroup, its pauses only."""
    need_tool()
    jvm.classes()
    with Container("jvm", own=[jvm.LIBJVM]) as ct, \
            workload.Cgroup("host") as cgh, idle_jvm() as h, \
            idle_jvm(container=ct) as a:
        cgh.add(h.pid)
        (host_only, every, one, only), base = traced(
            [["-j", "--per-cgroup", "--jvm", jvm.LIBJVM],
             ["-j", "--per-cgroup", "--all-containers", "--jvm",
              jvm.LIBJVM],
             ["-j", "-p", a.pid],
             ["-j", "-c", ct.cgroup.path, "--all-containers", "--jvm",
              jvm.LIBJVM]], lambda: work([h, a]))
    want = {cgh.rel: len(h.pauses()[base[0]:]),
            ct.cgroup.rel: len(a.pauses()[base[1]:])}

    got = host_only.final_counts("cgroup", want)
    check(got == {cgh.rel: want[cgh.rel]}, "--jvm: %s, expected the host "
          "JVM's only: %s" % (got, want))
    got = every.final_counts("cgroup", want)
    check(got == want, "--all-containers: %s, the JVMs logged %s" % (
        got, want))
    n = one.final_hist()["count"]
    check(n == want[ct.cgroup.rel], "-p %d (in the container): %d, it "
          "logged %d" % (a.pid, n, want[ct.cgroup.rel]))
    m = only.final_hist()["count"]
    check(m == want[ct.cgroup.rel], "-c %s --all-containers: %d, its JVM "
          "logged %d" % (ct.cgroup.rel, m, want[ct.cgroup.rel]))
    return "host %d, container %d pauses: by --jvm the host's only, "\
        "--all-containers both, -p in the container %d, -c %d" % (
            want[cgh.rel], want[ct.cgroup.rel], n, m)


def twin_sum(h, events, what):
    """A histogram's sum against its -t 0 twin's events."""
    total = sum(e["duration_ns"] for e in events)
    check(h["count"] == len(events) and
          abs(h["sum_ns"] - total) <= TWIN_NS * len(events) + PREEMPT_NS,
          "%s: count %d sum %d ns, the -t 0 run beside it: %d, %d ns" % (
              what, h["count"], h["sum_ns"], len(events), total))


@test("jvmpauselat/per-op")
def per_op():
    """--per-op -p: one histogram per operation and collection kind,
    each with the JVM's count and its -t 0 twin's sum."""
    need_tool()
    with idle_jvm() as j:
        (oh, oe), base = traced([["-j", "--per-op", "-p", j.pid],
                                 ["-j", "-M", "0", "-p", j.pid]],
                                lambda: work([j]))
    pauses = j.pauses()[base[0]:]
    check_workload(pauses)
    agree = match_events(oe.events, pauses, "-t 0 beside --per-op")
    hists = {}
    for h in oh.final_report()["hists"]:
        k = h["key"]
        check(set(k) in ({"op"}, {"op", "gc"}) and k.get("gc", None) in
              GC_KINDS[1:] + (None,), "bad --per-op key %r" % k)
        hists[(k["op"], k.get("gc"))] = h
    want = kinds(pauses)
    got = {k: h["count"] for k, h in hists.items()}
    check(got == dict(want), "--per-op counts %s, the JVM logged %s" % (
        got, dict(want)))
    for k, h in hists.items():
        twin_sum(h, [e for e in oe.events if (e["op"], e["gc"]) == k],
                 "%s/%s" % k)
    return "%d histograms = the JVM's (%s); events %s" % (
        len(hists), summary(pauses), agree)


@test("jvmpauselat/pid-other-jvm")
def pid_other():
    """Two JVMs, both traced, working one after the other (at once, the
    two would only preempt each other's VM threads): -p A's histogram
    has A's pauses only, -p B -t 0 reports B's only."""
    need_tool()
    with idle_jvm() as a, idle_jvm() as b:
        (oa, oa_ev, ob), (base_a, base_b) = traced(
            [["-j", "-p", a.pid], ["-j", "-M", "0", "-p", a.pid],
             ["-j", "-M", "0", "-p", b.pid]], lambda: work([a, b]))
    pa, pb = a.pauses()[base_a:], b.pauses()[base_b:]
    h = oa.final_hist()
    check(h["count"] == len(pa), "-p A (%d): count %d, A logged %d pauses, "
          "B %d" % (a.pid, h["count"], len(pa), len(pb)))
    match_events(oa_ev.events, pa, "-p A -t 0")
    twin_sum(h, oa_ev.events, "-p A")
    pids = {e["pid"] for e in ob.events}
    check(pids <= {b.pid}, "-p B (%d): events of pids %r" % (b.pid,
                                                             sorted(pids)))
    agree = match_events(ob.events, pb, "-p B")
    return "-p A: %d/%d (B's %d not counted), sum %s; -p B: %d/%d " \
        "events, %s" % (h["count"], len(pa), len(pb),
                        report.fmt_ns(h["sum_ns"]), len(ob.events), len(pb),
                        agree)


@test("jvmpauselat/text")
def text():
    """-t 0 without -j: a header, then one line per pause: PID TID PAUSE
    REACH GC OPERATION, as the JVM logged them."""
    need_tool()
    with idle_jvm() as j:
        (r,), base = tool.traced(TOOL, [["-M", "0", "-p", j.pid]],
                                 lambda: work([j]), target_exits=True)
    pauses = j.pauses()[base[0]:]
    lines = r.out.splitlines()
    check(lines and lines[0].split() == ["PID", "TID", "PAUSE", "REACH",
                                         "GC", "OPERATION"],
          "first line is not the header: %r" % lines[:1])
    rows = [l.split(None, 5) for l in lines[1:]]
    got = [(row[5], None if row[4] == "-" else row[4]) for row in rows]
    check(got == [(p.op, p.gc) for p in pauses], "text lines %r, the JVM "
          "logged %r" % (got[:4], pauses[:4]))
    for row in rows:
        check(row[0] == str(j.pid) and report.DURATION_RE.match(row[2]) and
              report.DURATION_RE.match(row[3]), "bad line %r" % row)
    return "%d lines, e.g. %r" % (len(rows), lines[1] if rows else "")


# ---- bad input ----

BAD = dict(jvm.bad_inputs(), **{
    "threshold": (["-M", "soon"], 2, ["soon"]),
    "threshold-per-op": (["-M", "5", "--per-op"], 2, ["exclude"]),
})
tool.register_bad(TOOL, BAD, ["--jvm", jvm.LIBJVM])
