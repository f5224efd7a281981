"""Workloads with a known answer: CPU hogs, victims, cgroups, and the
measurement window that ties them to the kernel's own accounting.

The ground truth is /proc/PID/task/TID/schedstat: "exec_ns run_delay_ns
pcount". A Scenario starts hogs, victims and tracers, then window() reads
every victim thread's schedstat while all are blocked, lets them run their
pattern, and reads it again once all are blocked again: every run-queue
wait of a victim in the window is between the two readings, and every
tracer was attached before the first.
"""
import contextlib
import os
import subprocess
import sys
import time

from lib import tool
from lib.harness import Failure
from lib.procs import (LineReader, comm_of, die_with_parent, pinned_to,
                       task_state)

VICTIM = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "victim.py")
CGROUP_PREFIX = "howlong-selftest-"


def contended_cpu():
    """The CPU victims and hogs share: the last one this runner may use."""
    return max(os.sched_getaffinity(0))


def quiet_cpu():
    """A CPU for uncontended runs: another than the one every suite (this
    one or a concurrent one) loads with hogs, when there is one."""
    return min(os.sched_getaffinity(0))


def unique_comm(tag):
    """A command name no other concurrent suite uses (at most 15 bytes)."""
    return ("hl%s%d" % (tag, os.getpid()))[:15]


class Waits:
    """Run-queue waits as the kernel counts them: count and sum in ns.
    Also, from other counters of the kernel: switches (voluntary and
    involuntary context switches, /proc/PID/task/TID/status) and cpu_ns
    (time on a CPU, the scheduler's exec_runtime)."""

    def __init__(self, count=0, total=0, switches=0, cpu_ns=0):
        self.count, self.sum = count, total
        self.switches, self.cpu_ns = switches, cpu_ns

    def __add__(self, other):
        return Waits(self.count + other.count, self.sum + other.sum,
                     self.switches + other.switches,
                     self.cpu_ns + other.cpu_ns)

    def __sub__(self, other):
        return Waits(self.count - other.count, self.sum - other.sum,
                     self.switches - other.switches,
                     self.cpu_ns - other.cpu_ns)

    @property
    def avg(self):
        return self.sum / self.count if self.count else 0.0


def context_switches(pid, tid):
    n = 0
    # binary: the Name line holds the comm, any bytes
    with open("/proc/%d/task/%d/status" % (pid, tid), "rb") as f:
        for line in f:
            if line.split(b":")[0].endswith(b"ctxt_switches"):
                n += int(line.split(b":")[1])
    return n


def schedstat(pid, tid):
    with open("/proc/%d/task/%d/schedstat" % (pid, tid)) as f:
        cpu, delay, count = (int(x) for x in f.read().split()[:3])
    return Waits(count, delay, context_switches(pid, tid), cpu)


class Hogs:
    """n shell busy loops pinned to cpu."""

    def __init__(self, cpu, n=2):
        self.cpu, self.n, self.procs = cpu, n, []

    def __enter__(self):
        for _ in range(self.n):
            self.procs.append(subprocess.Popen(
                ["sh", "-c", "while :; do :; done"],
                stdin=subprocess.DEVNULL, preexec_fn=pinned_to(self.cpu)))
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()
        return False


class Victim:
    """lib/victim.py: pinned, named, blocked between rounds."""

    def __init__(self, cpu, comm, threads=0, duration=2.0, spin_us=500,
                 sleep_us=1000, accounted=False):
        """accounted: its own account covers the wait for "go" and ends
        blocked (see victim.py); Scenario.stop_tracers() collects it."""
        self.accounted = accounted and not threads
        if isinstance(comm, str):
            comm = comm.encode()
        self.comm = comm
        self.argv = [sys.executable, VICTIM, "--cpu", str(cpu),
                     "--comm", comm.hex(), "--threads", str(threads),
                     "--duration", str(duration), "--spin-us", str(spin_us),
                     "--sleep-us", str(sleep_us)]
        self.duration = duration
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     preexec_fn=die_with_parent)
        self.lines = LineReader(self.proc.stdout.fileno())
        line = self.lines.readline(10)
        if not line or not line.startswith(b"ready "):
            raise Failure("victim did not start: %r" % line)
        ids = [int(x) for x in line.split()[1:]]
        self.pid, self.tids = ids[0], ids
        return self

    def go(self):
        if self.accounted:
            self.proc.stdin.write(b"go %d\n" % time.monotonic_ns())
        else:
            self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()

    def wait_done(self):
        """Returns how many sleeps the round asked for; an accounted
        victim is only waited for: see report()."""
        if self.accounted:
            time.sleep(self.duration)
            self.waits()
            return None
        return self.report()

    def report(self):
        """Its account of the round (how many sleeps it asked for). An
        accounted victim is asked for it only now: after its tracers
        stopped, the wakeup to answer is in nobody's window."""
        if self.accounted:
            self.proc.stdin.write(b"report\n")
            self.proc.stdin.flush()
        line = self.lines.readline(self.duration + 20)
        if not line or line.split()[0] != b"done":
            raise Failure("victim %d did not finish its round (%r)" % (
                self.pid, line))
        w = [int(x) for x in line.split()[1:4]]
        self.sleeps, self.own_wall_ns, self.own_cpu_ns = w
        return self.sleeps

    def comm_of(self, tid):
        return comm_of(self.pid, tid)

    def waits(self):
        """{tid: Waits} read while every thread is blocked."""
        deadline = time.monotonic() + 5
        prev = None
        while True:
            cur = {t: schedstat(self.pid, t) for t in self.tids}
            flat = {t: (w.count, w.sum, w.switches, w.cpu_ns)
                    for t, w in cur.items()}
            blocked = all(task_state(self.pid, t) in ("S", "D")
                          for t in self.tids)
            if blocked and flat == prev:
                return cur
            if time.monotonic() > deadline:
                raise Failure("victim %d never went quiet" % self.pid)
            prev = flat
            time.sleep(0.05)

    def __exit__(self, *exc):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc.stdin.close()
            self.proc.stdout.close()
        return False


