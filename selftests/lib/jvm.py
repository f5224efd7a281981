"""A real HotSpot JVM for the tests of the JVM tools: the workload in
selftests/java/JitWork.java, compiled with javac once per run, started
so that the JVM itself says what it compiled: each compile task as it
starts (-Xlog:jit+compilation=debug on stdout, the -XX:+PrintCompilation
format) and how each ended (-XX:+LogCompilation, written at exit).

    with jvm.Jvm() as j:            # started; j.pid; waiting for "go"
        j.quiet()                   # no compilation printed for a while
        ... attach a tracer with -p j.pid ...
        base = j.mark()             # lines printed so far
        j.go()                      # runs the work, waits for "done"
        j.quiet()
        tasks = j.tasks(base, j.mark())     # compile tasks of the work
        ... stop the tracer ...
    # exited (asked to, then killed if need be)
    failed = j.mark_failed(tasks)   # from LogCompilation

The JDK is /usr/lib/jvm/java-17-openjdk-amd64 ($HOWLONG_JDK overrides it;
other JDKs, e.g. temurin, are installed too and are not what the markers
were checked on).

How the compilation lines map to hotspot:method__compile__begin/end
(checked with uprobes on both markers through tracefs, one whole JVM run:
268 begin, 268 end, 194 "C1" + 74 "C2"; the JVM: 268 distinct non-native
compile ids, 74 of tier 4, plus 46 native wrappers; with C2 starved of
nodes, LogCompilation's task_done success='0' tasks are exactly the end
markers with success=false):

- A compile task is one compile id. CompileBroker prints its line on the
  compiler thread just before method__compile__begin fires, and the end
  marker fires on the same thread when it finishes, success or not.
- The same id can print again: "made not entrant" / "made zombie" (a
  later deoptimization, not a compilation). Count distinct ids, never
  lines.
- Native wrappers (attribute 'n', tier 0, including method handle
  intrinsics) are generated on the requesting Java thread, outside the
  compilers: no marker. Excluded.
- OSR compilations ('%', "Class::method @ bci") are ordinary tasks of
  C1 or C2: they fire both markers. Included.
- Tier 1-3 is C1, tier 4 is C2.
- Tasks still queued when the JVM exits never start: neither printed nor
  fired. A task running at exit would be printed with no end marker; the
  tests stop their tracers while the JVM is idle (quiet()) instead.
"""
import atexit
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

from lib.harness import Failure, note_failure
from lib.procs import die_with_parent

JDK = os.environ.get("HOWLONG_JDK", "/usr/lib/jvm/java-17-openjdk-%s" % {
    "x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine,
                                               os.uname().machine))
JAVA = os.path.join(JDK, "bin", "java")
JAVAC = os.path.join(JDK, "bin", "javac")
LIBJVM = os.path.join(JDK, "lib", "server", "libjvm.so")
SOURCES = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "java")

# -Xlog:jit+compilation=debug:stdout:none, the PrintCompilation format
# without time stamp: "  56 %s!bn 3       java.lang.String::hashCode
# (60 bytes)...". Not -XX:+PrintCompilation itself: its lines are not
# written atomically, and two compiler threads printing at once merge
# into one line ("498  290       4          498  295       3  Foo::bar")
# now and then (2 runs in 5 here, with C2 failing fast); unified
# logging writes each line in one piece.
LINE_RE = re.compile(r"^\s*(\d+)\s([ %sbn!]{5})\s(?:\s*(\d))?\s+"
                     r"(\S+?)(?:\s+@\s+(\d+))?\s+\((\d+ bytes|native)\)"
                     r"(.*)$")
# -XX:+LogCompilation (XML, one log per compiler thread, merged into
# LogFile when the JVM exits): each task and how it ended.
TASK_RE = re.compile(r"<task compile_id='(\d+)'.*?<task_done success='(\d)'",
                     re.S)
AFTERWORDS = ("made not entrant", "made zombie")

_classes = []       # [directory holding the workloads' classes]


def _cleanup():
    for d in _classes:
        shutil.rmtree(os.path.dirname(d), ignore_errors=True)
    del _classes[:]


