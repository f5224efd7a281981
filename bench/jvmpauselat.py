#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""
bench/jvmpauselat.py: how much longer do a JVM's pauses get while
jvmpauselat (or a bpftrace script doing the same) watches them?

The JVM measures its own pauses (-Xlog:safepoint, to a file): per pause,
Total (the VM thread from its begin clock to its end clock) and "At
safepoint" (from the end of cleanup to the end: the Java threads are
stopped all along). The workload (selftests/java/PauseWork.java) takes
DUMPS thread dumps (tiny pauses, where a few microseconds show) and runs
GCS allocation rounds ended by System.gc(). One run, rounds interleaved
(the order rotated each round), configurations:

  untraced          nothing attached
  jvmpauselat       bin/jvmpauselat (histogram: safepoint begin/end only)
  jvmpauselat-op    bin/jvmpauselat --per-op (+ vmops__begin, gc__begin)
  jvmpauselat-t0    bin/jvmpauselat -M 0 -j (every pause as an event)
  bpftrace          /usr/bin/bpftrace timing safepoint begin/end per thread
                    into a histogram (if installed)

Each tool is started before the JVM and stopped after it exits; its own
pause count must equal the JVM's. Figures: median over rounds of the
per-round median of ThreadDump pauses' Total and At safepoint, and the
added time against the same round's untraced run.
Prints a Markdown report and puts it in docs/benchmarks.md as the
"## jvmpauselat" section. Needs root. Run by `make bench`.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import schedlat as sl   # noqa: E402
from schedlat import BenchError, log, med   # noqa: E402

sys.path.insert(0, os.path.join(sl.ROOT, "selftests"))
from lib import jvm   # noqa: E402

SECTION = "## jvmpauselat"
TOOL = os.path.join(sl.ROOT, "bin", "jvmpauselat")
BPFTRACE = shutil.which("bpftrace")
GCS, DUMPS = 10, 200
BT_SCRIPT = """
usdt:%(lib)s:hs_private:safepoint__begin { @start[tid] = nsecs; }
usdt:%(lib)s:hs_private:safepoint__end /@start[tid]/ {
	@ns = hist(nsecs - @start[tid]); @n = count(); delete(@start[tid]);
}
"""


def configs():
    c = [("untraced", None), ("jvmpauselat", [TOOL, "-j"]),
         ("jvmpauselat-op", [TOOL, "-j", "--per-op"]),
         ("jvmpauselat-t0", [TOOL, "-j", "-M", "0"])]
    if BPFTRACE:
        c.append(("bpftrace", [BPFTRACE, "-e",
                               BT_SCRIPT % {"lib": jvm.LIBJVM}]))
    return c


