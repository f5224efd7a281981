"""How long some threads really slept, from the timer tracepoints through
ftrace (a tracefs instance of our own: not BPF, and not the scheduler's
tracepoints that schedlat reads).

A sleeping thread arms an hrtimer (timer:hrtimer_start, in the thread, just
before it is switched out) and the timer interrupt runs it (timer:
hrtimer_expire_entry, with the time the interrupt began), which wakes the
thread. Between the two the thread was asleep: neither running nor
waiting for a CPU. Summed over its sleeps, that is what a victim's own
account (wall - CPU - sleeps) must take off, rather than the sleeps it
asked for: a sleep ends late when its timer does (lateness = now -
expires), and a sleep measured from a deadline computed before the
syscall overlaps the CPU time spent getting there.

The instance's clock is CLOCK_MONOTONIC ("mono"), as the timers' own
times are; ftrace prints its timestamps in microseconds, truncated, so
each sleep reads on average 0.5 us longer than it was (added back).

    with timerlat.Sleeps(tids) as s:
        ... the threads sleep ...
    s.asleep_ns, s.late_ns, s.timers
"""
import os
import re

from lib.harness import Failure

TRACEFS = "/sys/kernel/tracing"
EVENTS = ("timer/hrtimer_start", "timer/hrtimer_expire_entry")
TS = r"\s(\d+)\.(\d{6}): "
# The timers of sleeps (not the tick and others a thread may arm)
START_RE = re.compile(TS + r"hrtimer_start: hrtimer=(\S+) "
                      r"function=hrtimer_wakeup expires=(\d+)")
EXPIRE_RE = re.compile(r"hrtimer_expire_entry: hrtimer=(\S+) "
                       r"(?:function=\S+ )?now=(\d+)")
TRUNCATION_NS = 500


class Sleeps:
    def __init__(self, tids):
        self.tids = list(tids)
        self.dir = os.path.join(TRACEFS, "instances",
                                "howlong-sleeps-%d" % os.getpid())
        self.asleep_ns = self.late_ns = self.timers = 0

    def _write(self, rel, text):
        with open(os.path.join(self.dir, rel), "w") as f:
            f.write(text)

    def __enter__(self):
        if not os.path.isdir(os.path.join(TRACEFS, "instances")):
            raise Failure("no tracefs at %s" % TRACEFS)
        os.mkdir(self.dir)
        try:
            self._write("trace_clock", "mono")
            self._write("buffer_size_kb", "8192")
            pids = " || ".join("common_pid == %d" % t for t in self.tids)
            self._write("events/timer/hrtimer_start/filter", pids)
            for e in EVENTS:
                self._write("events/%s/enable" % e, "1")
        except BaseException:
            self._remove()
            raise
        return self

    def _remove(self):
        try:
            for e in EVENTS:
                self._write("events/%s/enable" % e, "0")
        finally:
            os.rmdir(self.dir)

    def _stats(self):
        out = []
        for cpu in os.listdir(os.path.join(self.dir, "per_cpu")):
            with open(os.path.join(self.dir, "per_cpu", cpu, "stats")) as f:
                out.append(f.read())
        return out

    def __exit__(self, *exc):
        try:
            self._write("tracing_on", "0")
            with open(os.path.join(self.dir, "trace")) as f:
                trace = f.read()
            stats = self._stats()
        finally:
            self._remove()
        if exc[0] is None:
            if not all("overrun: 0\n" in s for s in stats):
                raise Failure("the timer trace overran its buffer")
            self._sum(trace)
        return False

    def _sum(self, trace):
        armed = {}      # hrtimer -> (armed at, expires)
        for line in trace.splitlines():
            m = START_RE.search(line)
            if m:
                at = int(m.group(1)) * 10**9 + int(m.group(2)) * 1000
                armed[m.group(3)] = (at, int(m.group(4)))
                continue
            m = EXPIRE_RE.search(line)
            if m and m.group(1) in armed:
                at, expires = armed.pop(m.group(1))
                now = int(m.group(2))
                if now < expires:
                    raise Failure("a timer ran %d ns early: %s" % (
                        expires - now, line))
                self.asleep_ns += now - at - TRUNCATION_NS
                self.late_ns += now - expires
                self.timers += 1
