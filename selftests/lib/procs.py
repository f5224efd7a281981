"""Processes: reading lines with a deadline, /proc lookups, stray children."""
import ctypes
import os
import select
import signal
import time

from lib.harness import Failure, note_failure


_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def die_with_parent():
    """preexec_fn for every child: if the runner itself is killed, its
    hogs, victims and tracers go with it."""
    _libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def pinned_to(cpu):
    """preexec_fn: die_with_parent, and run only on cpu (anywhere: -1)."""
    def setup():
        die_with_parent()
        if cpu >= 0:
            os.sched_setaffinity(0, {cpu})
    return setup


class Service:
    """A server a test starts and stops (PostgreSQL, Prometheus...), as a
    context manager: a failed start() is cleaned up by stop(); a failing
    stop() fails the test, without hiding why the test failed if it
    already had."""

    def start(self):
        raise NotImplementedError

    def stop(self):
        raise NotImplementedError

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, etype, *exc):
        try:
            self.stop()
        except Failure as e:
            if etype is None:
                raise
            note_failure(str(e))
        return False


def spawn_ready(argv, prefix, timeout=10, preexec_fn=die_with_parent):
    """Start argv (stdin, stdout and stderr piped, dying with the runner:
    a preexec_fn given instead must do that too) and read its first
    line, which must start with prefix (bytes): returns (Popen, LineReader
    of its stdout, that line). Otherwise it is killed and the test fails
    with what it said."""
    import subprocess
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=preexec_fn)
    out = LineReader(proc.stdout.fileno())
    line = out.readline(timeout)
    if not line or not line.startswith(prefix):
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        raise Failure("%s did not start: %r (stderr: %r)" % (
            " ".join(argv), line, proc.stderr.read(300)))
    return proc, out, line


class LineReader:
    """Reads lines from a pipe fd with timeouts, keeping what it read."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = b""
        self.seen = b""     # everything read so far
        self.eof = False

    def readline(self, timeout):
        """The next line (bytes, without newline), or None at EOF/timeout."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf and not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.fd, 65536)
            if not chunk:
                self.eof = True
                break
            self.buf += chunk
            self.seen += chunk
        if b"\n" not in self.buf:
            return None
        line, self.buf = self.buf.split(b"\n", 1)
        return line


def task_state(pid, tid):
    """One-letter scheduler state of a thread ('R', 'S', ...), or None."""
    try:
        with open("/proc/%d/task/%d/stat" % (pid, tid),
                  errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def comm_of(pid, tid=None):
    path = "/proc/%d/task/%d/comm" % (pid, tid or pid)
    with open(path, "rb") as f:
        return f.read().rstrip(b"\n")


def tids_of(pid):
    return sorted(int(t) for t in os.listdir("/proc/%d/task" % pid))


def free_pid():
    """A process id that does not exist right now."""
    with open("/proc/sys/kernel/pid_max") as f:
        pid = min(int(f.read()), 4194304) - 1
    while os.path.exists("/proc/%d" % pid):
        pid -= 1
    return pid


def stray_children():
    """Live (non-zombie) child processes of this runner: [(pid, comm)]."""
    me = os.getpid()
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d, errors="replace") as f:
                rest = f.read().rsplit(")", 1)
            comm = rest[0].split("(", 1)[1]
            fields = rest[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == me and fields[0] != "Z":
            found.append((int(d), comm))
    return found


def check_no_strays():
    """Kill and report any child process a test left running."""
    strays = stray_children()
    for pid, _ in strays:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    if strays:
        raise Failure("left processes running: " + ", ".join(
            "%d (%s)" % s for s in strays))
