"""usdtlist against ground truth it has no part in: the test program's
own declarations (selftests/c/markers.c: names, sites, argument types
as the C compiler typed them, the semaphore's symbol), readelf -n on real
PostgreSQL, HotSpot and CPython binaries, /proc/PID/maps of running
processes (plain, deleted since started, in their own mount namespace),
and libbpf 1.1's argument grammar re-implemented in lib/markers.py.
Bad input: the right exit status and exactly one line on stderr."""
import os
import re
import shutil
import signal
import subprocess
import tempfile

from lib import markers, report, tool
from lib.harness import check, fail, test
from lib.procs import LineReader, die_with_parent, free_pid

TOOL = "usdtlist"
REAL = {
    "postgres": "/usr/lib/postgresql/15/bin/postgres",
    "libjvm": "/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so",
    "python": "/usr/bin/python3.11",
}
# "  provider:name: N site(s)..." in the text listing
TEXT_MARKER = re.compile(r"^  ([^\s:]+):(\S+): (\d+) sites?[ ,]")


def run(args, rc=0, prefix=()):
    r = tool.run(args, name=TOOL, prefix=prefix)
    r.expect_rc(rc)
    return r


def listing(args, prefix=()):
    """usdtlist -j ARGS: the marker lines, stderr must be empty."""
    r = run(["-j"] + list(args), prefix=prefix)
    check(not r.err, "%s wrote to stderr: %r" % (r.cmd(), r.err[:200]))
    return report.parse_lines(r.out_bytes, r.cmd())


def text_markers(out):
    """{(provider, name): sites} from the text listing."""
    found = {}
    for line in out.splitlines():
        m = TEXT_MARKER.match(line)
        if m:
            found[(m.group(1), m.group(2))] = int(m.group(3))
    return found


# ---- the test program: what the source declares ----

@test("usdtlist/declared-markers")
def declared_markers():
    """Every marker markers.c declares, nothing else: sites, each
    argument's type as _Generic saw it, the semaphore at the address of
    hltest_guarded_semaphore (nm), and attachable unless an argument is
    floating point (libbpf 1.1 parses no "Nf@" spec). Both builds of the
    program: position-independent and fixed-address (ET_EXEC)."""
    return "; ".join("%s: %s" % (what, declared_markers_of(path))
                     for what, path in markers.builds())


def declared_markers_of(path):
    decl = markers.declared()
    got = {(m["provider"], m["name"]): m for m in listing([path])}
    check(set(got) == set(decl), "listed %s, declared %s" % (
        sorted(got), sorted(decl)))
    sema = markers.symbol(path, "hltest_guarded_semaphore")
    check(sema, "nm finds no hltest_guarded_semaphore in %s" % path)
    for key, rows in decl.items():
        m, what = got[key], "%s:%s" % key
        check(m["sites"] == len(rows), "%s: %d sites, declared %d" % (
            what, m["sites"], len(rows)))
        types = [a["type"] for a in m["args"]]
        check(types in [r["args"] for r in rows], "%s: types %s, declared "
              "%s" % (what, types, [r["args"] for r in rows]))
        check(m["arg_variants"] == len({tuple(r["args"]) for r in rows}),
              "%s: %d argument variants, declared %s" % (
                  what, m["arg_variants"], [r["args"] for r in rows]))
        want_sema = sema if rows[0]["semaphore"] else None
        check(m["semaphore"] == want_sema, "%s: semaphore %r, expected %r"
              % (what, m["semaphore"], want_sema))
        floats = any(t.startswith("float") for r in rows for t in r["args"])
        check(m["attachable"] is not floats, "%s: attachable %r with "
              "types %s" % (what, m["attachable"], types))
        if floats:
            check("floating" in m["problem"]["reason"], "%s: reason %r" % (
                what, m["problem"]["reason"]))
    n, sites = markers.check_object(list(got.values()),
                                    markers.readelf_sites(path))
    return "%d markers, %d sites as declared and as readelf reads them" % (
        n, sites)


