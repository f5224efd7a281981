"""reclaimlat against the memory cgroup's own accounting: a cgroup of the
test's with a 32 MiB limit, and a reader in it (cat) that reads ~200 MiB
of existing files through the page cache (evicted first), so that its
charges keep hitting the limit and it reclaims clean page cache itself.
Files, not anonymous memory: there is no swap here, anonymous pages
could not be reclaimed. Existing files under /usr/lib, not a file the
test writes: under the kernel matrix the root's writable layer is a
tmpfs, whose pages are swap-backed too.

The cgroup counts what the kernel did, by a mechanism of its own:

- cgroup v2: memory.events "max" goes up once before each reclaim that
  a charge over memory.max starts (try_charge_memcg), and, since 5.1x,
  also for a charge forced over the limit without a reclaim (an atomic
  or __GFP_NOFAIL one, or in reclaim itself): reclaimlat's memcg count
  (-P, every process: a kernel thread may charge for the reader) must
  be at most its increase and at least it less 1% and 5 (the reader is
  the cgroup's only task, nothing sets memory.high). Seen: 1046 of 1046
  on 5.10, 924 of 927 on 6.12;
- cgroup v1 (this host's memory controller): memory.failcnt counts the
  failed charges, and every reclaim follows at least one (a charge that
  may not block, or gives up after one try like readahead's, fails
  without reclaiming; a batch is retried smaller first): count <=
  failcnt. Seen here: 109 of 109 with dd's 1 MiB reads, 183 of 1104
  with cat's readahead. An upper bound only: v1 has no count of
  reclaims (v2's exact check runs in the kernel matrix's guests).

PSI sees the same stalls (the kernel wraps the reclaim in
psi_memstall_enter/leave, a little wider than the tracepoints), but its
"some" total is an average over CPUs weighted by how busy each was, so
a task's stall counts in full only if the other CPUs were idle: PSI is
a lower bound of the reader's stalls when nothing else stalls on memory,
so reclaimlat's total must be at least PSI's less 10% and 1 ms (20.2 ms
against PSI's 17.1 ms seen here, 19.4 to 19.4 with libraries only).
/proc/pressure/memory is the whole machine's, though: kswapd, kcompactd,
any task's direct reclaim or compaction, and reads of refaulting
working-set pages are stalls too (CI's fresh root once saw PSI 12.4 ms
to reclaimlat's 9.48). /proc/vmstat counts each of those; a window in
which one moved is measured again (up to 3 times), and if none was
quiet the line says PSI was not compared and why. Always: the total is
less than the reader's own run time. A control with a 1 GiB limit
reclaims nothing.
"""
import glob
import os
import subprocess
import tempfile
import time

from lib import prom, report, tool
from lib.harness import Failure, check, fail, test
from lib.procs import die_with_parent

TOOL = "reclaimlat"
LIMIT = 32 << 20
READ = 192 << 20
PREFIX = "hl-reclaim-"


def files_to_read(total=READ):
    """The largest files under /usr/lib's library (of any architecture:
    aarch64-linux-gnu in check-arm64's root) and JDK directories, until
    total bytes (no file written by the test: see above)."""
    cands = []
    for path in (glob.glob("/usr/lib/*-linux-gnu/*") +
                 glob.glob("/usr/lib/jvm/*/lib/modules")):
        try:
            st = os.stat(path)
        except OSError:
            continue
        if os.path.isfile(path) and not os.path.islink(path) and \
                st.st_size >= 8 << 20:
            cands.append((st.st_size, st.st_ino, path))
    picked, n, inodes = [], 0, set()
    for size, ino, path in sorted(cands, reverse=True):
        if ino in inodes:
            continue
        inodes.add(ino)
        picked.append(path)
        n += size
        if n >= total:
            return picked
    fail("only %d MiB of large files under /usr/lib to read" % (n >> 20))


def evict(paths):
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _mounts(fstype):
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            r = right.split()
            if r[0] == fstype:
                yield left.split()[4], r[2].split(",")