def start_tool(argv):
    """Start argv; return it once it says it is tracing."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, text=True)
    ready = "Tracing" if argv[0] == TOOL else "Attaching"
    stream = p.stderr if argv[0] == TOOL else p.stdout
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        if line.startswith(ready):
            return p
    p.kill()
    raise BenchError("%s did not start: %s" % (argv[0], p.stderr.read()))


def stop_tool(p):
    p.send_signal(2)
    out, err = p.communicate(timeout=30)
    if p.returncode:
        raise BenchError("%s exited %d: %s" % (p.args[0], p.returncode, err))
    return out


def tool_count(name, out, pid):
    """Pauses the tool saw (all JVMs: only the bench's runs)."""
    if name == "bpftrace":
        m = re.search(r"^@n: (\d+)$", out, re.M)
        return int(m.group(1)) if m else 0
    lines = [json.loads(l) for l in out.splitlines() if l.strip()]
    if name == "jvmpauselat-t0":
        return sum(1 for o in lines if o.get("type") == "event" and
                   o["pid"] == pid)
    hists = [h for o in lines if o.get("type") == "hist"
             for h in o["hists"]]
    return sum(h["count"] for h in hists)


def one_run(name, argv):
    tool = start_tool(argv) if argv else None
    try:
        j = jvm.PauseJvm(GCS, DUMPS)
        with j:
            j.go(timeout=120)
            j.finish()
    finally:
        out = stop_tool(tool) if tool else ""
    pauses = j.pauses()
    if tool:
        n = tool_count(name, out, j.pid)
        if n != len(pauses):
            raise BenchError("%s saw %d pauses, the JVM logged %d" % (
                name, n, len(pauses)))
    dumps = [p for p in pauses if p.op == "ThreadDump"]
    if len(dumps) != DUMPS:
        raise BenchError("%d ThreadDump pauses, expected %d" % (
            len(dumps), DUMPS))
    return {
        "total": statistics.median(p.total_ns for p in dumps),
        "at": statistics.median(p.at_ns for p in dumps),
        "pauses": len(pauses),
    }


def fmt_us(ns, sign=False):
    if ns is None:
        return "—"
    return ("%+.1f" if sign else "%.1f") % (ns / 1000) + " µs"


def report(results, rounds, meta):
    base = results["untraced"]
    rows = []
    for name, _ in configs():
        r = results[name]
        added = {k: med([x[k] - b[k] for x, b in zip(r, base)
                         if x[k] is not None and b[k] is not None])
                 for k in ("total", "at")}
        rows.append("| %s | %s | %s | %s | %s |" % (
            name, fmt_us(med([x["total"] for x in r])),
            fmt_us(added["total"], True) if name != "untraced" else "—",
            fmt_us(med([x["at"] for x in r])),
            fmt_us(added["at"], True) if name != "untraced" else "—"))
    return "\n".join([
        SECTION, "",
        "How much longer a JVM's stop-the-world pauses get while they are "
        "watched, as the JVM itself measures them (`-Xlog:safepoint` to a "
        "file). Produced by `%s` (run as root) on %s." % (
            meta["command"], meta["date"]), "",
        "Machine: Linux %s, %d CPUs; OpenJDK 17 (`%s`); %s; %s." % (
            os.uname().release, os.cpu_count(), jvm.LIBJVM,
            meta["version"], meta["bpftrace"]), "",
        "Workload: `PauseWork %d %d` (selftests/java): %d thread dumps "
        "(the smallest pauses, where microseconds show) and %d allocation "
        "rounds ended by `System.gc()`; %d rounds, configurations "
        "interleaved. Each tool ran from before the JVM's start to after "
        "its exit and counted exactly the pauses the JVM logged." % (
            GCS, DUMPS, DUMPS, GCS, rounds), "",
        "| configuration | ThreadDump Total | added | ThreadDump at safepoint"
        " | added |",
        "|---|---|---|---|---|",
    ] + rows + [
        "",
        "- *Total* is the JVM's own span from its begin clock to its end "
        "clock; *at safepoint* is the part after cleanup, when every Java "
        "thread is stopped. *added*: median over rounds of (configuration "
        "− the same round's untraced run), each a median over that run's "
        "pauses.",
        "- safepoint__begin fires before the safepoint is armed and "
        "safepoint__end after it is disarmed: the histogram mode's two "
        "traps lengthen the VM thread's Total but not the time the Java "
        "threads are stopped. `--per-op` and `-M` add the `vmops__begin` "
        "trap (and `gc__begin` in a collection) while they are stopped.",
        "- Collections are not in the table: a young pause varies by "
        "±15% from run to run here, which buries a microsecond.",
        ""])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--no-doc", action="store_true",
                    help="print only, leave docs/benchmarks.md alone")
    args = ap.parse_args()
    if os.geteuid():
        raise SystemExit("bench/jvmpauselat.py: needs root")
    jvm.classes()
    names = configs()
    results = {n: [] for n, _ in names}
    t0 = time.monotonic()
    for r in range(args.rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name, argv in order:
            x = one_run(name, argv)
            results[name].append(x)
            log("round %d %-15s ThreadDump %s at %s" % (
                r + 1, name, fmt_us(x["total"]), fmt_us(x["at"])))
    version = subprocess.run([TOOL, "-V"], capture_output=True,
                             text=True).stdout.split("\n")[0]
    bt = (subprocess.run([BPFTRACE, "--version"], capture_output=True,
                         text=True).stdout.strip() if BPFTRACE else
          "bpftrace not installed")
    meta = {"command": " ".join(["/usr/bin/python3", "bench/jvmpauselat.py"]
                                + sys.argv[1:]),
            "date": datetime.datetime.now().astimezone().strftime(
                "%Y-%m-%d %H:%M %Z"),
            "version": version, "bpftrace": bt}
    text = report(results, args.rounds, meta)
    log("%.0f s" % (time.monotonic() - t0))
    sl.publish(SECTION, text, args.no_doc)
    return 0


if __name__ == "__main__":
    sl.run_main(main, "bench/jvmpauselat.py")
