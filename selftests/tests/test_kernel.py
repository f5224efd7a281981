"""The tools on whatever kernel runs the tests: the ones the kernel matrix
boots (make check-kernels: 5.10, 6.1, 6.12 under qemu) and this machine's.

schedlat (both algorithms, every attach method) is checked against
counters of another layer of the kernel than the sched_info accounting
--run-delay reads: every wait ends in a context switch in, so the
victim's waits in a window are its context switches
(/proc/PID/task/TID/status); and a victim can only wait
while it is neither running (its exec_runtime) nor asleep (at least the
sleeps it asked for), inside the window's own clock readings. These hold
under emulation too, where microsecond tolerances do not.

The start-up probe each tool makes (-v says what it found) is compared
with the kernel's BTF (lib/kernel.py).
"""
import os

from lib import kernel, report, tool, workload
from lib.harness import check, test

METHODS = ("tp_btf", "raw_tp", "tracepoint")
ALGOS = (("", []), ("+run-delay", ["--run-delay"]))
SLEEP_US = 1000


def yes(b):
    return "yes" if b else "no"


@test("kernel/features")
def features():
    """-v reports what the kernel offers, as its BTF says."""
    r = tool.run(["-v", "1", "1"])
    r.expect_rc(0)
    want = "kernel: task storage %s (in scheduler hooks %s), attach " \
        "cookies %s" % (yes(kernel.task_storage()),
                         yes(kernel.sched_task_storage()),
                         yes(kernel.attach_cookies()))
    check(want in r.err, "schedlat -v does not say %r: %r" % (
        want, r.err[:300]))
    # chosen before loading: tp_btf where the kernel BTF has the
    # tracepoints' btf_trace_ prototypes, else raw_tp
    method = "tp_btf" if all(kernel.has_name("btf_trace_" + tp) for tp in (
        "sched_switch", "sched_wakeup", "sched_wakeup_new")) else "raw_tp"
    check("attached with %s" % method in r.err, "schedlat -v does not say "
          "it attached with %s: %r" % (method, r.err[:300]))
    return "%s: %s, bpf_copy_from_user_str %s, %s" % (
        kernel.release(), want[len("kernel: "):],
        yes(kernel.has_name("bpf_copy_from_user_str")), method)


def bounds(sc, victim, waits):
    """The most a victim can have waited in the window: its time neither
    on a CPU nor in a sleep it asked for."""
    return (sc.ended - sc.started) - waits.cpu_ns - victim.sleeps * \
        SLEEP_US * 1000


def schedlat_against_switches(method, algo_args):
    with workload.Scenario(hogs=2) as sc:
        v = sc.victim(workload.unique_comm("krn"), sleep_us=SLEEP_US)
        sc.tracer(["-j", "-v", "-t", v.pid, "--attach", method] + algo_args)
        waits = workload.total(sc.window([v])[v])
        r, = sc.stop_tracers()
    said = "attached with %s" % method
    check(said in r.err, "%s: stderr does not say %r" % (r.cmd(), said))
    rep = report.final_report(r)
    h = report.only_hist(rep)
    most = bounds(sc, v, waits)
    check(waits.switches > 100, "only %d context switches in the window"
          % waits.switches)
    # The default's timestamps may miss a wakeup traced after another CPU
    # already switched the task in: 1% then. --run-delay counts exactly.
    slack = 0 if "--run-delay" in algo_args else max(2, waits.switches // 100)
    check(abs(h["count"] - waits.switches) <= slack,
          "%d waits, the victim was switched in %d times" % (
              h["count"], waits.switches))
    check(0 < h["sum_ns"] <= most, "waited %s in all, but the victim was "
          "off a CPU and not asleep for at most %s" % (
              report.fmt_ns(h["sum_ns"]), report.fmt_ns(most)))
    check(h["max_ns"] <= most, "longest wait %s > %s" % (
        report.fmt_ns(h["max_ns"]), report.fmt_ns(most)))
    return "%d waits = %d switches in; sum %s <= %s (not running, not " \
        "asleep)%s" % (h["count"], waits.switches, report.fmt_ns(
            h["sum_ns"]), report.fmt_ns(most),
            ", lost %d" % rep["lost"] if rep["lost"] else "")


def register(method, suffix, algo_args):
    def run():
        return schedlat_against_switches(method, algo_args)
    test("kernel/schedlat/%s%s" % (method, suffix))(run)


for _m in METHODS:
    for _suffix, _args in ALGOS:
        register(_m, _suffix, _args)
# libbpf's own reading of the kernel BTF instead of tools/lib/lean_btf.c
register("tp_btf", "+full-btf", ["--full-btf"])


# ---- user-space tools: one process everywhere, every process where the
# kernel can tell a position-independent binary's probes apart ----

def every_process_targets():
    from lib import jvm, pairs, pg
    return [
        ("usdtlat", [pairs.PATH, "hltest:req__start", "hltest:req__done"]),
        ("funclat", [pairs.PATH + ":work_a"]),
        ("pgquerylat", ["--bin", os.path.join(pg.bindir(), "postgres")]),
        ("jitlat", ["--jvm", jvm.LIBJVM]),
        ("jvmpauselat", ["--jvm", jvm.LIBJVM]),
    ]


@test("kernel/every-process")
def every_process():
    """Without -p each user-space tool probes its binary for every
    process: it attaches and ends cleanly where the kernel has attach
    cookies (5.15); elsewhere it exits 1 with one line naming the kernel
    version and -p (every target here is position independent or a
    shared library)."""
    said = []
    for name, args in every_process_targets():
        tool.need(name)
        if kernel.attach_cookies():
            with tool.Tracer(["-j"] + args, name=name) as t:
                t.stop().expect_rc(0)
            said.append(name)
        else:
            tool.one_line_error(name, ["-j"] + args, 1, ["Linux 5.15",
                                                         "-p"])
            said.append(name + " says why")
    return "%s: %s" % ("attach cookies" if kernel.attach_cookies() else
                       "no attach cookies", ", ".join(said))


@test("kernel/pgquerylat-backend")
def pgquerylat_backend():
    """-p BACKEND, which every kernel can do: one session's pg_sleep()s
    counted exactly, each at least as long as it slept."""
    from lib import pg
    tool.need("pgquerylat")
    n, x = 6, 0.02
    with pg.Cluster() as c, c.connect() as a, c.connect() as b:
        def work():
            a.send("SELECT pg_sleep(%g);\n" % x * n)
            b.send("SELECT pg_sleep(%g);\n" % x * 3)
            a.wait()
            b.wait()
        (r,), _ = tool.traced("pgquerylat", [["-j", "-p", a.pid]], work)
    h = report.ToolOutput(r, "pgquerylat", ("errors",)).final_hist()
    check(h["count"] == n, "count %d, session %d ran %d" % (
        h["count"], a.pid, n))
    check(h["min_ns"] >= x * 1e9, "min %s below pg_sleep(%g)" % (
        report.fmt_ns(h["min_ns"]), x))
    return "%d/%d statements of one backend, min %s, max %s" % (
        h["count"], n, report.fmt_ns(h["min_ns"]),
        report.fmt_ns(h["max_ns"]))
