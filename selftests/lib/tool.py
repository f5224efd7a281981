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
from lib.harness import Failure, note_failure
from lib.procs import LineReader, die_with_parent

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "bin", "schedlat")
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


def _argv(args, name="schedlat"):
    path = os.path.join(ROOT, "bin", name)
    if not os.access(path, os.X_OK):
        raise Failure("%s not built (run: make)" % path)
    return [path] + [str(a) for a in args]


def _after_exit(what, before, owned):
    found = bpfstate.leaks(before, owned)
    if found:
        note_failure("%s left BPF objects loaded after exit: %s" % (
            what, ", ".join(found)))


def run(args, timeout=20, name="schedlat", prefix=()):
    """Run the tool to completion; returns a Result. prefix: a command
    that execs the tool (e.g. setpriv to drop privileges)."""
    argv = _argv(args, name)
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

    def __init__(self, args, name="schedlat"):
        self.name = name
        self.argv = _argv(args, name)
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
