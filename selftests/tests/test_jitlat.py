"""jitlat against a real HotSpot JVM (OpenJDK 17) started by the test.

The workload (selftests/java/JitWork.java, lib/jvm.py) prints its pid and
waits; the test waits until the JVM has printed no compilation for 0.4 s
(startup compilations done, queue empty), attaches jitlat with -p, lets
the work run (about 300 compile tasks: 30 small methods through C1 and
C2, and OSR loops), waits for quiet again and stops jitlat while the JVM
is still alive and idle, so no compilation straddles either end.

The ground truth is the JVM's own account: -Xlog:jit+compilation=debug
(the -XX:+PrintCompilation lines, written atomically) and
-XX:+LogCompilation (how each task ended). The rule (module doc of
lib/jvm.py, checked with tracefs uprobes on both markers): jitlat's count
= the distinct compile ids printed during the work, native wrappers ('n',
never compiled by C1/C2, no marker) excluded, OSR ('%') included, "made
not entrant"/"made zombie" lines (deoptimizations of an earlier task) not
counted again. C1 = tier 1-3, C2 = tier 4; failed = the tasks whose
task_done says success='0' in LogCompilation.
"""
import collections

from lib import jvm, report, tool, workload
from lib.harness import check, test

TOOL = "jitlat"
EVENT_KEYS = {"type", "tool", "time", "pid", "tid", "compiler",
              "duration_ns", "class", "method", "signature", "success"}
PER_SAMPLE_NS = 20000      # two tracers' timings of one compilation


def need_tool():
    tool.need(TOOL)


_uint = report.uint


def check_event(e):
    check(EVENT_KEYS <= set(e), "event lacks %s: %r" % (
        sorted(EVENT_KEYS - set(e)), e))
    check(e["tool"] == TOOL, "event tool is %r" % e["tool"])
    check(isinstance(e["time"], str) and report.TIME_RE.match(e["time"]),
          "event time %r is not RFC 3339 UTC with ns" % (e["time"],))
    check(_uint(e["pid"]) and e["pid"] > 0 and _uint(e["tid"]) and
          e["tid"] > 0 and _uint(e["duration_ns"]),
          "event pid/tid/duration_ns not positive integers: %r" % e)
    check(e["compiler"] in ("C1", "C2", "other"), "event compiler %r" % (
        e["compiler"],))
    check(isinstance(e["success"], bool), "event success not boolean: %r"
          % e)
    for k in ("class", "method", "signature"):
        check(isinstance(e[k], str) and e[k], "event %s empty or not a "
              "string: %r" % (k, e))
    check("." not in e["class"], "event class %r not in internal form "
          "(a/b/C)" % e["class"])
    check(e["signature"].startswith("("), "event signature %r" % (
        e["signature"],))
    return e


def Output(result):
    """A jitlat -j run, split by line type, each line checked."""
    return report.ToolOutput(result, TOOL, ("failed",), check_event,
                             tops=True)


def start_all(tracer_args):
    tool.one_process_only(TOOL, tracer_args)
    return tool.start_all(TOOL, tracer_args)


def stop_all(tracers):
    return [Output(r) for r in tool.stop_all(tracers)]


def traced_work(j, tracer_args):
    """j started: wait for quiet, attach one jitlat per argument list,
    run the work, wait for quiet, stop them (the JVM still idle).
    Returns ([Output], [Task of the work])."""
    j.quiet()
    tracers = start_all(tracer_args)
    try:
        base = j.mark()
        j.go()
        j.quiet()
        end = j.mark()
    except BaseException:
        for t in tracers:
            t.__exit__(None, None, None)
        raise
    outs = stop_all(tracers)
    tasks = j.tasks(base, end)
    check(len(tasks) > 100, "the JVM printed only %d compile tasks during "
          "the work" % len(tasks))
    return outs, tasks


def split(tasks):
    c = collections.Counter(t.compiler for t in tasks)
    return c["C1"], c["C2"]


def external(cls, method):
    """A class (internal form) and method as PrintCompilation names them:
    java/lang/String, hashCode -> java.lang.String::hashCode; a hidden
    class (a lambda) is Foo$$Lambda$1+0x0000... inside the JVM and
    Foo$$Lambda$1/0x0000... in its output."""
    return cls.replace("/", ".").replace("+0x", "/0x") + "::" + method


def dotted(e):
    """An event's method as PrintCompilation names it."""
    return external(e["class"], e["method"])


