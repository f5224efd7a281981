"""Building the Debian package from a clean copy of the tree, as a
distro's build daemon would: shared by the package tests (the host's
architecture) and check-arm64 (cross-built with dpkg-buildpackage -a)."""
import os
import re
import shutil
import subprocess
import tempfile
import time

from lib.harness import fail
from lib.project import ROOT, version

BUILD_TIMEOUT = 240
# Not copied into the build tree when it is not a git checkout: build
# outputs, which a package build must not reuse.
OUTPUTS = {"bin", "build", "skel", ".git"}


def clean_env():
    """No MAKEFLAGS, STATIC, CFLAGS, DEB_BUILD_OPTIONS... from whoever
    started the runner: the package builds as it would on a buildd."""
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                   "/sbin:/bin",
           "HOME": os.environ.get("HOME", "/root"), "LC_ALL": "C.UTF-8"}
    if "TMPDIR" in os.environ:
        env["TMPDIR"] = os.environ["TMPDIR"]
    return env


def source_files():
    """The tree's files, relative to ROOT: git's view (tracked, and new
    files not ignored) when ROOT is a checkout, else everything but
    OUTPUTS and caches (also when git is not installed: a tree copied
    to a new machine)."""
    try:
        r = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--cached",
                            "--others", "--exclude-standard"],
                           capture_output=True, timeout=60)
    except FileNotFoundError:
        r = None
    if r and r.returncode == 0 and r.stdout:
        names = {n.decode() for n in r.stdout.split(b"\0") if n}
        return sorted(n for n in names
                      if os.path.lexists(os.path.join(ROOT, n)))
    found = []
    for d, dirs, files in os.walk(ROOT):
        rel = os.path.relpath(d, ROOT)
        dirs[:] = [x for x in dirs if x != "__pycache__" and
                   not (rel == "." and x in OUTPUTS)]
        found += [os.path.normpath(os.path.join(rel, f)) for f in files]
    return sorted(found)


def copy_source(dest):
    for name in source_files():
        target = os.path.join(dest, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, name), target, follow_symlinks=False)


def why(log):
    """The line of a failed build log that says what went wrong."""
    lines = [l for l in log.splitlines() if l.strip()]
    for l in lines:
        if "Unmet build dependencies" in l:
            return l.strip() + " (run: make deps)"
    for l in lines:
        if re.search(r"\berror:|\*\*\*", l):
            return l.strip()
    return lines[-1] if lines else "no output"


def host_arch():
    return subprocess.run(["dpkg", "--print-architecture"], check=True,
                          capture_output=True, text=True).stdout.strip()


def build(arch=None):
    """dpkg-buildpackage -us -uc -b (-a ARCH -d for another architecture:
    its cross build-dependencies are not declared) in a temporary copy of
    the tree; returns {"dir", "deb", "changes", "log", "secs"} (dir goes
    when the caller removes it)."""
    tmp = tempfile.mkdtemp(prefix="howlong-deb-")
    src = os.path.join(tmp, "howlong-" + version())
    copy_source(src)
    cross = ["-a", arch, "-d"] if arch and arch != host_arch() else []
    start = time.monotonic()
    try:
        r = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b",
                            "-jauto"] + cross, cwd=src, env=clean_env(),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True,
                           errors="replace", timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        fail("dpkg-buildpackage took over %ds" % BUILD_TIMEOUT)
    finally:
        shutil.rmtree(src, ignore_errors=True)
    secs = time.monotonic() - start
    if r.returncode:
        fail("dpkg-buildpackage exit %d: %s" % (r.returncode, why(r.stdout)))
    base = "howlong_%s_%s" % (version(), arch or host_arch())
    return {"dir": tmp, "deb": os.path.join(tmp, base + ".deb"),
            "changes": os.path.join(tmp, base + ".changes"),
            "log": r.stdout, "secs": secs}