atexit.register(_cleanup)


def bad_inputs():
    """Bad command lines every JVM tool refuses (see tool.register_bad)."""
    return {
        "jvm-missing": (["--jvm", "/nonexistent"], 2, ["/nonexistent"]),
        "jvm-no-markers": (["--jvm", "/bin/true"], 1, ["no USDT markers"]),
        # a live process that has no libjvm.so mapped (this runner)
        "pid-not-jvm": (["-p", os.getpid()], 2, [str(os.getpid())]),
        "attach-method": (["--attach", "tp_btf"], 2, ["--attach"]),
    }


def classes():
    """Directory of the compiled workloads (javac runs once per run)."""
    if _classes:
        return _classes[0]
    for p in (JAVA, JAVAC, LIBJVM):
        if not os.access(p, os.R_OK):
            raise Failure("%s not found (run: make deps; openjdk-17-jdk-"
                          "headless)" % p)
    top = tempfile.mkdtemp(prefix="howlong-jvm-")
    out = os.path.join(top, "classes")
    os.mkdir(out)
    sources = sorted(os.path.join(SOURCES, f) for f in os.listdir(SOURCES)
                     if f.endswith(".java"))
    r = subprocess.run([JAVAC, "-d", out] + sources, capture_output=True,
                       timeout=120)
    if r.returncode:
        shutil.rmtree(top, ignore_errors=True)
        # HotSpot's crash banner (javac is a JVM too) goes to stdout
        said = (r.stderr or r.stdout).decode(errors="replace").split()
        raise Failure("javac %s: exited %d (last output: %s)" % (
            SOURCES, r.returncode, " ".join(said)[-300:]))
    _classes.append(out)
    return out


class Task:
    """One compile task as PrintCompilation shows it."""

    def __init__(self, cid, attrs, tier, name, bci):
        self.id, self.attrs, self.tier = cid, attrs, tier
        self.name, self.bci = name, bci     # "java.lang.String::hashCode"
        self.failed = False

    @property
    def native(self):
        return "n" in self.attrs

    @property
    def osr(self):
        return "%" in self.attrs

    @property
    def compiler(self):
        return "C2" if self.tier == 4 else "C1"

    def __repr__(self):
        return "%d%s %s%s tier %s" % (self.id, self.attrs.strip() and
                                      " " + self.attrs.strip(), self.name,
                                      " @ %d" % self.bci if self.osr else "",
                                      self.tier)


