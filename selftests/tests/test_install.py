"""make install / make uninstall with PREFIX and DESTDIR: every tool of
the Makefile (TOOLS and PLAIN_TOOLS), its man page and its bash
completion go in, and all of them come out again."""
import os
import shutil
import subprocess
import tempfile

from lib import tool
from lib.harness import check, fail, test
from lib.project import tools, version

PREFIX = "/usr/local"


def make(target, destdir):
    r = subprocess.run(["make", "-s", "-C", tool.ROOT, target,
                        "PREFIX=" + PREFIX, "DESTDIR=" + destdir],
                       capture_output=True, text=True, timeout=600)
    if r.returncode:
        fail("make %s failed: %s" % (target, (r.stderr.strip().splitlines()
                                              or ["?"])[-1]))


def expected(root):
    """{path: what it is} of everything install must put under root."""
    base = root + PREFIX
    want = {}
    for t in tools():
        want[os.path.join(base, "sbin", t)] = "tool"
        want[os.path.join(base, "share", "man", "man8", t + ".8")] = "man"
        want[os.path.join(base, "share", "bash-completion", "completions",
                          t)] = "completion"
    return want


@test("install/install-uninstall")
def install_uninstall():
    root = tempfile.mkdtemp(prefix="howlong-install-")
    try:
        make("install", root)
        want = expected(root)
        missing = [p for p in want if not os.path.isfile(p)]
        check(not missing, "not installed: %s" % [
            os.path.relpath(p, root) for p in missing])
        for p, kind in want.items():
            if kind == "tool":
                check(os.access(p, os.X_OK), "%s is not executable" % p)
                r = subprocess.run([p, "-V"], capture_output=True,
                                   text=True)
                check(r.returncode == 0 and version() in r.stdout,
                      "%s -V: %r" % (p, r.stdout))
            elif kind == "man":
                with open(p) as f:
                    head = f.readline()
                check(version() in head and "@VERSION@" not in head,
                      "%s: .TH line %r" % (p, head))
            else:
                with open(p) as f:
                    text = f.read()
                name = os.path.basename(p)
                check("complete" in text and name in text,
                      "%s does not complete %s" % (p, name))
        make("uninstall", root)
        left = [os.path.relpath(os.path.join(d, f), root)
                for d, _, files in os.walk(root) for f in files]
        check(not left, "left after make uninstall: %s" % left)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return "%d files in, all out (%d tools)" % (len(want), len(tools()))