def cgroup2_root():
    """Mount point of the cgroup v2 hierarchy (unified or hybrid)."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] == "cgroup2":
                found.append(left.split()[4])
    if not found:
        raise Failure("no cgroup2 file system mounted")
    return "/sys/fs/cgroup" if "/sys/fs/cgroup" in found else found[0]


class Cgroup:
    """A cgroup v2 directory of our own, removed on exit; tag tells apart
    two of one test."""

    def __init__(self, tag=""):
        self.root = cgroup2_root()
        self.name = CGROUP_PREFIX + str(os.getpid()) + (
            "-" + tag if tag else "")
        self.path = os.path.join(self.root, self.name)
        self.rel = "/" + self.name     # as seen from the cgroup2 root

    def __enter__(self):
        self._remove_stale()
        os.mkdir(self.path)
        return self

    def _remove_stale(self):
        """Directories of earlier runs that were killed: empty by now."""
        for name in os.listdir(self.root):
            pid = name[len(CGROUP_PREFIX):].split("-")[0]
            if name.startswith(CGROUP_PREFIX) and pid.isdigit() and (
                    name == self.name or
                    not os.path.exists("/proc/" + pid)):
                try:
                    os.rmdir(os.path.join(self.root, name))
                except OSError:
                    pass

    def join(self):
        """In a child before exec (preexec_fn): move itself in."""
        self.add(os.getpid())

    def add(self, pid):
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write(str(pid))

    def _remove(self):
        with open(os.path.join(self.path, "cgroup.procs")) as f:
            pids = f.read().split()
        for pid in pids:
            try:
                with open(os.path.join(self.root, "cgroup.procs"), "w") as f:
                    f.write(pid)
            except OSError:
                pass    # gone meanwhile
        deadline = time.monotonic() + 5
        while True:
            try:
                os.rmdir(self.path)
                return
            except OSError as e:
                if time.monotonic() > deadline:
                    raise Failure("cannot remove %s: %s" % (self.path, e))
                time.sleep(0.05)

    def __exit__(self, *exc):
        self._remove()
        return False


class Scenario:
    """Everything one measurement needs, torn down in reverse order.
    cpu: where hogs and victims run (-1: unpinned, free to migrate)."""

    def __init__(self, hogs=0, cpu=None):
        self.cpu = contended_cpu() if cpu is None else cpu
        self.nhogs = hogs
        self.tracers = []
        self.windowed = []

    def __enter__(self):
        self.stack = contextlib.ExitStack()
        if self.nhogs:
            self.stack.enter_context(Hogs(self.cpu, self.nhogs))
        return self

    def __exit__(self, *exc):
        return self.stack.__exit__(*exc)

    def victim(self, comm, **kw):
        return self.stack.enter_context(Victim(self.cpu, comm, **kw))

    def cgroup(self):
        return self.stack.enter_context(Cgroup())

    def tracer(self, args):
        t = self.stack.enter_context(tool.Tracer(args))
        self.tracers.append(t)
        return t

    def window(self, victims):
        """Run one round of every victim at once; returns
        {victim: {tid: Waits}}, the kernel's waits in the window."""
        self.windowed = victims
        before = {v: v.waits() for v in victims}
        self.started = time.monotonic_ns()
        for v in victims:
            v.go()
        for v in victims:
            v.wait_done()
        after = {v: v.waits() for v in victims}
        self.ended = time.monotonic_ns()
        return {v: {t: after[v][t] - before[v][t] for t in v.tids}
                for v in victims}

    def stop_tracers(self):
        """SIGINT every tracer; returns their Results (exit 0 required).
        Then accounted victims of the last window report their round."""
        results = [t.stop() for t in self.tracers]
        for r in results:
            r.expect_rc(0)
        for v in self.windowed:
            if v.accounted:
                v.report()
        return results


def total(waits_by_tid):
    return sum(waits_by_tid.values(), Waits())