@test("usdtlist/declared-text")
def declared_text():
    """The text listing names the same markers and site counts, and says
    which one libbpf cannot attach and why."""
    path = markers.need_markers()
    r = run([path])
    check(not r.err, "stderr: %r" % r.err[:200])
    decl = markers.declared()
    found = text_markers(r.out)
    want = {k: len(v) for k, v in decl.items()}
    check(found == want, "text lists %s, declared %s" % (found, want))
    check(r.out.splitlines()[0] == path, "first line %r, expected the "
          "object" % r.out.splitlines()[0])
    bad = [l for l in r.out.splitlines() if "NOT attachable" in l]
    check(len(bad) == 1 and bad[0].startswith("  hltest:floats:") and
          "floating-point" in bad[0], "NOT attachable lines: %r" % bad)
    for want_line in ("    int8 arg0 in %", "    int32 arg0 = 5",
                      "    uint8 arg2 = 200", "(no arguments)",
                      "2 sites (2 argument variants, the first shown)"):
        check(want_line in r.out, "text lacks %r" % want_line)
    return "%d markers" % len(found)


@test("usdtlist/glob")
def glob():
    path = markers.need_markers()
    cases = [("hltest:tw*", {"twice"}), ("tw*", {"twice"}),
             ("hltest:*", set(k[1] for k in markers.declared())),
             ("*:all__ints", {"all__ints"}), ("hl?est:[gf]*",
                                             {"guarded", "floats"})]
    for glob, want in cases:
        got = {m["name"] for m in listing([path, glob])}
        check(got == want, "%r lists %s, expected %s" % (glob, got, want))
    r = run([path, "nosuch:*"])
    check(not r.out and len(r.err_lines) == 1 and
          "no marker matches 'nosuch:*'" in r.err, "no match: out %r, err "
          "%r" % (r.out[:80], r.err))
    return "%d patterns; no match: %s" % (len(cases), r.err.strip())


@test("usdtlist/no-markers")
def no_markers():
    """A file without markers is an answer, not a failure: exit 0,
    nothing on stdout, one note on stderr."""
    for args in (["/bin/true"], ["-j", "/bin/true"]):
        r = run(args)
        check(not r.out and len(r.err_lines) == 1 and
              "/bin/true has no USDT markers" in r.err,
              "%s: out %r err %r" % (r.cmd(), r.out[:80], r.err))
    return r.err.strip()


# ---- real binaries against readelf ----

def real(name):
    path = REAL[name]
    if not os.path.exists(path):
        fail("%s missing (run: make deps)" % path)
    sites = markers.readelf_sites(path)
    check(sites, "readelf -n finds no markers in %s" % path)
    n, total = markers.check_object(listing([path]), sites)
    found = text_markers(run([path]).out)
    want = {k: len(v) for k, v in markers.by_marker(sites).items()}
    check(found == want, "text listing: %d markers, %d sites; readelf %d, "
          "%d" % (len(found), sum(found.values()), len(want),
                  sum(want.values())))
    bad = sorted({s.name for s in sites
                  if not markers.libbpf_can_read(s.args)})
    return "%d markers, %d sites as readelf -n; not attachable: %s" % (
        n, total, ", ".join(bad) or "none")


for _name in REAL:
    test("usdtlist/readelf-" + _name)(lambda name=_name: real(name))


@test("usdtlist/postgres-unattachable")
def postgres_unattachable():
    """MARKERS.md: libbpf 1.1 fails the attach of checkpoint__done (its
    arguments are symbol-relative: CheckpointStats(%rip))."""
    path = REAL["postgres"]
    (m,) = listing([path, "postgresql:checkpoint__done"])
    check(m["attachable"] is False and
          m["problem"]["reason"] == "symbol-relative address" and
          m["problem"]["spec"].endswith("(%rip)"),
          "checkpoint__done: attachable %r, problem %r" % (
              m["attachable"], m["problem"]))
    line = [l for l in run([path, "checkpoint__done"]).out.splitlines()
            if "checkpoint__done" in l][0]
    check("NOT attachable by libbpf 1.1" in line and
          "symbol-relative" in line, "text: %r" % line)
    return line.strip()


