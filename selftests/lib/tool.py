"""Running a tool (bin/schedlat unless name= says another): to completion
(run) or in the background (Tracer).

Every run ends with the leak check: whatever happened, once the tool has
exited no BPF program or link of its own may remain loaded; a leak fails
the running test (harness.note_failure), without skipping its cleanup.
"""
import os
import re
import signal
import subprocess

from lib import bpfstate
from lib.harness import Done, Failure, note_failure, test
from lib.procs import LineReader, die_with_parent

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
# Where the tools and the test programs are: this build's, or another
# architecture's (make check-arm64 runs the suite with bin/arm64 and
# build/arm64/test-progs).
BIN = os.environ.get("HOWLONG_BIN", os.path.join(ROOT, "bin"))
TEST_PROGS = os.environ.get("HOWLONG_TEST_PROGS",
                            os.path.join(ROOT, "build", "test-progs"))
TOOL = os.path.join(BIN, "schedlat")
TRACING_RE = re.compile(r"^Tracing .+\.\.\. Hit Ctrl-C to end\.$")


class Result:
    def __init__(self, args, rc, out, err, name="schedlat"):
        self.args, self.rc = args, rc
        self.tool = name
        self.out_bytes = out
        self.out = out.decode("utf-8", errors="replace")
        self.err = err.decode("utf-8", errors="replace")

    @property
    def err_lines(self):
        return self.err.splitlines()

    def cmd(self):
        return self.tool + " " + " ".join(self.args)

    def expect_rc(self, rc):
        if self.rc != rc:
            first = self.err_lines[0] if self.err_lines else "no stderr"
            raise Failure("%s: exit %s, expected %d (%s)" % (
                self.cmd(), self.rc, rc, first))


def _argv(args, name="schedlat", exe=None):
    """exe: the command that runs the tool (e.g. in a chroot), instead of
    bin/NAME."""
    if exe:
        return list(exe) + [str(a) for a in args]
    path = os.path.join(BIN, name)
    if not os.access(path, os.X_OK):
        raise Failure("%s not built (run: make)" % path)
    return [path] + [str(a) for a in args]


def _after_exit(what, before, owned):
    found = bpfstate.leaks(before, owned)
    if found:
        note_failure("%s left BPF objects loaded after exit: %s" % (
            what, ", ".join(found)))


def run(args, timeout=20, name="schedlat", prefix=(), exe=None):
    """Run the tool to completion; returns a Result. prefix: a command
    that execs the tool (e.g. setpriv to drop privileges); exe: as for
    _argv()."""
    argv = _argv(args, name, exe)
    what = name + " " + " ".join(argv[1:])
    before = bpfstate.snapshot()
    proc = subprocess.Popen(list(prefix) + argv, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=die_with_parent)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.kill()
        out, err = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _after_exit(what, before, None)
    if timed_out:
        raise Failure("%s did not exit within %ds" % (what, timeout))
    return Result(argv[1:], proc.returncode, out, err, name)


