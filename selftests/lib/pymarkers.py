#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Debian's own python3 (a fixed-address executable whose markers are
all semaphore-guarded) as a marker program with the protocol of
selftests/c/pairs.c (lib/pairs.py): "ready PID", then on "go" it works,
prints what the interpreter itself saw and "done".

    pymarkers.py gc N      N gc.collect() with automatic collection off;
                           each collection as "rec gc I 0 T0 T1 0", T0 and
                           T1 from gc.callbacks' start and stop (they run
                           outside the gc__start/gc__done markers)
    pymarkers.py calls N   N calls of leaf() and fib(12); the Python
                           function calls sys.setprofile saw, by name, as
                           "count NAME N"
"""
import collections
import gc
import os
import sys
import time


def collections_timed(n):
    t0 = [0]
    recs = []

    def cb(phase, info):
        now = time.monotonic_ns()
        if phase == "start":
            t0[0] = now
        else:
            recs.append((t0[0], now))

    gc.disable()
    gc.callbacks.append(cb)
    for _ in range(n):
        gc.collect()
    gc.callbacks.remove(cb)
    for i, (a, b) in enumerate(recs):
        print("rec gc %d 0 %d %d 0" % (i, a, b))


def leaf(i):
    return i + 1


def fib(k):
    return k if k < 2 else fib(k - 1) + fib(k - 2)


def calls_counted(n):
    seen = collections.Counter()

    def prof(frame, event, arg):
        if event == "call":
            seen[frame.f_code.co_name] += 1

    sys.setprofile(prof)
    for i in range(n):
        leaf(i)
    fib(12)
    sys.setprofile(None)
    for name in ("leaf", "fib"):
        print("count %s %d" % (name, seen[name]))


def main():
    mode, n = sys.argv[1], int(sys.argv[2])
    print("ready %d" % os.getpid(), flush=True)
    if sys.stdin.readline() != "go\n":
        return 1
    {"gc": collections_timed, "calls": calls_counted}[mode](n)
    print("done", flush=True)
    sys.stdin.read()
    return 0


if __name__ == "__main__":
    sys.exit(main())