@test("usdtlist/unprivileged")
def unprivileged():
    """No root needed: as nobody, the same listing as root's."""
    path = REAL["python"]
    root = run(["-j", path]).out
    r = run(["-j", path], prefix=tool.NOBODY)
    check(r.out == root and not r.err, "as nobody: %d bytes (root %d), "
          "stderr %r" % (len(r.out), len(root), r.err[:200]))
    return "%d markers as nobody" % len(r.out.splitlines())


# ---- processes ----

class Victim:
    """markers wait, started by argv; ready once it said so."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE,
                                     preexec_fn=die_with_parent)
        line = LineReader(self.proc.stdout.fileno()).readline(10)
        if line != b"ready":
            err = self.stop()
            fail("%s did not get ready: %r %s" % (" ".join(argv), line, err))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait()
        return self.proc.stderr.read().decode(errors="replace").strip()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def mapped_names(pid):
    names = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith("/"):
                name = parts[5].rstrip("\n")
                if name not in names:
                    names.append(name)
    return names


def by_object(lines, pid):
    objs = {}
    for m in lines:
        check(m["pid"] == pid, "pid %r in %r" % (m["pid"], m))
        objs.setdefault(m["object"], []).append(m)
    return objs


def check_process(pid, truth):
    """usdtlist -j -p pid: exactly the objects truth (name: path to run
    readelf on) gives markers, each as readelf reads it."""
    objs = by_object(listing(["-p", pid]), pid)
    want = {}
    for name, path in truth.items():
        sites = markers.readelf_sites(path)
        if sites:
            want[name] = sites
    check(set(objs) == set(want), "objects listed %s, with markers %s" % (
        sorted(objs), sorted(want)))
    for name, sites in want.items():
        markers.check_object(objs[name], sites)
    return objs


@test("usdtlist/pid")
def pid():
    """-p: every mapped file with markers (the program; libc and ld.so on
    Debian 12 have none), each against readelf."""
    path = markers.need_markers()
    with Victim([path, "wait"]) as v:
        names = mapped_names(v.proc.pid)
        check(path in names, "%s not in its own maps %s" % (path, names))
        objs = check_process(v.proc.pid, {n: n for n in names})
        r = run(["-p", v.proc.pid, "hltest:twice"])
        check(r.out.splitlines()[0] == path and "2 sites" in r.out,
              "text -p: %r" % r.out[:200])
    return "%d mapped files, markers in %s" % (len(names), sorted(objs))


@test("usdtlist/pid-deleted")
def pid_deleted():
    """A program deleted after it started (a package upgrade): found
    through /proc/PID/map_files, named as maps names it."""
    fd, copy = tempfile.mkstemp(prefix="hl-usdtlist-")
    os.close(fd)
    shutil.copy(markers.need_markers(), copy)
    os.chmod(copy, 0o755)
    try:
        with Victim([copy, "wait"]) as v:
            os.unlink(copy)
            name = copy + " (deleted)"
            names = mapped_names(v.proc.pid)
            check(name in names, "%r not in maps %s" % (name, names))
            truth = {n: n for n in names if n != name}
            truth[name] = markers.MARKERS
            objs = check_process(v.proc.pid, truth)
    finally:
        if os.path.exists(copy):
            os.unlink(copy)
    return "%s: %d markers" % (name, len(objs[name]))


@test("usdtlist/pid-container")
def pid_container():
    """A process in its own mount namespace, its program on a tmpfs only
    it sees: read through /proc/PID/root."""
    d = tempfile.mkdtemp(prefix="hl-usdtlist-ns-")
    prog = os.path.join(d, "markers")
    script = "mount -t tmpfs hltest %s && cp %s %s && exec %s wait" % (
        d, markers.need_markers(), prog, prog)
    try:
        with Victim(["unshare", "--mount", "--propagation", "private",
                     "sh", "-c", script]) as v:
            check(not os.path.exists(prog), "%s visible outside" % prog)
            names = mapped_names(v.proc.pid)
            check(prog in names, "%s not in maps %s" % (prog, names))
            truth = {n: "/proc/%d/root%s" % (v.proc.pid, n) for n in names}
            objs = check_process(v.proc.pid, truth)
    finally:
        os.rmdir(d)
    return "%s in a private mount: %d markers" % (prog, len(objs[prog]))


@test("usdtlist/pid-not-ours")
def pid_not_ours():
    """Another user's process: exit 1, one line saying what to do."""
    with Victim([markers.need_markers(), "wait"]) as v:
        return one_line_error(["-p", v.proc.pid], 1,
                              ["Permission denied", "root"],
                              prefix=tool.NOBODY)