class MemCgroup:
    """A memory cgroup of our own with a limit, v1 or v2 (whichever has
    the memory controller), removed on exit."""

    def __init__(self, limit):
        self.limit = limit
        self.v1 = next((m for m, opts in _mounts("cgroup")
                        if "memory" in opts), None)
        if self.v1:
            self.root = self.v1
        else:
            self.root = next((m for m, _ in _mounts("cgroup2")), None)
            if not self.root:
                fail("no memory cgroup: neither v1's controller nor cgroup2 "
                     "mounted")
            with open(os.path.join(self.root, "cgroup.controllers")) as f:
                if "memory" not in f.read().split():
                    fail("cgroup2 at %s has no memory controller" %
                         self.root)
        self.path = os.path.join(self.root, PREFIX + str(os.getpid()))

    def _write(self, name, value, path=None):
        with open(os.path.join(path or self.path, name), "w") as f:
            f.write(str(value))

    def read(self, name):
        with open(os.path.join(self.path, name)) as f:
            return f.read()

    def __enter__(self):
        for stale in glob.glob(os.path.join(self.root, PREFIX + "*")):
            if not os.path.exists("/proc/" + stale.rsplit("-", 1)[1]):
                try:
                    os.rmdir(stale)
                except OSError:
                    pass
        if not self.v1:
            self._write("cgroup.subtree_control", "+memory", self.root)
        os.mkdir(self.path)
        self._write("memory.limit_in_bytes" if self.v1 else "memory.max",
                    self.limit)
        return self

    def reclaims_seen(self):
        """v1: memory.failcnt; v2: memory.events' max."""
        if self.v1:
            return int(self.read("memory.failcnt"))
        for line in self.read("memory.events").splitlines():
            k, v = line.split()
            if k == "max":
                return int(v)
        fail("memory.events has no max line")

    def __exit__(self, *exc):
        deadline = time.monotonic() + 5
        while True:
            try:
                os.rmdir(self.path)
                return False
            except OSError as e:
                if time.monotonic() > deadline:
                    raise Failure("cannot remove %s: %s" % (self.path, e))
                time.sleep(0.05)


def psi_some_us():
    """/proc/pressure/memory's some total (us), or None without PSI."""
    try:
        with open("/proc/pressure/memory") as f:
            for line in f:
                if line.startswith("some "):
                    return int(line.split("total=")[1])
    except OSError:
        return None
    return None


# /proc/vmstat counters that move when something other than a memory
# cgroup's reclaim stalls on memory (each inside psi_memstall_enter)
OTHER_STALLS = ("allocstall_", "compact_stall", "compact_daemon_wake",
                "pgscan_kswapd", "workingset_restore")


def other_stalls():
    with open("/proc/vmstat") as f:
        return {k: int(v) for k, v in (line.split() for line in f)
                if k.startswith(OTHER_STALLS)}


class Window:
    """What happened beside the tool while the reader ran: PSI's some
    increase (ns, None without PSI), the reader's run time (ns), and
    the other memory stalls' counters that moved."""

    def __init__(self, psi_ns, run_ns, before, after):
        self.psi_ns, self.run_ns = psi_ns, run_ns
        self.others = {k: after[k] - before.get(k, 0) for k in after
                       if after[k] != before.get(k, 0)}

    def others_text(self):
        return ", ".join("%s +%d" % kv for kv in sorted(self.others.items()))


def reading(cg, paths, arg_lists):
    """A cat of paths in cg, the tool running with each argument list
    (PID: cat's pid); returns ([final report], pid, cgroup counter
    increase, Window)."""
    evict(paths)
    proc = subprocess.Popen(
        ["sh", "-c", 'read x; exec cat "$@" > /dev/null', "sh"] + paths,
        stdin=subprocess.PIPE, preexec_fn=die_with_parent)
    try:
        with open(os.path.join(cg.path, "cgroup.procs"), "w") as f:
            f.write(str(proc.pid))
        args = [[str(a).replace("PID", str(proc.pid)) for a in al]
                for al in arg_lists]
        before, psi0 = cg.reclaims_seen(), psi_some_us()
        others0, span = other_stalls(), []

        def work():
            t0 = time.monotonic_ns()
            proc.stdin.write(b"go\n")
            proc.stdin.close()
            rc = proc.wait(120)
            span.append(time.monotonic_ns() - t0)
            check(rc == 0, "cat exited %d" % rc)
        results, _ = tool.traced(TOOL, args, work, target_exits=True)
        after, psi1 = cg.reclaims_seen(), psi_some_us()
        others1 = other_stalls()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    psi = None if psi0 is None or psi1 is None else (psi1 - psi0) * 1000
    return ([r if "--textfile" in r.args else
             report.ToolOutput(r, TOOL).final_report() for r in results],
            proc.pid, after - before, Window(psi, span[0], others0, others1))


def kinds(rep, pid=None):
    out = {}
    for h in rep["hists"]:
        if pid is not None and h["key"].get("pid") != pid:
            continue
        k = h["key"]["reclaim"]
        c, s = out.get(k, (0, 0))
        out[k] = (c + h["count"], s + h["sum_ns"])
    return out


