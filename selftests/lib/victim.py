"""A victim process with a known sleep/run pattern (run by lib/workload.py).

    victim.py --cpu N --comm HEX [--threads N] [--duration S]
              [--spin-us U] [--sleep-us U]

Pins itself to one CPU, names itself (comm given in hex: any bytes), starts
its worker threads (named <comm>-<i>), prints "ready <pid> <tid>..." and
blocks on stdin. On each "go [NS]" line the workers (or, with no worker threads,
the main thread) alternate spin_us of spinning with sleep_us of sleep for
duration seconds, then "done N WALL CPU" is printed (by all threads: how
many sleeps they asked for, and their own wall-clock and CPU time in the
pattern, in ns; timer slack is 1 ns) and everything blocks again. With
NS (the CLOCK_MONOTONIC time the round was asked for), a main thread that
works alone counts its wall time from then, so that its wait to be woken
for "go" is in its account too, and at the end of the round it blocks at
once and prints "done" only on the next line of input. --cpu -1
leaves the threads unpinned. EOF
on stdin ends it. Between rounds every thread is blocked, so the scheduler
statistics of a round are exactly what happened between "go" and "done".
"""
import argparse
import ctypes
import os
import queue
import sys
import threading
import time


def set_comm(name):
    with open("/proc/self/task/%d/comm" % threading.get_native_id(),
              "wb") as f:
        f.write(name)


def pattern(duration, spin, sleep, since=None):
    """Returns (sleeps asked for, wall ns, this thread's CPU ns): its own
    account of the round; since: when the round was asked for
    (CLOCK_MONOTONIC ns), so that the wait to be woken for it counts."""
    wall0, cpu0 = since or time.monotonic_ns(), time.thread_time_ns()
    end = time.monotonic() + duration
    sleeps = 0
    while time.monotonic() < end:
        t = time.perf_counter()
        while time.perf_counter() - t < spin:
            pass
        time.sleep(sleep)
        sleeps += 1
    return sleeps, time.monotonic_ns() - wall0, time.thread_time_ns() - cpu0


def exact_timers():
    """Timer slack 1 ns: a sleep ends when asked, not up to 50 us later,
    so that the time asleep is what was asked for (PR_SET_TIMERSLACK)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(29, ctypes.c_ulong(1), 0, 0, 0)


def worker(name, started, go, done, args):
    set_comm(name)
    exact_timers()
    started.put(threading.get_native_id())
    while True:
        go.get()
        done.put(pattern(args.duration, args.spin_us / 1e6,
                         args.sleep_us / 1e6))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpu", type=int, required=True)
    ap.add_argument("--comm", required=True)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--spin-us", type=float, default=500)
    ap.add_argument("--sleep-us", type=float, default=1000)
    args = ap.parse_args()

    if args.cpu >= 0:
        os.sched_setaffinity(0, {args.cpu})     # threads inherit it
    comm = bytes.fromhex(args.comm)
    set_comm(comm)
    exact_timers()
    started, done, gos = queue.Queue(), queue.Queue(), []
    for i in range(args.threads):
        go = queue.Queue()
        gos.append(go)
        name = comm[:12] + b"-%d" % i
        threading.Thread(target=worker, args=(name, started, go, done, args),
                         daemon=True).start()
    tids = [started.get() for _ in gos]
    print("ready", os.getpid(), *tids, flush=True)
    for line in iter(sys.stdin.readline, ""):
        w = line.split()
        if not w or w[0] != "go":
            continue
        if gos:
            for go in gos:
                go.put(1)
            rounds = [done.get() for _ in gos]
        else:
            rounds = [pattern(args.duration, args.spin_us / 1e6,
                              args.sleep_us / 1e6,
                              int(w[1]) if len(w) > 1 else None)]
        if len(w) > 1:
            # Block before saying anything: writing "done" would wake the
            # reader, which may preempt us, a wait after our account.
            sys.stdin.readline()
        print("done", *(sum(r[i] for r in rounds) for i in range(3)),
              flush=True)


if __name__ == "__main__":
    main()