# ---- help and bad input ----

@test("usdtlist/help")
def help_():
    for flag in ("-h", "--help"):
        r = run([flag])
        check("EXAMPLES" in r.out and "--pid" in r.out and "--json" in r.out
              and not r.err, "%s: %r" % (flag, r.out[:200]))
    r = run(["-V"])
    check(r.out.startswith("usdtlist (howlong) "), "-V: %r" % r.out)
    return r.out.strip()


def one_line_error(args, rc, names=(), prefix=()):
    line = tool.one_line_error(TOOL, args, rc, names, prefix)
    check(line.startswith("usdtlist: "), "not the tool's line: %r" % line)
    return line


def truncated():
    """The first half of the test program: ELF header, no section
    headers."""
    fd, path = tempfile.mkstemp(prefix="hl-usdtlist-cut-")
    with open(markers.need_markers(), "rb") as f:
        data = f.read()
    os.write(fd, data[:len(data) // 2])
    os.close(fd)
    return path


def text_file():
    fd, path = tempfile.mkstemp(prefix="hl-usdtlist-txt-")
    os.write(fd, b"#!/bin/sh\necho not ELF\n")
    os.close(fd)
    return path


# name: (argv, or a function of a temp file maker, exit status, what the
# line must say; None: the last argument)
BAD = {
    "missing-file": (["/nonexistent/postgres"], 1,
                     ["No such file or directory"]),
    "directory": (["/tmp"], 1, ["Is a directory"]),
    "not-elf": (lambda: [text_file()], 1, ["is not an ELF file"]),
    "truncated-elf": (lambda: [truncated()], 1, ["corrupt or truncated"]),
    "empty-glob": (["/bin/true", ""], 2, ["''"]),
    "glob-two-colons": (["/bin/true", "a:b:c"], 2, None),
    "glob-no-name": (["/bin/true", "hltest:"], 2, None),
    "pid-missing": (lambda: ["-p", free_pid()], 1, ["no such process"]),
    "pid-0": (["-p", "0"], 2, None),
    "pid-abc": (["-p", "abc"], 2, None),
    "pid-and-binary": (["-p", "1", "/bin/true", "x"], 2, ["/bin/true"]),
    "no-arguments": ([], 2, ["BINARY", "-p PID"]),
    "three-arguments": (["/bin/true", "a", "b"], 2, None),
    "unknown-option": (["--bogus"], 2, None),
    "pid-no-value": (["-p"], 2, ["'p'"]),
}


def register_bad(name, args, rc, names):
    def run_bad():
        argv = [str(a) for a in (args() if callable(args) else args)]
        try:
            return one_line_error(argv, rc, names if names is not None
                                  else [argv[-1]])
        finally:
            for a in argv:
                if a.startswith("/tmp/hl-usdtlist-") and os.path.isfile(a):
                    os.unlink(a)
    test("usdtlist/bad-" + name)(run_bad)


for _name, (_args, _rc, _names) in BAD.items():
    register_bad(_name, _args, _rc, _names)