def names_agree(events, tasks, what):
    """The events' methods are the tasks' methods, as multisets."""
    got = collections.Counter(dotted(e) for e in events)
    want = collections.Counter(t.name for t in tasks)
    check(got == want, "%s: methods differ from PrintCompilation: only in "
          "jitlat %s, only in the JVM's %s" % (
              what, sorted((got - want).items())[:5],
              sorted((want - got).items())[:5]))


# ---- agreement with PrintCompilation ----

@test("jitlat/count")
def count():
    """-j -p JVM: one sample per compile task of the work; "failed"
    as LogCompilation's success='0' tasks."""
    need_tool()
    with jvm.Jvm() as j:
        (out,), tasks = traced_work(j, [["-j", "-p", j.pid]])
        natives = j.natives()
    failed = len(j.mark_failed(tasks))
    h = out.final_hist()
    osr = sum(t.osr for t in tasks)
    check(h["count"] == len(tasks), "count %d, the JVM compiled %d tasks "
          "(%d OSR; native wrappers excluded)" % (h["count"], len(tasks),
                                                  osr))
    got_failed = out.final_report()["failed"]
    check(got_failed == failed, "failed %d, the JVM failed %d" % (
        got_failed, failed))
    return "%d/%d compilations (%d OSR, %d failed; %d native wrappers in " \
        "the JVM's life, no marker), sum %s, max %s" % (
        h["count"], len(tasks), osr, failed, natives,
        report.fmt_ns(h["sum_ns"]), report.fmt_ns(h["max_ns"]))


@test("jitlat/per-compiler")
def per_compiler():
    """--per-compiler: C1 = tiers 1-3, C2 = tier 4; beside it the plain
    run's total is their sum."""
    need_tool()
    with jvm.Jvm() as j:
        (per, plain), tasks = traced_work(
            j, [["-j", "--per-compiler", "-p", j.pid], ["-j", "-p", j.pid]])
    c1, c2 = split(tasks)
    hs = per.final_hist("compiler")
    check(set(hs) <= {"C1", "C2"}, "compilers %r, expected C1 and C2"
          % sorted(hs))
    got = (hs.get("C1", report.EMPTY)["count"],
           hs.get("C2", report.EMPTY)["count"])
    check(got == (c1, c2), "C1 %d C2 %d, the JVM: C1 (tiers 1-3) %d, C2 "
          "(tier 4) %d" % (got + (c1, c2)))
    # Two tracers time the same compilations, each from its own handlers
    # of the same marker hits: the sums differ by the handlers' order
    # (measured: 44 us over 193 compilations), not by more than
    # PER_SAMPLE_NS a compilation.
    total = plain.final_hist()
    per_sum = sum(h["sum_ns"] for h in hs.values())
    check(total["count"] == c1 + c2 and
          abs(total["sum_ns"] - per_sum) <= PER_SAMPLE_NS * total["count"],
          "plain run: count %d sum %d; per compiler: %d, %d" % (
              total["count"], total["sum_ns"], c1 + c2, per_sum))
    return "C1 %d/%d (sum %s), C2 %d/%d (sum %s)" % (
        got[0], c1, report.fmt_ns(hs.get("C1", report.EMPTY)["sum_ns"]),
        got[1], c2, report.fmt_ns(hs.get("C2", report.EMPTY)["sum_ns"]))


@test("jitlat/cgroups")
def cgroups():
    """The JVM in a cgroup of its own: --per-cgroup --per-compiler, each
    compiler's count under that cgroup; -P, the JVM's pid with them all;
    -c that cgroup, every task; -c another (empty) cgroup, none."""
    need_tool()
    with workload.Cgroup("jvm") as cg, workload.Cgroup("none") as empty, \
            jvm.Jvm() as j:
        cg.add(j.pid)
        (per, pids, inside, outside), tasks = traced_work(j, [
            ["-j", "--per-cgroup", "--per-compiler", "-p", j.pid],
            ["-j", "-P", "-p", j.pid],
            ["-j", "-c", cg.path, "-p", j.pid],
            ["-j", "-c", empty.path, "-p", j.pid]])
    c1, c2 = split(tasks)
    got = {(h["key"]["compiler"], h["key"]["cgroup"]): h["count"]
           for h in per.final_report()["hists"]}
    want = {k: v for k, v in {("C1", cg.rel): c1,
                              ("C2", cg.rel): c2}.items() if v}
    check(got == want, "--per-cgroup --per-compiler: %s, the JVM: %s" % (
        got, want))
    got = {k: h["count"] for k, h in pids.final_hist("pid").items()}
    check(got == {j.pid: len(tasks)}, "-P: %s, the JVM (%d) compiled %d" % (
        got, j.pid, len(tasks)))
    n_in = inside.final_hist()["count"]
    n_out = outside.final_hist()["count"]
    check(n_in == len(tasks) and n_out == 0, "-c its cgroup: %d, -c "
          "another: %d; the JVM compiled %d" % (n_in, n_out, len(tasks)))
    return "C1 %d, C2 %d under %s; -P %d; -c %d and 0" % (
        c1, c2, cg.rel, len(tasks), n_in)


