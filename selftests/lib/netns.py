"""TCP traffic for the network tools, only inside network namespaces that
the test creates (a unique name, its loopback up, always deleted), never
the host's: a context manager for the namespace, and the peer program
(selftests/lib/tcppeer.py) started inside it, waiting for go().

    with netns.Netns("conn") as ns:
        with ns.peer({"mode": "connects", ...}) as p:   # p.pid, waiting
            ... attach a tracer ...
            res = p.go()                                # its JSON result
"""
import json
import os
import shutil
import subprocess
import sys

from lib.harness import Failure
from lib.procs import spawn_ready

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tcppeer.py")


def _ip(*args):
    if not shutil.which("ip"):
        raise Failure("ip not found: install iproute2 (run: make deps)")
    r = subprocess.run(["ip"] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode:
        raise Failure("ip %s: %s" % (" ".join(args),
                                     r.stderr.decode().strip()))


class Netns:
    def __init__(self, tag):
        self.name = "hltest-%s-%d" % (tag, os.getpid())

    def __enter__(self):
        _ip("netns", "add", self.name)
        try:
            _ip("-n", self.name, "link", "set", "lo", "up")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        subprocess.run(["ip", "netns", "del", self.name],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        return False

    def peer(self, plan):
        return Peer(self, plan)


class Peer:
    """tcppeer.py with plan (a dict) in the namespace: ready on entry
    (pid known), runs on go(), killed on exit if still running."""

    def __init__(self, ns, plan):
        self.argv = ["ip", "netns", "exec", ns.name, sys.executable, PEER,
                     json.dumps(plan)]
        self.proc = None

    def __enter__(self):
        # ip netns exec execs the program: the pid is the peer's own
        self.proc, self.out, _ = spawn_ready(self.argv, b"ready")
        self.pid = self.proc.pid
        return self

    def go(self, timeout=60):
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()
        line = self.out.readline(timeout)
        if line is None:
            raise Failure("tcppeer: no result within %ds (stderr: %r)" % (
                timeout, self.proc.stderr.read1(300)
                if self.proc.poll() is not None else b""))
        return json.loads(line)

    def finish(self, timeout=10):
        """Let it end (it waits for a second line after its result)."""
        self.proc.stdin.write(b"end\n")
        self.proc.stdin.flush()
        self.proc.wait(timeout)

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        return False
