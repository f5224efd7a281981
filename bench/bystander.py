#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""
bench/bystander.py: what `-p` tracing of one process costs another
process of the same binary (issue 11: it must cost it nothing).

Two interpreters of Debian's /usr/bin/python3, whose function markers are
semaphore-guarded: while either semaphore is raised, every Python call
runs the marker's slow path, and a probed marker traps. The traced one,
T, idles on CPU 0; the bystander, B, pinned to CPU 1, times its own loop
of N calls of a Python function and prints ns per iteration. Each round
runs B untraced, beside `usdtlat -p T` (T alone probed), and beside
`usdtlat` by path (every process of the binary probed); rounds rotate
the order. After B's loop, T makes 1000 calls of g() so that `-p T`
shows it was tracing: its count for g must be exactly 1000. (Python
3.11 fires function__entry only while a profile or trace function is
set, CPython issue 98894, so T sets an empty one for its calls; B sets
none, and by path pays for every function__return.) The goal: B beside `-p T`
within 1.05x of B untraced (medians of the same run).
Puts a "## -p and other processes" section in docs/benchmarks.md.
Needs root. Run by `make bench`.
"""
import datetime
import json
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import schedlat as sl   # noqa: E402
from schedlat import BenchError, med   # noqa: E402

SECTION = "## -p and other processes"
PYTHON = "/usr/bin/python3"
USDTLAT = os.path.join(sl.ROOT, "bin", "usdtlat")
MARKERS = ["python:function__entry", "python:function__return"]
GOAL = 1.05
T_CALLS = 1000

LOOP = """
import sys, time
def f(i):
    return i
n = int(sys.argv[1])
t0 = time.monotonic_ns()
for i in range(n):
    f(i)
print((time.monotonic_ns() - t0) / n)
"""

# Waits for a line, makes T_CALLS calls, waits for EOF.
IDLE = """
import sys
def g(i):
    return i
print("ready", flush=True)
sys.stdin.readline()
sys.setprofile(lambda frame, event, arg: None)
for i in range(%d):
    g(i)
sys.setprofile(None)
print("done", flush=True)
sys.stdin.read()
""" % T_CALLS


class Traced:
    """The idle interpreter T, on CPU 0."""

    def __enter__(self):
        self.p = subprocess.Popen(["taskset", "-c", "0", PYTHON, "-c", IDLE],
                                  stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        if self.p.stdout.readline() != "ready\n":
            raise BenchError("the traced python did not start")
        return self

    def calls(self):
        self.p.stdin.write("go\n")
        self.p.stdin.flush()
        if self.p.stdout.readline() != "done\n":
            raise BenchError("the traced python did not finish")

    def __exit__(self, *exc):
        self.p.kill()
        self.p.wait()
        return False


def bystander(n):
    out = subprocess.run(["taskset", "-c", "1", PYTHON, "-c", LOOP, str(n)],
                         check=True, capture_output=True, text=True).stdout
    return float(out)


def tool(argv):
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, text=True)
    line = p.stderr.readline()
    if "Tracing" not in line:
        p.kill()
        raise BenchError("%s did not start: %s%s" % (argv[0], line,
                                                     p.stderr.read()))
    return p


def stop(p):
    """The tool's final report: (calls of g, unmatched returns)."""
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=60)
    reps = [json.loads(line) for line in out.splitlines()
            if line.startswith("{")]
    if not reps:
        raise BenchError("usdtlat printed no report")
    g = [h["count"] for h in reps[-1]["hists"]
         if h["key"].get("arg1") == "g"]
    return sum(g), reps[-1]["unmatched"]


def one(config, n):
    """B's ns per iteration under config; checks the tool's count."""
    if config == "untraced":
        return bystander(n)
    with Traced() as t:
        pid = ["-p", str(t.p.pid)] if config == "-p" else []
        p = tool([USDTLAT, "-j", "--by", "1:str"] + pid + [PYTHON] +
                 MARKERS)
        try:
            v = bystander(n)
            t.calls()
        finally:
            seen, returns = stop(p)
    if seen != T_CALLS:
        raise BenchError("usdtlat %s counted %d calls of g, the traced "
                         "process made %d" % (config, seen, T_CALLS))
    if config == "path" and returns < n:
        raise BenchError("usdtlat by path saw %d returns without entry, "
                         "fewer than the bystander's %d" % (returns, n))
    if config == "-p" and returns >= n:
        raise BenchError("usdtlat -p saw %d returns: the bystander's too"
                         % returns)
    return v


def main():
    args = sl.loop_args(__doc__, 300000, "the bystander's calls", "bench/bystander.py")
    configs = ["untraced", "-p", "path"]
    res = dict(zip(configs, sl.rotated_rounds(
        configs, lambda c: one(c, args.n), args.rounds)))
    base = med(res["untraced"])
    ratio = med(res["-p"]) / base
    names = {"untraced": "untraced",
             "-p": "`usdtlat -p T` (another process)",
             "path": "`usdtlat` by path (every process)"}
    rows = ["| %s | %.1f ns (%.1f–%.1f) | %.2f× |" % (
        names[c], med(res[c]), min(res[c]), max(res[c]), med(res[c]) / base)
        for c in configs]
    text = "\n".join([
        SECTION, "",
        "What tracing one process with `-p` costs another process of the "
        "same binary: a Python loop of function calls in Debian's "
        "python3 (semaphore-guarded markers), timed by itself, pinned to "
        "CPU 1, while usdtlat traces `python:function__entry` to "
        "`function__return`. Produced by `/usr/bin/python3 "
        "bench/bystander.py` (run as root) on %s: %d rounds of %d calls, "
        "configurations rotated; `-p T` counted T's %d calls exactly." % (
            datetime.datetime.now().astimezone().strftime(
                "%Y-%m-%d %H:%M %Z"), args.rounds, args.n, T_CALLS), "",
        "| bystander beside | per call (median, range) | vs untraced |",
        "|---|---|---|",
    ] + rows + [
        "",
        "Goal: ≤ %.2f× beside `-p` of another process: **%s** (%.3f×). "
        "With `-p` the probes and semaphores are set in that process "
        "only (the kernel's per-process uprobe filter; libbpf raises the "
        "semaphore where the probe is installed); by path every process "
        "of the binary runs the markers' slow path and traps." % (
            GOAL, "PASS" if ratio <= GOAL else "FAIL", ratio),
        ""])
    sl.publish(SECTION, text, args.no_doc)
    return 0 if ratio <= GOAL else 1


if __name__ == "__main__":
    sl.run_main(main, "bench/bystander.py")