@test("reclaimlat/memcg")
def memcg():
    """-p on the reader beside -P: every stall is memcg reclaim; the
    count as the cgroup's counter says (v2 within 1% + 5 below events
    max, v1 at most failcnt);
    -P's row of the reader the same as -p; the stalls' total less than
    the reader's run time, and at least PSI's (less 10% and 1 ms) in a
    window where nothing else stalled on memory."""
    tool.need(TOOL)
    paths = files_to_read()
    for attempt in range(3):
        with MemCgroup(LIMIT) as cg:
            (only, per_pid), pid, seen, win = reading(
                cg, paths, [["-j", "-p", "PID"], ["-j", "-P"]])
        if not win.others:
            break
    mine = kinds(only)
    n, ns = mine.get("memcg", (0, 0))
    check(set(mine) == {"memcg"}, "-p: stalls %s, expected memcg only" %
          sorted(mine))
    check(n >= 10, "-p: %d memcg reclaims: the limit was not reached" % n)
    lost = only["lost"] + per_pid["lost"]
    if cg.v1:
        check(n - lost <= seen, "%d memcg reclaims, %d lost; "
              "memory.failcnt went up only %d" % (n, lost, seen))
    else:
        # a kernel thread charging the cgroup on the reader's behalf
        # would reclaim too: every process's memcg reclaims (no other
        # cgroup has a limit in the guests this runs in)
        every = kinds(per_pid).get("memcg", (0, 0))[0]
        check(every - lost <= seen <= every + 0.01 * every + 5,
              "%d memcg reclaims (the reader's %d), %d lost; "
              "memory.events max went up %d" % (every, n, lost, seen))
    theirs = kinds(per_pid, pid).get("memcg", (0, 0))
    check(abs(theirs[0] - n) <= lost, "-P: %d reclaims of %d, -p %d" % (
        theirs[0], pid, n))
    check(ns < win.run_ns, "%s stalled in reclaim, longer than the reader "
          "ran (%s)" % (report.fmt_ns(ns), report.fmt_ns(win.run_ns)))
    if win.psi_ns is None:
        psi = "PSI not enabled"
    elif win.others:
        psi = "PSI not compared: in 3 windows other memory stalls " \
            "(last: %s)" % win.others_text()
    else:
        check(ns >= 0.9 * win.psi_ns - 1e6, "%s stalled in reclaim, but "
              "PSI memory some %s (no other memory stall in /proc/vmstat)"
              % (report.fmt_ns(ns), report.fmt_ns(win.psi_ns)))
        psi = "PSI some %s%s" % (report.fmt_ns(win.psi_ns), "" if not attempt
                                 else " (window %d)" % (attempt + 1))
    return "cgroup %s: %d reclaims (%s of %s run), %s %d; %s; -P %d" % (
        "v1" if cg.v1 else "v2", n, report.fmt_ns(ns),
        report.fmt_ns(win.run_ns), "failcnt" if cg.v1 else "events max",
        seen, psi, theirs[0])


@test("reclaimlat/control")
def control():
    """The same reads under a 1 GiB limit: no reclaim for the reader,
    and the cgroup's counter does not move."""
    tool.need(TOOL)
    paths = files_to_read()
    with MemCgroup(1 << 30) as cg:
        (r,), pid, seen, _ = reading(cg, paths, [["-j", "-p", "PID"]])
    mine = kinds(r)
    check(not mine and seen == 0, "1 GiB limit: stalls %s, cgroup counter "
          "+%d" % (mine, seen))
    return "%d MiB read under 1 GiB: no stall, counter +0" % (
        sum(os.path.getsize(p) for p in paths) >> 20)


@test("reclaimlat/export")
def export():
    """--textfile -P beside -j (-p) on one read: promtool accepts the
    file, whose reader's memcg count is -j's."""
    tool.need(TOOL)
    paths = files_to_read()
    fd, path = tempfile.mkstemp(suffix=".prom", dir="/var/tmp")
    os.close(fd)
    try:
        with MemCgroup(LIMIT) as cg:
            (rep, _), pid, _, _ = reading(cg, paths, [
                ["-j", "-p", "PID"], ["-P", "--textfile", path]])
        counts = prom.textfile_counts(path, "howlong_reclaimlat_seconds")
    finally:
        os.unlink(path)
    n = kinds(rep).get("memcg", (0, 0))[0]
    theirs = sum(c for k, c in counts.items()
                 if dict(k).get("pid") == str(pid) and
                 dict(k).get("reclaim") == "memcg")
    check(n >= 10 and abs(theirs - n) <= rep["lost"], "memcg reclaims of "
          "%d: -j %d, textfile %d" % (pid, n, theirs))
    return "promtool ok; reader's memcg reclaims %d = %d" % (n, theirs)


# ---- bad input ----

BAD = {
    "attach-tracepoint": (["--attach", "tracepoint"], 2, ["tracepoint"]),
    "owner-twice": (["-P", "--per-cgroup"], 2, ["exclude"]),
    "option": (["-S"], 2, ["-S|S"]),
}
tool.register_bad(TOOL, BAD, lambda: ["1", "1"])
