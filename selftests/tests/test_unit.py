"""The C unit tests: every selftests/unit/<name>.c, built by make check into
build/test/<name>, is one test. Its "not ok" lines are failures; its last
"# " line is shown as the detail."""
import glob
import os
import subprocess

from lib.harness import test, fail
from lib.tool import ROOT

UNIT_DIR = os.path.join(ROOT, "selftests", "unit")
BUILD_DIR = os.path.join(ROOT, "build", "test")


def run_binary(name):
    path = os.path.join(BUILD_DIR, name)
    if not os.access(path, os.X_OK):
        fail("%s not built (run: make check)" % os.path.relpath(path, ROOT))
    src = os.path.join(UNIT_DIR, name + ".c")
    if os.path.getmtime(path) < os.path.getmtime(src):
        fail("%s is older than its source (run: make check)" % name)
    try:
        r = subprocess.run([path], capture_output=True, timeout=120,
                           cwd=ROOT)
    except subprocess.TimeoutExpired:
        fail("did not finish within 120s")
    lines = r.stdout.decode(errors="replace").splitlines()
    oks = [l for l in lines if l.startswith("ok")]
    bad = [l for l in lines if l.startswith("not ok")]
    notes = [l[2:] for l in lines if l.startswith("# ")]
    if bad:
        fail("%d of %d checks failed, first: %s" % (
            len(bad), len(bad) + len(oks), bad[0][len("not ok - "):]))
    if r.returncode:
        err = r.stderr.decode(errors="replace").strip().splitlines()
        fail("exit status %d%s" % (r.returncode,
                                   ": " + err[-1] if err else ""))
    if not oks:
        fail("reported no checks")
    return "%d checks%s" % (len(oks), "; " + notes[-1] if notes else "")


def register():
    for src in sorted(glob.glob(os.path.join(UNIT_DIR, "*.c"))):
        name = os.path.basename(src)[:-2]
        test("unit/" + name)(lambda name=name: run_binary(name))


register()
