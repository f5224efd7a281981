#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""
bench/sizes.py: what each tool weighs, as built (dynamic, linked against
the system's libbpf, libelf and zlib) and with `make STATIC=1` (one
self-contained file), on disk and stripped; and cross-built static for
arm64, stripped. Puts a "## Binary sizes"
section in docs/benchmarks.md. Run by `make bench` (after `make`).
"""
import argparse
import datetime
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import schedlat as sl   # noqa: E402

sys.path.insert(0, os.path.join(sl.ROOT, "selftests"))
from lib import project   # noqa: E402

SECTION = "## Binary sizes"


def stripped(path, tmp, strip="strip"):
    copy = os.path.join(tmp, os.path.basename(path))
    shutil.copy(path, copy)
    subprocess.run([strip, copy], check=True)
    size = os.path.getsize(copy)
    os.unlink(copy)
    return size


def needed(path):
    r = subprocess.run(["readelf", "-d", path], capture_output=True,
                       text=True)
    libs = [l.split("[")[1].split("]")[0] for l in r.stdout.splitlines()
            if "(NEEDED)" in l]
    return ", ".join(libs) if libs else "none (static)"


def kib(n):
    return "%.1f KiB" % (n / 1024)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--no-doc", action="store_true",
                    help="print only, leave docs/benchmarks.md alone")
    ap.parse_args()
    static = dict(zip(project.tools(), project.static_build()))
    arm64 = dict(zip(project.tools(), project.arm64_static_build()))
    rows = []
    with tempfile.TemporaryDirectory(prefix="howlong-sizes.") as tmp:
        for t in project.tools():
            dyn = os.path.join(sl.ROOT, "bin", t)
            if not os.path.exists(dyn):
                raise SystemExit("bench/sizes.py: %s not built (run make)"
                                 % dyn)
            rows.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                t, kib(os.path.getsize(dyn)), kib(stripped(dyn, tmp)),
                needed(dyn), kib(os.path.getsize(static[t])),
                kib(stripped(static[t], tmp)),
                kib(stripped(arm64[t], tmp, "aarch64-linux-gnu-strip"))))
    text = "\n".join([
        SECTION, "",
        "Produced by `/usr/bin/python3 bench/sizes.py` on %s, version %s. "
        "*Dynamic*: `bin/TOOL` as `make` builds it (debug info included), "
        "then stripped; it needs the shared libraries listed. *Static*: "
        "`make STATIC=1` (built into build/static), the one file to copy to "
        "a host; the tests run it in a root that has nothing else "
        "(selftests/tests/test_static.py). *arm64 static*: `make ARCH=arm64 "
        "STATIC=1` (cross-built, bin/arm64), stripped; make check-arm64 "
        "runs it on Debian's arm64 kernel." % (
            datetime.datetime.now().astimezone().strftime(
                "%Y-%m-%d %H:%M %Z"), project.version()), "",
        "| tool | dynamic | stripped | needs | static | stripped | "
        "arm64 static, stripped |",
        "|---|---|---|---|---|---|---|"] + rows + [""])
    sl.publish(SECTION, text, ap.parse_args().no_doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
