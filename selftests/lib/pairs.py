"""The timed-interval program selftests/c/pairs.c (built by make check
into build/test-progs/pairs): a context manager that starts it in a mode,
lets it run on go() and returns the intervals it timed itself.

    with pairs.Pairs("threads", 4, 6, 2) as p:    # p.pid, waiting
        ... attach a tracer ...
        recs = p.go()                             # [Rec], after "done"

A tool's interval lies between the program's own clock reads around the
markers (or the call): rec.slept_ns <= interval <= rec.span_ns.
"""
import os
import subprocess

from lib.harness import Failure
from lib.procs import die_with_parent, spawn_ready
from lib.tool import TEST_PROGS

PATH = os.path.join(TEST_PROGS, "pairs")
# The same program as a fixed-address executable (ET_EXEC, -no-pie)
NOPIE = PATH + "-nopie"
BUILDS = (("PIE", PATH), ("non-PIE", NOPIE))
PROVIDER = "hltest"


class Rec:
    def __init__(self, what, rid, kind, t0, t1, slept):
        self.what, self.id, self.kind = what, rid, kind
        self.t0, self.t1, self.slept_ns = t0, t1, slept

    @property
    def span_ns(self):
        return self.t1 - self.t0

    def __repr__(self):
        return "%s#%d(kind %d, slept %d, span %d)" % (
            self.what, self.id, self.kind, self.slept_ns, self.span_ns)


class Pairs:
    def __init__(self, mode, *args, path=PATH, container=None):
        """path: a copy of the program to run instead; container: a
        lib.container.Container to run it in (its own copy of path)."""
        if not os.access(path, os.X_OK):
            raise Failure("%s not built (run: make check)" % path)
        self.argv = [path, mode] + [str(a) for a in args]
        self.container = container
        self.proc = None
        self.pid = None

    def _preexec(self):
        die_with_parent()
        if self.container:
            self.container.enter()

    def __enter__(self):
        argv = self.container.argv(self.argv) if self.container else \
            self.argv
        self.proc, self.out, line = spawn_ready(argv, b"ready ",
                                                preexec_fn=self._preexec)
        self.pid = int(line.split()[1])
        if self.container:      # that was its pid inside
            self.pid = self.container.host_pid(self.proc.pid)
        return self

    def go(self, timeout=30):
        """Run the mode; returns its intervals once it printed "done"."""
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()
        recs = []
        self.counts = {}    # "count NAME N" lines
        while True:
            line = self.out.readline(timeout)
            if line is None:
                raise Failure("%s: no \"done\" within %ds (stderr: %r)" % (
                    " ".join(self.argv[1:]), timeout,
                    self.proc.stderr.read1(200) if self.proc.poll()
                    is not None else b""))
            if line == b"done":
                return recs
            w = line.decode().split()
            if w[0] == "count":
                self.counts[w[1]] = int(w[2])
            if w[0] == "rec":
                recs.append(Rec(w[1], int(w[2]), int(w[3]), int(w[4]),
                                int(w[5]), int(w[6])))

    def __exit__(self, *exc):
        if self.proc:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.proc.stderr.close()
        return False