class JavaProcess:
    """A workload of selftests/java: started with java_args (JVM flags,
    then the main class and its arguments); it prints "pid N" and waits
    (see the module doc). stdout is the JVM's own log, line by line."""

    def __init__(self, java_args, container=None):
        """container: a lib.container.Container to run the JVM in (the
        workloads' directory is bound in; give it own=[LIBJVM] for a copy
        of the JVM of its own)."""
        self.argv = [JAVA] + list(java_args)
        self.container = container
        self.main = java_args[java_args.index("-cp") + 2]
        self.proc = None
        self.lines = []         # stdout: [(monotonic time, line)]
        self.said = []          # stderr: the workload's own lines
        self.cond = threading.Condition()
        self.eof = False
        self.pid = None

    # ---- life cycle ----

    def _preexec(self):
        die_with_parent()
        if self.container:
            self.container.enter()

    def start(self, timeout=20):
        argv = self.argv
        if self.container:
            self.container.bind(os.path.dirname(classes()))
            argv = self.container.argv(argv)
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE,
                                     preexec_fn=self._preexec)
        self.readers = [threading.Thread(target=self._read, daemon=True,
                                         args=(f, to)) for f, to in (
            (self.proc.stdout, self.lines), (self.proc.stderr, self.said))]
        for r in self.readers:
            r.start()
        try:
            line = self._wait_line(lambda l: l.startswith("pid "), timeout)
            self.pid = int(line.split()[1])
            if self.container:  # that was its pid inside
                self.pid = self.container.host_pid(self.proc.pid)
            elif self.pid != self.proc.pid:
                raise Failure("java says pid %d, Popen %d" % (
                    self.pid, self.proc.pid))
        except BaseException:
            self.proc.kill()
            self.__exit__(None, None, None)
            raise
        return self

    def _read(self, f, to):
        for raw in f:
            with self.cond:
                to.append((time.monotonic(),
                           raw.decode(errors="replace").rstrip("\n")))
                self.cond.notify_all()
        with self.cond:
            if to is self.said:
                self.eof = True
            self.cond.notify_all()

    def said_mark(self):
        with self.cond:
            return len(self.said)

    def _wait_line(self, pred, timeout, start=0):
        """The first line the workload wrote to stderr from said[start:]
        that pred accepts."""
        deadline = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.said):
                    if pred(self.said[i][1]):
                        return self.said[i][1]
                    i += 1
                left = deadline - time.monotonic()
                if self.eof or left <= 0:
                    raise Failure("java %s: %s (last output: %r)" % (
                        self.main, "exited" if self.eof else
                        "no expected line within %ds" % timeout,
                        [l for _, l in (self.said + self.lines)[-3:]]))
                self.cond.wait(left)

    def quiet(self, secs=0.4, timeout=15):
        """Wait until the JVM printed nothing for secs (no compilation
        starting: its compile queue is empty and it is idle)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                last = self.lines[-1][0] if self.lines else 0
                now = time.monotonic()
                if now - last >= secs:
                    return
                if now > deadline:
                    raise Failure("the JVM kept compiling for %ds" % timeout)
                self.cond.wait(secs - (now - last))

    def mark(self):
        """Number of lines so far (for tasks(since=))."""
        with self.cond:
            return len(self.lines)

    def go(self, timeout=30):
        """Run the work; returns once the JVM printed "done"."""
        self.send_go()
        self.wait_done(timeout)

    def send_go(self):
        self.go_at = self.said_mark()
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()

    def wait_done(self, timeout=30):
        self._wait_line(lambda l: l.startswith("done "), timeout, self.go_at)

    def finish(self, timeout=15):
        """Let the JVM exit; returns its exit status."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"bye\n")
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Failure("the JVM did not exit within %ds" % timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            try:
                self.finish(5)
            except Failure as e:
                note_failure(str(e))
        if self.proc:
            for r in self.readers:
                r.join(5)
            self.proc.stdout.close()
            self.proc.stderr.close()
            self.proc.stdin.close()
        return False

    def output(self):
        with self.cond:
            return [l for _, l in self.lines]


class Jvm(JavaProcess):
    """JitWork (see the module doc). rounds: passes over the 30 small
    methods (4: about 300 compile tasks in 0.3-0.5 s of work)."""

    def __init__(self, rounds=4, flags=()):
        fd, self.log = tempfile.mkstemp(prefix="compilation-", suffix=".log",
                                        dir=os.path.dirname(classes()))
        os.close(fd)
        super().__init__(["-Xlog:jit+compilation=debug:stdout:none",
                          "-XX:+UnlockDiagnosticVMOptions",
                          "-XX:+LogCompilation", "-XX:LogFile=" + self.log]
                         + list(flags) + ["-cp", classes(), "JitWork",
                                          str(rounds)])

    def tasks(self, since=0, until=None):
        """The compile tasks (not native wrappers) whose first line came
        in lines[since:until], ids printed before since excluded. Their
        failed attribute is only known once the JVM exited (see
        mark_failed)."""
        lines = self.output()
        seen = set()
        for line in lines[:since]:
            m = LINE_RE.match(line)
            if m:
                seen.add(int(m.group(1)))
        found = {}
        for line in lines[since:until]:
            m = LINE_RE.match(line)
            if not m:
                continue
            cid = int(m.group(1))
            rest = m.group(7)
            if cid in seen or any(a in rest for a in AFTERWORDS):
                continue
            t = found.get(cid)
            if t is None:
                t = found[cid] = Task(cid, m.group(2), int(m.group(3) or 0),
                                      m.group(4), int(m.group(5) or -1))
        return [t for t in found.values() if not t.native]

    def outcomes(self):
        """{compile id: succeeded} from -XX:+LogCompilation, once the
        JVM has exited (it writes the file then)."""
        if self.proc.poll() is None:
            raise Failure("outcomes() needs the JVM to have exited")
        with open(self.log, errors="replace") as f:
            text = f.read()
        os.unlink(self.log)
        found = {int(i): ok == "1" for i, ok in TASK_RE.findall(text)}
        if not found:
            raise Failure("no compile task in the JVM's LogCompilation "
                          "file")
        return found

    def mark_failed(self, tasks):
        """Set each task's failed attribute (JVM exited); returns the
        failed ones. A task missing from the log fails the test."""
        oc = self.outcomes()
        missing = [t for t in tasks if t.id not in oc]
        if missing:
            raise Failure("tasks %r are not in LogCompilation" % missing[:3])
        for t in tasks:
            t.failed = not oc[t.id]
        return [t for t in tasks if t.failed]

    def natives(self, since=0, until=None):
        """Native wrappers printed in lines[since:until] (never fired)."""
        n = set()
        for line in self.output()[since:until]:
            m = LINE_RE.match(line)
            if m and "n" in m.group(2):
                n.add(int(m.group(1)))
        return len(n)


# -Xlog:safepoint,gc on stdout without decorations. SafepointTracing logs
# one line per safepoint as it ends; its Total runs from the start of
# SafepointSynchronize::begin() to the end of end(), "Reaching safepoint"
# from that start until every Java thread has stopped, then Cleanup.
SAFEPOINT_RE = re.compile(r'^Safepoint "([^"]+)", Time since last: \d+ ns, '
                          r'Reaching safepoint: (\d+) ns, Cleanup: (\d+) ns, '
                          r'At safepoint: (\d+) ns, Total: (\d+) ns$')
# The collections in a pause, logged by the operation before its
# safepoint line: "GC(3) Pause Young (Normal) (G1 Evacuation Pause) ...".
GC_PAUSE_RE = re.compile(r"^GC\(\d+\) Pause (Young|Full|Remark|Cleanup)\b")
GC_KINDS = {"Young": "young", "Full": "full", "Remark": "concurrent",
            "Cleanup": "concurrent"}
GC_RANK = [None, "young", "concurrent", "full"]


class Pause:
    """One safepoint as the JVM logged it."""

    def __init__(self, op, gc, total_ns, reach_ns, at_ns):
        self.op, self.gc = op, gc           # gc: None, "young", ...
        self.total_ns, self.reach_ns = total_ns, reach_ns
        self.at_ns = at_ns                  # cleanup done to the end

    def __repr__(self):
        return "%s%s %dns" % (self.op, "/" + self.gc if self.gc else "",
                              self.total_ns)


class PauseJvm(JavaProcess):
    """PauseWork: gcs rounds of allocation each ended by System.gc(),
    then dumps thread dumps (see selftests/java/PauseWork.java)."""

    def __init__(self, gcs=5, dumps=3, flags=(), container=None):
        fd, self.log = tempfile.mkstemp(prefix="safepoint-", suffix=".log",
                                        dir=os.path.dirname(classes()))
        os.close(fd)
        super().__init__(["-Xlog:safepoint=info,gc=info:file=%s:none"
                          % self.log] + list(flags) +
                         ["-cp", classes(), "PauseWork", str(gcs),
                          str(dumps)], container=container)

    def pauses(self):
        """The safepoints the JVM logged, in order, each with the
        strongest collection logged within it; once it has exited."""
        if self.proc.poll() is None:
            raise Failure("pauses() needs the JVM to have exited")
        with open(self.log, errors="replace") as f:
            lines = f.read().splitlines()
        os.unlink(self.log)
        found, gc = [], None
        for line in lines:
            m = GC_PAUSE_RE.match(line)
            if m:
                kind = GC_KINDS[m.group(1)]
                if GC_RANK.index(kind) > GC_RANK.index(gc):
                    gc = kind
                continue
            m = SAFEPOINT_RE.match(line)
            if m:
                found.append(Pause(m.group(1), gc, int(m.group(5)),
                                   int(m.group(2)) + int(m.group(3)),
                                   int(m.group(4))))
                gc = None
        return found
