#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""
bench/probecost.py: what usdtlat, jitlat and funclat cost the thread they
trace, per marker pair or per call.

bench/probecost.c (built into build/bench/probecost) times its own loop
of N iterations, pinned to CPU 1: a pair of markers (hlcost:start/end), the
two HotSpot compile markers with HotSpot's real arguments (what jitlat
sees per compilation, without a JVM: jitlat --jvm points at this file),
or a call of a function whose first instruction the kernel must
single-step (lea) or can emulate (push %rbp). Each configuration runs the
loop untraced and under the tool, rounds interleaved; the tool's own count
must equal N. Figures: median ns per iteration, and the added cost.
Puts a "## Marker and function probes" section in docs/benchmarks.md.
Needs root. Run by `make bench`.
"""
import datetime
import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import schedlat as sl   # noqa: E402
from schedlat import BenchError, med   # noqa: E402

SECTION = "## Marker and function probes"
SRC = os.path.join(sl.ROOT, "bench", "probecost.c")
PROG = os.path.join(sl.BUILD, "probecost")
BIN = os.path.join(sl.ROOT, "bin")


def build():
    os.makedirs(sl.BUILD, exist_ok=True)
    sl.run(["cc", "-O2", "-g", "-std=gnu11", "-Wall", "-Wextra", "-Werror",
            "-fno-omit-frame-pointer", "-fcf-protection=none", SRC, "-o",
            PROG])


def configs(n):
    """name: (loop mode, tool argv or None, what one iteration is)."""
    pairs = [PROG, "hlcost:start", "hlcost:end"]
    return [
        ("pairs untraced", "pairs", None),
        ("usdtlat", "pairs", [BIN + "/usdtlat"] + pairs),
        ("usdtlat -M 1000", "pairs", [BIN + "/usdtlat", "-M", "1000"] +
         pairs),
        ("compiles untraced", "compiles", None),
        ("jitlat", "compiles", [BIN + "/jitlat", "--jvm", PROG]),
        ("jitlat --per-compiler", "compiles", [BIN + "/jitlat", "--jvm",
                                               PROG, "--per-compiler"]),
        ("jitlat --top 10", "compiles", [BIN + "/jitlat", "--jvm", PROG,
                                         "--top", "10"]),
        ("calls untraced", "calls", None),
        ("funclat, lea first", "calls", [BIN + "/funclat", PROG + ":work"]),
        ("framed calls untraced", "framed", None),
        ("funclat, push %rbp first", "framed", [BIN + "/funclat",
                                                PROG + ":framed"]),
    ]


def loop(mode, n):
    out = subprocess.run(["taskset", "-c", "1", PROG, mode, str(n)],
                         check=True, capture_output=True, text=True).stdout
    return float(out)


def traced(argv, mode, n):
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, text=True)
    line = p.stderr.readline()
    if "Tracing" not in line:
        p.kill()
        raise BenchError("%s did not start: %s%s" % (argv[0], line,
                                                     p.stderr.read()))
    try:
        v = loop(mode, n)
    finally:
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=30)
    counts = [int(c) for c in re.findall(r"^count (\d+)", out, re.M)]
    calls = [int(c) for c in re.findall(r'"calls":(\d+)', out)]
    seen = sum(counts) or sum(calls)
    if "--top" not in argv and "-M" not in argv and seen != n:
        raise BenchError("%s counted %d of %d" % (" ".join(argv[:2]), seen,
                                                  n))
    return v


def main():
    args = sl.loop_args(__doc__, 100000, "iterations", "bench/probecost.py")
    build()
    cf = configs(args.n)
    res = sl.rotated_rounds(
        cf, lambda c: traced(c[2], c[1], args.n) if c[2] else
        loop(c[1], args.n), args.rounds)
    res = {c[0]: v for c, v in zip(cf, res)}
    base = {mode: med(res[name]) for name, mode, argv in cf if not argv}
    rows = []
    for name, mode, argv in cf:
        m = med(res[name])
        rows.append("| %s | %.1f ns (%.1f–%.1f) | %s |" % (
            name, m, min(res[name]), max(res[name]),
            "—" if not argv else "+%.2f µs" % ((m - base[mode]) / 1000)))
    text = "\n".join([
        SECTION, "",
        "What the traced thread pays per marker pair (usdtlat), per "
        "compilation's two markers (jitlat) and per call (funclat), timed "
        "by the traced loop itself. Produced by `/usr/bin/python3 "
        "bench/probecost.py` (run as root) on %s: %d rounds, %d "
        "iterations per loop, pinned to CPU 1, configurations "
        "interleaved; every tool's count equalled the iterations." % (
            datetime.datetime.now().astimezone().strftime(
                "%Y-%m-%d %H:%M %Z"), args.rounds, args.n), "",
        "| configuration | per iteration (median, range) | added |",
        "|---|---|---|",
    ] + rows + [
        "",
        "- One marker hit is one uprobe trap plus the tool's program; a "
        "function costs two traps (entry, and the return through the "
        "uretprobe trampoline). When a probed instruction cannot be "
        "emulated the kernel single-steps it out of line, which costs far "
        "more: a function that starts with `endbr64` or `lea` costs about "
        "ten times one that starts with `push %rbp`.",
        "- jitlat's figure is per compilation; real compilations take tens "
        "of microseconds to milliseconds (see jitlat(8)).",
        ""])
    sl.publish(SECTION, text, args.no_doc)
    return 0


if __name__ == "__main__":
    sl.run_main(main, "bench/probecost.py")
