#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""
bench/syslat.py: what syslat costs a system call, next to the floor and
to libbpf-tools' syscount -L.

bench/probecost.c's "syscalls" mode times its own loop of N getppid(2)
calls, pinned to CPU 1, untraced and beside each configuration, rounds
interleaved:
  floor         empty tp_btf programs on sys_enter and sys_exit
                (bench/floor.bpf.c): the price of the two hooks
  syslat        bin/syslat -j (one histogram per call, machine-wide)
  syslat -e -P  failures apart, one histogram per process and call
  syscount -L   /usr/sbin/syscount -L (counts and latency per call)
Then, beside the same tracer, its "pingpong" mode: N/20 round trips of
a byte to a child process and back over pipes, both on CPU 1, so that
every call blocks and each round trip has two context switches, which
syslat's sched_switch hook pays for (the floor has no such hook).
syslat's count of getppid must reach N. Figures: median ns per call and
per round trip, the added cost, and net of the floor, the ratios
syslat / syscount -L (goal, on getppid: at most 0.5). Puts a "## syslat" section in docs/benchmarks.md.
Needs root. Run by `make bench`.
"""
import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probecost as pc   # noqa: E402
import schedlat as sl   # noqa: E402
from schedlat import BenchError, med   # noqa: E402

SECTION = "## syslat"
SYSLAT = os.path.join(sl.ROOT, "bin", "syslat")
SYSCOUNT = "/usr/sbin/syscount"
GOAL = 0.5


def configs():
    """name: (argv or None, ready text, True: syslat's JSON to check)."""
    return [
        ("untraced", None, None, False),
        ("floor", [sl.FLOOR_BIN, sl.FLOOR_OBJ, "floor_sys_enter",
                   "floor_sys_exit"], "ready", False),
        ("syslat", [SYSLAT, "-j"], "Tracing", True),
        ("syslat -e -P", [SYSLAT, "-j", "-e", "-P"], "Tracing", True),
        ("syscount -L", ["stdbuf", "-oL", SYSCOUNT, "-L"], "Tracing", False),
    ]


def start(argv, ready):
    return sl.start_ready(argv, ready, SYSLAT)


def getppid_count(out):
    reps = [json.loads(line) for line in out.splitlines()
            if line.startswith("{")]
    if not reps:
        raise BenchError("syslat printed no report")
    return sum(h["count"] for h in reps[-1]["hists"]
               if h["key"].get("syscall") == "getppid")


def loops(n):
    return pc.loop("syscalls", n), pc.loop("pingpong", n // 20)


def one(argv, ready, check, n):
    if not argv:
        return loops(n)
    p = start(argv, ready)
    try:
        v = loops(n)
    finally:
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=60)
    if check and getppid_count(out) < n:
        raise BenchError("%s counted %d getppid calls of %d" % (
            " ".join(argv[:3]), getppid_count(out), n))
    return v


def main():
    args = sl.loop_args(__doc__, 1000000, "getppid calls", "bench/syslat.py")
    pc.build()
    sl.build_floor()
    cf = configs()
    res = sl.rotated_rounds(cf, lambda c: one(*c[1:], args.n), args.rounds)
    names = [c[0] for c in cf]
    calls = {c: [v[0] for v in r] for c, r in zip(names, res)}
    trips = {c: [v[1] for v in r] for c, r in zip(names, res)}

    def cells(res, unit):
        m = {name: med(v) for name, v in res.items()}
        floor = m["floor"]
        return m, {name: ("%.1f %s (%.1f–%.1f)" % (
            m[name], unit, min(res[name]), max(res[name])),
            "—" if name in ("untraced", "floor") else "%.1f %s" % (
                m[name] - floor, unit)) for name in names}

    mc, cc = cells(calls, "ns")
    mt, ct = cells(trips, "ns")
    rows = ["| %s | %s | %s | %s | %s |" % (name, cc[name][0], cc[name][1],
                                           ct[name][0], ct[name][1])
            for name in names]

    def ratio(m):
        return (m["syslat"] - m["floor"]) / (m["syscount -L"] - m["floor"])
    text = sl.goal_section(
        SECTION,
        "What syslat costs a system call: a C loop of getppid(2) calls "
        "(`bench/probecost.c syscalls`), timed by itself, pinned to CPU 1, "
        "untraced and beside each configuration; machine-wide tools, so "
        "every call of the loop passes both hooks. Then a round trip of a "
        "byte to a child process and back over two pipes "
        "(`probecost pingpong`, both on CPU 1): four calls that block and "
        "two context switches each, where syslat's thread storage and its "
        "sched_switch hook are paid. Produced by `/usr/bin/python3 "
        "bench/syslat.py` (run as root) on %%s: %d rounds of %d calls and "
        "%d round trips, configurations rotated; syslat's getppid count "
        "reached the loop's each time." % (args.rounds, args.n,
                                            args.n // 20),
        ("configuration", "getppid (median, range)", "net of the floor",
         "round trip (median, range)", "net of the floor"), rows,
        "*floor*: empty tp_btf programs on `sys_enter` and `sys_exit` "
        "(`bench/floor.bpf.c`): the price of the hooks, which every tool "
        "on them pays; syslat's third hook, on `sched_switch`, is its own "
        "cost. *syscount -L*: libbpf-tools' syscount with latency, the "
        "peer. On round trips, syslat net of the floor is %.2f× "
        "syscount -L's." % ratio(mt),
        ("syslat net of the floor on getppid", GOAL, ratio(mc)))
    sl.publish(SECTION, text, args.no_doc)
    return 0


if __name__ == "__main__":
    sl.run_main(main, "bench/syslat.py")
