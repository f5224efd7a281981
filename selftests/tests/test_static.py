"""make STATIC=1: every tool as one self-contained file, run in a root
that has nothing else.

The static tools are built into build/static (OUT, BIN and SKEL pointed
there, so the dynamic build is untouched; incremental after the first
time). The bare root is an empty directory holding only the copied
binaries, with /proc and /sys mounted (the kernel's BTF and CPU list are
in /sys): no libc, no libbpf, no libelf, no zlib, no loader. In it:
every tool prints its version, schedlat traces for real, usdtlist reads a
file, and usdtlat times a program that runs outside the root from a file
inside it (uprobes are keyed by inode), against the program's own clock.
"""
import json
import os
import shutil
import subprocess
import tempfile

from lib import kernel, pairs, tool
from lib import project
from lib.project import tools, version
from lib.harness import Failure, check, test

_built = []


def build():
    """The static binaries, built once per run."""
    if not _built:
        _built.append(project.static_build())
    return _built[0]


class BareRoot:
    """A temporary root with only the given files in /, /proc and /sys
    mounted; unmounted and removed on exit."""

    def __init__(self, files):
        self.files = files
        self.mounts = []

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="howlong-bare-")
        try:
            for f in self.files:
                shutil.copy2(f, self.dir)
            for d, kind in (("proc", "proc"), ("sys", "sysfs")):
                path = os.path.join(self.dir, d)
                os.mkdir(path)
                r = subprocess.run(["mount", "-t", kind, kind, path],
                                   capture_output=True, text=True)
                if r.returncode:
                    raise Failure("mount %s: %s" % (kind, r.stderr.strip()))
                self.mounts.append(path)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def path(self, name):
        return os.path.join(self.dir, name)

    def exe(self, name):
        return ["chroot", self.dir, "/" + name]

    def __exit__(self, *exc):
        for m in reversed(self.mounts):
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


def is_static(path):
    """No program interpreter and no dynamic section: nothing to load."""
    r = subprocess.run(["readelf", "-lW", path], capture_output=True,
                       text=True)
    check(r.returncode == 0, "readelf -l %s failed" % path)
    return "INTERP" not in r.stdout and "DYNAMIC" not in r.stdout


@test("static/linking")
def linking():
    bins = build()
    dynamic = [os.path.basename(b) for b in bins if not is_static(b)]
    check(not dynamic, "not static: %s" % dynamic)
    return "%d tools, no interpreter, no dynamic section" % len(bins)


@test("static/bare-root")
def bare_root():
    """Every tool runs in a root that holds nothing but the tools."""
    bins = build()
    with BareRoot(bins) as root:
        libs = [f for f in os.listdir(root.dir) if ".so" in f]
        check(not libs, "the bare root has libraries: %s" % libs)
        for t in tools():
            r = tool.run(["-V"], name=t, exe=root.exe(t))
            r.expect_rc(0)
            check(version() in r.out, "%s -V in the bare root: %r" % (
                t, r.out))
        r = tool.run(["1", "1"], name="schedlat", exe=root.exe("schedlat"))
        r.expect_rc(0)
        check("count" in r.out and "usecs" in r.out,
              "schedlat 1 1 in the bare root printed %r" % r.out[:200])
        r = tool.run(["/schedlat"], name="usdtlist",
                     exe=root.exe("usdtlist"))
        r.expect_rc(0)
    return "%d tools print %s; schedlat traced for 1 s; usdtlist read a " \
        "file" % (len(bins), version())


@test("static/bare-root-usdtlat")
def bare_root_usdtlat():
    """usdtlat in the bare root times pairs.c running outside it, from
    the copy of the program inside the root."""
    bins = build()
    args = ["-j", "/pairs", "hltest:req__start", "hltest:req__done"]
    with BareRoot([b for b in bins if b.endswith("/usdtlat")] +
                  [pairs.PATH]) as root:
        if not kernel.attach_cookies():
            # The program is position independent: such a kernel needs
            # its process, which usdtlat must say in one line.
            return tool.one_line_error("usdtlat", args, 1, [
                "Linux 5.15", "-p PID"], exe=root.exe("usdtlat"))
        with tool.Tracer(args, name="usdtlat",
                         exe=root.exe("usdtlat")) as t:
            with pairs.Pairs("threads", 2, 3, 1,
                             path=root.path("pairs")) as p:
                recs = p.go()
            r = t.stop()
    r.expect_rc(0)
    h = json.loads(r.out.splitlines()[-1])["hists"][0]
    check(h["count"] == len(recs) == 6, "count %d, the program timed %d" % (
        h["count"], len(recs)))
    check(sum(x.slept_ns for x in recs) <= h["sum_ns"] <=
          sum(x.span_ns for x in recs), "sum %d outside the program's "
          "bounds" % h["sum_ns"])
    return "6/6 pairs from the root's copy of the program"