class Tracer:
    """The tool in the background: start() returns once it says "Tracing",
    stop() signals it and collects its output. Also a context manager that
    kills it on the way out if it is still running."""

    def __init__(self, args, name="schedlat", exe=None):
        self.name = name
        self.argv = _argv(args, name, exe)
        self.what = name + " " + " ".join(self.argv[1:])
        self.proc = None
        self.owned = None
        self.result = None

    def start(self, timeout=15):
        self.before = bpfstate.snapshot()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE,
                                     preexec_fn=die_with_parent)
        self.stderr = LineReader(self.proc.stderr.fileno())
        while True:
            line = self.stderr.readline(timeout)
            if line is None:
                break
            if TRACING_RE.match(line.decode(errors="replace")):
                self.owned = bpfstate.owned_by(self.proc.pid)
                return self
        err = self.stderr.seen.decode(errors="replace").strip()
        self._kill()
        raise Failure("%s did not start tracing within %ds (exit %s): %s" % (
            self.what, timeout, self.proc.returncode, err or "no stderr"))

    def stop(self, sig=signal.SIGINT, timeout=15):
        """Send sig and wait for the exit; returns the Result."""
        self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            raise Failure("%s did not exit within %ds of %s" % (
                self.what, timeout, signal.Signals(sig).name))
        self.result = Result(self.argv[1:], self.proc.returncode, out,
                             self.stderr.seen + err, self.name)
        _after_exit(self.what, self.before, self.owned)
        return self.result

    def wait_exit(self, timeout=15):
        """Wait for the tool to exit by itself; returns the Result."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            raise Failure("%s did not exit within %ds" % (self.what,
                                                          timeout))
        self.result = Result(self.argv[1:], self.proc.returncode, out,
                             self.stderr.seen + err, self.name)
        _after_exit(self.what, self.before, self.owned)
        return self.result

    def _kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()
        _after_exit(self.what, self.before, self.owned)
        self.result = Result(self.argv[1:], self.proc.returncode, b"", b"",
                             self.name)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.proc and self.result is None:
            self._kill()
        return False


def need(name):
    """Fail at once (before starting a server or a JVM) when the tool is
    not built."""
    _argv((), name)


def one_line_error(name, args, rc, names=(), prefix=(), exe=None):
    """Run a bad command line: it must exit rc with exactly one line on
    stderr, nothing on stdout, and that line must contain each of names
    (an entry "a|b" accepts either). Returns the line. exe: as for
    run()."""
    r = run(args, name=name, prefix=prefix, exe=exe)
    r.expect_rc(rc)
    if r.out:
        raise Failure("%s wrote to stdout: %r" % (r.cmd(), r.out[:80]))
    lines = r.err_lines
    if len(lines) != 1:
        raise Failure("%s: %d stderr lines, expected 1: %r" % (
            r.cmd(), len(lines), r.err[:200]))
    for n in names:
        if not any(x in lines[0] for x in n.split("|")):
            raise Failure("%s: error does not say %r: %r" % (
                r.cmd(), n, lines[0]))
    return lines[0]


def no_pid(args):
    return "-p" not in args


def one_process_only(name, arg_lists, every=no_pid, what="-p PID"):
    """On a kernel without attach cookies a user-space tool can probe a
    position-independent binary or a library in one process only: each
    argument list that asks for every process (every(args)) must exit 1
    with one line naming Linux 5.15 and what, and the test ends there
    (harness.Done). Elsewhere, or if none asks, nothing happens."""
    from lib import kernel
    lists = [[str(a) for a in args] for args in arg_lists]
    if kernel.attach_cookies() or not any(every(a) for a in lists):
        return
    for args in lists:
        if every(args):
            one_line_error(name, args, 1, ["Linux 5.15", what])
    raise Done("no attach cookies (%s): %s said in one line that it needs "
               "%s" % (kernel.release(), name, what))


def start_all(name, arg_lists):
    """One Tracer per argument list, each started (all stopped if one
    fails to start)."""
    tracers = []
    try:
        for args in arg_lists:
            t = Tracer(args, name=name)
            tracers.append(t)
            t.start()
    except BaseException:
        for t in tracers:
            t.__exit__(None, None, None)
        raise
    return tracers


def ended_with_target(r):
    """The tool ended as it must when the process -p names exits."""
    return r.rc == 1 and "-p" in r.args and "process %s has exited" % (
        r.args[r.args.index("-p") + 1]) in r.err


def stop_all(tracers, target_exits=False):
    """Stop every tracer (SIGINT); each must exit 0, or, with
    target_exits, may have ended by itself because its -p process exited
    during the work. Returns the Results."""
    try:
        results = [t.stop() for t in tracers]
    finally:
        for t in tracers:
            t.__exit__(None, None, None)
    for r in results:
        if not (target_exits and ended_with_target(r)):
            r.expect_rc(0)
    return results


def traced(name, arg_lists, work, target_exits=False):
    """Start one tracer per argument list, run work(), stop them all
    (each must exit 0, see stop_all()); returns ([Result], work())."""
    tracers = start_all(name, arg_lists)
    try:
        ret = work()
    except BaseException:
        for t in tracers:
            t.__exit__(None, None, None)
        raise
    return stop_all(tracers, target_exits), ret


NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def register_bad(name, table, not_root_args):
    """Register a test name/bad-KEY for each KEY: (args, rc, names) of
    table: args a list or a function returning one (evaluated when the
    test runs); names as for one_line_error(), empty: the last argument
    must be named. Also name/bad-not-root: not_root_args (likewise) run
    as nobody must say it needs root (None: a tool that does not)."""
    for key, (args, rc, names) in table.items():
        _register_one(name, key, args, rc, names, ())
    if not_root_args is not None:
        _register_one(name, "not-root", not_root_args, 1,
                      ["root|CAP_BPF"], NOBODY)


def _register_one(name, key, args, rc, names, prefix):
    def run():
        need(name)
        argv = [str(a) for a in (args() if callable(args) else args)]
        return one_line_error(name, argv, rc, names or [argv[-1]], prefix)
    test("%s/bad-%s" % (name, key))(run)