@test("jitlat/threshold")
def threshold():
    """-t 0: one event per compile task, with the documented fields, for
    the methods PrintCompilation names, each on a compiler thread of the
    JVM named after its compiler; the events add up to the histogram."""
    need_tool()
    with jvm.Jvm() as j:
        (ev, plain), tasks = traced_work(
            j, [["-j", "-M", "0", "-p", j.pid], ["-j", "-p", j.pid]])
        # compiler threads may come and go; check those still there
        comms = {}
        for e in ev.events:
            try:
                comms[e["tid"]] = open("/proc/%d/task/%d/comm" % (
                    j.pid, e["tid"])).read().strip()
            except OSError:
                pass
    j.mark_failed(tasks)
    events = ev.events
    check(len(events) == len(tasks), "%d events, the JVM compiled %d "
          "tasks" % (len(events), len(tasks)))
    check(all(e["pid"] == j.pid for e in events), "events of pids %r, "
          "expected only %d" % (sorted({e["pid"] for e in events}), j.pid))
    names_agree(events, tasks, "-t 0")
    c1, c2 = split(tasks)
    got = collections.Counter(e["compiler"] for e in events)
    check((got["C1"], got["C2"]) == (c1, c2), "events: C1 %d C2 %d, the "
          "JVM %d and %d" % (got["C1"], got["C2"], c1, c2))
    for e in events:
        comm = comms.get(e["tid"])
        check(comm is None or comm.startswith(e["compiler"] +
                                              " CompilerThre"),
              "event of %s on thread %d named %r" % (e["compiler"],
                                                     e["tid"], comm))
    check(comms, "no event's thread was still there to check")
    failed = sum(t.failed for t in tasks)
    check(sum(not e["success"] for e in events) == failed,
          "%d events with success false, the JVM failed %d" % (
              sum(not e["success"] for e in events), failed))
    h = plain.final_hist()
    total = sum(e["duration_ns"] for e in events)
    check(h["count"] == len(events), "the hist beside counts %d" % (
        h["count"]))
    for x in ev.hists:
        hh = report.only_hist(x)
        check(hh["count"] == len(events) and hh["sum_ns"] == total,
              "-t 0's own hist: count %d sum %d, events %d sum %d" % (
                  hh["count"], hh["sum_ns"], len(events), total))
    slow = max(events, key=lambda e: e["duration_ns"])
    return "%d events on %d threads; slowest %s %s.%s%s %s" % (
        len(events), len({e["tid"] for e in events}), slow["compiler"],
        slow["class"], slow["method"], slow["signature"],
        report.fmt_ns(slow["duration_ns"]))


# C2 gives up on most methods when its node budget is tiny: such a task
# ends with "out of nodes parsing method" (task_done success='0'; with
# PrintCompilation, "COMPILE SKIPPED") and its end marker says
# success=false (the method is then compiled at a C1 tier).
STARVED_C2 = ["-XX:MaxNodeLimit=3000", "-XX:NodeLimitFudgeFactor=600"]


@test("jitlat/failed")
def failed():
    """C2 starved of nodes: "failed" counts exactly the tasks the JVM
    logs as failed, and -t 0 marks exactly those methods success=false."""
    need_tool()
    with jvm.Jvm(flags=STARVED_C2) as j:
        (out, ev), tasks = traced_work(
            j, [["-j", "-p", j.pid], ["-j", "-M", "0", "-p", j.pid]])
    skipped = j.mark_failed(tasks)
    check(len(skipped) > 10, "the JVM skipped only %d compilations"
          % len(skipped))
    rep = out.final_report()
    h = report.only_hist(rep)
    check((h["count"], rep["failed"]) == (len(tasks), len(skipped)),
          "count %d failed %d; the JVM: %d tasks, %d skipped" % (
              h["count"], rep["failed"], len(tasks), len(skipped)))
    bad = [e for e in ev.events if not e["success"]]
    check(len(ev.events) == len(tasks), "-t 0: %d events, %d tasks" % (
        len(ev.events), len(tasks)))
    names_agree(bad, skipped, "success=false events")
    names_agree([e for e in ev.events if e["success"]],
                [t for t in tasks if not t.failed], "success=true events")
    return "%d of %d compilations failed, as the JVM says (%s)" % (
        rep["failed"], h["count"], ", ".join(sorted(
            "%s %d" % kv for kv in collections.Counter(
                e["compiler"] for e in bad).items())))


