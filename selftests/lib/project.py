"""Facts about the project the tests check against: its tools (from the
Makefile, so a new tool is covered without touching the tests) and its
one version (the VERSION file)."""
import os
import subprocess

from lib.harness import fail
from lib.tool import ROOT

STATIC = os.path.join(ROOT, "build", "static")


def tools():
    """TOOLS and PLAIN_TOOLS of the Makefile, in that order."""
    names = []
    with open(os.path.join(ROOT, "Makefile")) as f:
        for line in f:
            if line.startswith(("TOOLS :=", "PLAIN_TOOLS :=")):
                names += line.split(":=", 1)[1].split()
    if not names:
        fail("no TOOLS in the Makefile")
    return names


def version():
    with open(os.path.join(ROOT, "VERSION")) as f:
        return f.read().strip()


def static_build(timeout=600):
    """make STATIC=1 of every tool into build/static (OUT, BIN and SKEL
    pointed there: the dynamic build is untouched); incremental. Returns
    the binaries' paths; fails with make's last line."""
    bins = [os.path.join(STATIC, "bin", t) for t in tools()]
    argv = ["make", "-s", "-j2", "-C", ROOT, "STATIC=1", "OUT=" + STATIC,
            "BIN=" + os.path.join(STATIC, "bin"),
            "SKEL=" + os.path.join(STATIC, "skel")] + bins
    try:
        r = subprocess.run(argv, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        fail("make STATIC=1 took over %ds" % timeout)
    if r.returncode:
        fail("make STATIC=1 failed: %s" % (r.stderr.strip().splitlines()
                                            or ["?"])[-1])
    return bins


def arm64_static_build(timeout=600):
    """make ARCH=arm64 STATIC=1 of every tool (bin/arm64: make deps-arm64
    first); incremental. Returns the binaries' paths."""
    bins = [os.path.join(ROOT, "bin", "arm64", t) for t in tools()]
    r = subprocess.run(["make", "-s", "-j2", "-C", ROOT, "ARCH=arm64",
                        "STATIC=1"] + bins, capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode:
        fail("make ARCH=arm64 STATIC=1 failed: %s" % (
            r.stderr.strip().splitlines() or ["?"])[-1])
    return bins