@test("jitlat/top")
def top():
    """--top 5: five rows, most compile time first, "class.method
    signature" texts of methods the JVM compiled, calls adding up to at
    most the task count (the workload's methods compile several times:
    C1 tiers, C2, OSR)."""
    need_tool()
    with jvm.Jvm() as j:
        (out,), tasks = traced_work(j, [["-j", "--top", "5", "-p", j.pid]])
    check(len(out.tops) == 1, "%d top lines, expected 1" % len(out.tops))
    rows = out.tops[0]["rows"]
    check(len(rows) == 5, "%d rows, expected 5" % len(rows))
    names = collections.Counter(t.name for t in tasks)
    for r in rows:
        parts = r["text"].split(" ")
        check(len(parts) == 2 and parts[1].startswith("(") and
              "." in parts[0], "row text %r is not \"class.method "
              "signature\"" % r["text"])
        name = external(*parts[0].rsplit(".", 1))
        check(name in names, "row %r: the JVM compiled no %s" % (
            r["text"], name))
        check(r["calls"] <= names[name], "row %r: %d calls, the JVM "
              "compiled %s %d times" % (r["text"], r["calls"], name,
                                        names[name]))
    return "; ".join("%s x%d %s" % (r["text"], r["calls"],
                                    report.fmt_ns(r["total_ns"]))
                     for r in rows[:3])


# ---- which JVMs ----

@test("jitlat/late-jvm")
def late_jvm():
    """--jvm LIBJVM -t 0 started before the JVM: every compile task of
    the JVM's whole life, startup included, is seen under its pid."""
    need_tool()
    jvm.classes()
    (t,) = start_all([["-j", "-M", "0", "--jvm", jvm.LIBJVM]])
    try:
        with jvm.Jvm() as j:
            j.quiet()
            j.go()
            j.quiet()
            end = j.mark()
            (out,) = stop_all([t])
    finally:
        t.__exit__(None, None, None)
    tasks = j.tasks(0, end)
    mine = [e for e in out.events if e["pid"] == j.pid]
    check(len(mine) == len(tasks), "%d events of the JVM %d, it compiled "
          "%d tasks" % (len(mine), j.pid, len(tasks)))
    names_agree(mine, tasks, "late JVM")
    others = len(out.events) - len(mine)
    return "JVM %d started after attaching: %d/%d compilations%s" % (
        j.pid, len(mine), len(tasks),
        " (and %d of other JVMs)" % others if others else "")


@test("jitlat/pid-other-jvm")
def pid_other():
    """Two JVMs working at once: -p A counts A's tasks only, -p B -t 0
    reports B's only."""
    need_tool()
    with jvm.Jvm() as a, jvm.Jvm() as b:
        a.quiet()
        b.quiet()
        ta, tb = start_all([["-j", "-p", a.pid],
                            ["-j", "-M", "0", "-p", b.pid]])
        try:
            base_a, base_b = a.mark(), b.mark()
            a.send_go()
            b.go()
            a.wait_done()
            a.quiet()
            b.quiet()
            end_a, end_b = a.mark(), b.mark()
        except BaseException:
            ta.__exit__(None, None, None)
            tb.__exit__(None, None, None)
            raise
        oa, ob = stop_all([ta, tb])
        tasks_a, tasks_b = a.tasks(base_a, end_a), b.tasks(base_b, end_b)
    h = oa.final_hist()
    check(h["count"] == len(tasks_a), "-p A (%d): count %d, A compiled %d "
          "tasks, B %d" % (a.pid, h["count"], len(tasks_a), len(tasks_b)))
    pids = {e["pid"] for e in ob.events}
    check(pids <= {b.pid}, "-p B (%d): events of pids %r" % (b.pid,
                                                             sorted(pids)))
    check(len(ob.events) == len(tasks_b), "-p B: %d events, B compiled %d"
          % (len(ob.events), len(tasks_b)))
    return "-p A: %d/%d (B's %d not counted); -p B: %d/%d events" % (
        h["count"], len(tasks_a), len(tasks_b), len(ob.events), len(tasks_b))


# ---- bad input ----

tool.register_bad(TOOL, jvm.bad_inputs(), ["--jvm", jvm.LIBJVM])
