"""biolat against truth of two other kinds, on loop devices made for the
test (files in /var/tmp, removed with their devices whatever happens):

- the workload's own count: a small Python program (WORKLOAD) that makes
  a known number of O_DIRECT reads and writes of a known size on the
  device, each one request, then optionally fsync()s it (one flush);
- the kernel's accounting of completed requests, /sys/block/loopN/stat
  (Documentation/block/stat.rst), read around the work.

Counts must be exact. On /sys/block's side, an fsync's flush shows as
one flush *and* one write: the empty write that carried the preflush is
completed (and counted as a write) without ever being issued, while
biolat times the flush request that the device did get; so biolat's
writes are stat's writes minus its flushes.

Summed time: stat's ticks (ms, truncated) add up, per request, the time
from the request's allocation in the submitter to its completion; biolat
times from issue (or, with -Q, from insertion) to completion, a part of
that. So biolat's sum may not exceed stat's by more than the truncation
(1 ms), and stat's may exceed biolat's by at most what a submitter takes
to build and plug a request, bounded here at 1% + 1 ms + per request
1 ms or twice the mean device time, whichever is more (measured: 4-9 us
on the host against some 20 us on the device; 0.6-1.4 ms on 5.10 under
qemu's emulation in the kernel matrix, where the device takes 1-2 ms).
"""
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

from lib import peers, report, tool, workload
from lib.harness import check, fail, test

TOOL = "biolat"
BIOLATENCY = "/usr/sbin/biolatency"
GAP_NS = 1_000_000      # allocation to issue, per request: see above

# argv: DEV read|write N SIZE [at=OFFSET] [fsync]; O_DIRECT, one request
# per call, from OFFSET (default 0) on.
WORKLOAD = r"""
import mmap, os, sys
dev, mode, n, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
at = int(([a[3:] for a in sys.argv[5:] if a.startswith("at=")] + [0])[0])
buf = mmap.mmap(-1, max(size, 4096))
view = memoryview(buf)[:size]
fd = os.open(dev, (os.O_RDONLY if mode == "read" else os.O_WRONLY) | os.O_DIRECT)
for i in range(n):
    (os.preadv if mode == "read" else os.pwritev)(fd, [view], at + i * size)
if "fsync" in sys.argv[5:]:
    os.fsync(fd)
os.close(fd)
"""

# argv: DEV N: N sequential 4 KiB buffered writes, then fsync: the page
# cache hands them to the block layer as a few large requests.
BUFFERED = r"""
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
for i in range(int(sys.argv[2])):
    os.write(fd, b"x" * 4096)
os.fsync(fd)
os.close(fd)
"""

STAT_FIELDS = ("reads", "read_merges", "read_sectors", "read_ms", "writes",
               "write_merges", "write_sectors", "write_ms", "in_flight",
               "io_ms", "queue_ms", "discards", "discard_merges",
               "discard_sectors", "discard_ms", "flushes", "flush_ms")


class Loop:
    """A loop device over a new file in /var/tmp (O_DIRECT I/O to the
    device reaches it as requests, whatever the file's filesystem does);
    detached and the file removed on the way out."""

    def __init__(self, mb=8, scheduler=None):
        self.mb, self.scheduler = mb, scheduler
        self.path = self.dev = None

    def __enter__(self):
        if not os.path.exists("/dev/loop-control"):
            subprocess.run(["modprobe", "loop"], capture_output=True)
        fd, self.path = tempfile.mkstemp(prefix="howlong-biolat-",
                                         suffix=".img", dir="/var/tmp")
        try:
            os.ftruncate(fd, self.mb << 20)
        finally:
            os.close(fd)
        try:
            # Direct I/O to the file where its filesystem allows (5.10
            # refuses the flag on tmpfs, the matrix guests' /var/tmp):
            # the test's own I/O is O_DIRECT on the device either way.
            for opts in (["--direct-io=on"], []):
                r = subprocess.run(["losetup"] + opts + ["-f", "--show",
                                                         self.path],
                                   capture_output=True, text=True)
                if not r.returncode:
                    break
            if r.returncode or not r.stdout.startswith("/dev/"):
                fail("losetup: %s" % (r.stderr.strip() or r.returncode))
            self.dev = r.stdout.strip()
            self.name = os.path.basename(self.dev)
            if self.scheduler:
                with open("/sys/block/%s/queue/scheduler" % self.name,
                          "w") as f:
                    f.write(self.scheduler)
            self.settle()
        except BaseException:
            self.__exit__()
            raise
        return self

    def settle(self):
        """Wait until nothing is in flight and the counts stand still
        (attaching may make the kernel or udev read the device)."""
        last = None
        for _ in range(50):
            s = self.stat()
            if s == last and not s["in_flight"]:
                return
            last = s
            time.sleep(0.1)

    def stat(self):
        with open("/sys/block/%s/stat" % self.name) as f:
            v = [int(x) for x in f.read().split()]
        return dict(zip(STAT_FIELDS, v + [0] * (len(STAT_FIELDS) - len(v))))

    def __exit__(self, *exc):
        if self.dev:
            subprocess.run(["losetup", "-d", self.dev], capture_output=True)
            self.dev = None
        if self.path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            self.path = None
        return False


def delta(after, before):
    return {k: after[k] - before[k] for k in after}


def io(dev, mode, n, size=4096, fsync=False, wait=True, at=0, cgroup=None):
    """n reads or writes of size bytes at offset at of dev, O_DIRECT, from
    a process of its own (in cgroup, a workload.Cgroup, if given)."""
    argv = [sys.executable, "-c", WORKLOAD, dev, mode, str(n), str(size),
            "at=%d" % at]
    p = subprocess.Popen(argv + (["fsync"] if fsync else []),
                         preexec_fn=cgroup.join if cgroup else None)
    if wait:
        check(p.wait(timeout=60) == 0, "workload %s %s failed" % (mode, dev))
    return p


def Output(result):
    return report.ToolOutput(result, TOOL)


def by(rep, *names):
    """{(label values...): histogram}, each key once."""
    out = {}
    for h in rep["hists"]:
        k = tuple(h["key"].get(n) for n in names)
        check(k not in out, "key %r twice" % (h["key"],))
        out[k] = h
    return out


def count(hists, **want):
    """Samples of the histograms whose keys have the labels of want."""
    return sum(h["count"] for h in hists
               if all(h["key"].get(k) == v for k, v in want.items()))


def total(hists, **want):
    return sum(h["sum_ns"] for h in hists
               if all(h["key"].get(k) == v for k, v in want.items()))


def check_ticks(what, ns, stat_ms, n, upper=True):
    """biolat's summed ns against stat's truncated ms (module doc); not
    upper: only that biolat's is not above (requests built from many
    bios wait in the plug after their allocation for as long as the
    submitter takes to add the rest)."""
    stat_ns = stat_ms * 1_000_000
    check(ns <= stat_ns + 1_000_000, "%s: biolat's sum %.3f ms above the "
          "kernel's %d ms" % (what, ns / 1e6, stat_ms))
    if not upper:
        return "%s %.1f <= %d ms" % (what, ns / 1e6, stat_ms)
    slack = stat_ns // 100 + 1_000_000 + n * max(GAP_NS, 2 * ns // max(n, 1))
    check(stat_ns - ns <= slack, "%s: the kernel's %d ms exceed biolat's "
          "%.3f ms by more than %.3f ms" % (what, stat_ms, ns / 1e6,
                                            slack / 1e6))
    return "%s %.1f/%d ms" % (what, ns / 1e6, stat_ms)


def traced(arg_lists, work, target_exits=False):
    results, ret = tool.traced(TOOL, arg_lists, work, target_exits)
    return [Output(r) for r in results], ret


def mixed(loop, reads=40, writes=30):
    """The known mix on loop: reads of 4 KiB, writes of 8 KiB, one fsync;
    returns the stat delta."""
    before = loop.stat()
    io(loop.dev, "read", reads)
    io(loop.dev, "write", writes, 8192, fsync=True)
    loop.settle()
    return delta(loop.stat(), before)


def check_mix(hists, d, reads, writes, what, **key):
    """Per operation: the workload's and the kernel's counts, the sums
    within the bounds of the module doc."""
    got = {op: count(hists, op=op, **key) for op in ("read", "write",
                                                     "flush")}
    want = {"read": reads, "write": writes, "flush": 1}
    kern = {"read": d["reads"], "write": d["writes"] - d["flushes"],
            "flush": d["flushes"]}
    check(got == want == kern, "%s: biolat %s, workload %s, /sys/block "
          "stat %s" % (what, got, want, kern))
    others = [h["key"] for h in hists if h["key"].get("op") not in want
              and all(h["key"].get(k) == v for k, v in key.items())]
    check(not others, "%s: unexpected histograms %s" % (what, others))
    return "%s: %d reads, %d writes, 1 flush as stat; %s, %s" % (
        what, reads, writes,
        check_ticks("read", total(hists, op="read", **key), d["read_ms"],
                    reads),
        check_ticks("write", total(hists, op="write", **key), d["write_ms"],
                    writes))


@test("biolat/counts")
def counts():
    """-F -d: one disk, split by operation, each count the workload's and
    /sys/block's; the write histogram's flags say sync (O_DIRECT), the
    flush's preflush. Without -F: one histogram, every request."""
    tool.need(TOOL)
    with Loop() as lo:
        (per_op, whole), d = traced([["-j", "-F", "-d", lo.name],
                                     ["-j", "-d", lo.name]],
                                    lambda: mixed(lo))
    hists = per_op.final_report()["hists"]
    detail = check_mix(hists, d, 40, 30, "-F")
    flags = {(h["key"]["op"], h["key"]["flags"]) for h in hists}
    check(("write", "sync") in flags and ("flush", "preflush") in flags,
          "-F: flags %s: expected write sync and flush preflush" % sorted(
              flags))
    h = whole.final_hist()
    check(h["count"] == 71, "no -F: %d requests, expected 71" % h["count"])
    return detail + "; flags " + ", ".join("%s %s" % f for f in
                                           sorted(flags))


@test("biolat/disks")
def disks():
    """-D over two devices busy at once: each disk's requests under its
    name, exactly; -d of one sees that one only."""
    tool.need(TOOL)
    with Loop() as a, Loop() as b:
        def work():
            sa, sb = a.stat(), b.stat()
            pa = io(a.dev, "read", 25, wait=False)
            pb = io(b.dev, "write", 35, 4096, wait=False)
            check(pa.wait(60) == 0 and pb.wait(60) == 0, "workload failed")
            a.settle(), b.settle()
            return delta(a.stat(), sa), delta(b.stat(), sb)
        (per_disk, only_a), (da, db) = traced(
            [["-j", "-D"], ["-j", "-d", a.name, "-D"]], work)
    hists = per_disk.final_report()["hists"]
    got = {n: count(hists, disk=n) for n in (a.name, b.name)}
    want = {a.name: 25, b.name: 35}
    kern = {a.name: da["reads"], b.name: db["writes"]}
    check(got == want == kern, "-D: biolat %s, workload %s, stat %s" % (
        got, want, kern))
    only = by(only_a.final_report(), "disk")
    check(list(only) == [(a.name,)] and only[(a.name,)]["count"] == 25,
          "-d %s: histograms %s" % (a.name, {k: h["count"] for k, h in
                                             only.items()}))
    return "-D %s; -d %s: 25 only" % (got, a.name)


@test("biolat/queued-merges")
def queued_merges():
    """With a scheduler (mq-deadline): N sequential 4 KiB buffered writes
    and an fsync reach the device as the requests the kernel makes of
    them (6.18: a few large ones): biolat counts requests as /sys/block
    does, not write() calls. -Q: the queued ones (here all, or all but
    those 5.10 issues straight from the plug) in the queue phase."""
    tool.need(TOOL)
    n = 256
    with Loop(scheduler="mq-deadline") as lo:
        def work():
            before = lo.stat()
            subprocess.run([sys.executable, "-c", BUFFERED, lo.dev, str(n)],
                           check=True, timeout=60)
            lo.settle()
            return delta(lo.stat(), before)
        (out,), d = traced([["-j", "-Q", "-F", "-d", lo.name]], work)
    hists = out.final_report()["hists"]
    dev_w = count(hists, op="write", phase="device")
    q_w = count(hists, op="write", phase="queue")
    kern = d["writes"] - d["flushes"]
    # How many requests the writes make is the kernel's business (6.18
    # merges them into a few, 5.10 here issues one per page): the count
    # must be the kernel's, whatever it is. 5.10 may issue a request
    # straight from the plug, never queued: no queue phase for it.
    check(dev_w == kern and dev_w > 0, "device writes %d, stat %d, "
          "write() calls %d" % (dev_w, kern, n))
    check(0 < q_w <= dev_w, "queued writes %d, device writes %d" % (
        q_w, dev_w))
    check(count(hists, op="flush", phase="device") == d["flushes"],
          "flushes %d, stat %d" % (count(hists, op="flush",
                                         phase="device"), d["flushes"]))
    both = total(hists, op="write")
    return "%d write() calls: %d requests (stat %d, %d sectors), queued %d;" \
        " %s" % (n, dev_w, kern, d["write_sectors"], q_w,
                 check_ticks("write (queue+device)", both, d["write_ms"],
                             dev_w, upper=False))


@test("biolat/pids")
def pids():
    """-P: two processes reading at once, each charged its own requests
    (both exit before biolat does: their histograms stay); -p of a third
    that exits: biolat reports its requests, says so and exits 1."""
    tool.need(TOOL)
    with Loop() as lo:
        procs = {}

        def work():
            # Far apart: a request queued behind a busy device takes
            # in an adjacent bio of the other process (a merge, one
            # request charged to its first owner; seen once on 6.1).
            procs["a"] = io(lo.dev, "read", 20, wait=False)
            procs["b"] = io(lo.dev, "read", 45, 8192, wait=False,
                            at=4 << 20)
            for p in procs.values():
                check(p.wait(60) == 0, "workload failed")
            lo.settle()
        # -p needs the pid before the start: a process that waits for a
        # line on stdin, then does its I/O and exits.
        script = tempfile.NamedTemporaryFile("w", suffix=".py",
                                             dir="/var/tmp", delete=False)
        try:
            script.write(WORKLOAD)
            script.close()
            third = subprocess.Popen(
                [sys.executable, "-c", "import sys, runpy; "
                 "sys.stdin.readline(); sys.argv = sys.argv[1:]; "
                 "runpy.run_path(sys.argv[0], run_name='__main__')",
                 script.name, lo.dev, "write", "15", "4096"],
                stdin=subprocess.PIPE)

            def both():
                work()
                third.stdin.write(b"go\n")
                third.stdin.close()
                check(third.wait(60) == 0, "third workload failed")
                time.sleep(1.5)     # biolat notices the exit
            (per_pid, one), _ = traced(
                [["-j", "-P", "-d", lo.name],
                 ["-j", "-d", lo.name, "-p", str(third.pid)]], both,
                target_exits=True)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(script.name)
    pp = by(per_pid.final_report(), "pid")
    got = {k: pp.get((p.pid,), report.EMPTY)["count"]
           for k, p in list(procs.items()) + [("c", third)]}
    check(got == {"a": 20, "b": 45, "c": 15}, "-P: %s, expected a 20, b 45,"
          " c 15" % got)
    check(all(pp[(p.pid,)]["key"]["comm"].startswith("python")
              for p in procs.values()), "-P: comms %s" % [
                  h["key"]["comm"] for h in pp.values()])
    r = one.result
    check(tool.ended_with_target(r), "-p %d: exit %s, %r" % (
        third.pid, r.rc, r.err[-200:]))
    h = one.final_hist()
    check(h["count"] == 15, "-p: %d requests, expected 15" % h["count"])
    return "-P: %s (processes gone before the report); -p: 15, exit 1 " \
        "when it exited" % got


@test("biolat/cgroups")
def cgroups():
    """--per-cgroup: two processes reading at once, each from a cgroup of
    its own: each cgroup charged its process's requests exactly; -c with
    one of them: its requests only."""
    tool.need(TOOL)
    with Loop() as lo, workload.Cgroup("a") as ca, \
            workload.Cgroup("b") as cb:
        def work():
            procs = [io(lo.dev, "read", 20, wait=False, cgroup=ca),
                     io(lo.dev, "read", 35, 8192, wait=False, at=4 << 20,
                        cgroup=cb)]     # far apart: see biolat/pids
            for p in procs:
                check(p.wait(60) == 0, "workload failed")
            lo.settle()
        (per, only), _ = traced([["-j", "--per-cgroup", "-d", lo.name],
                                 ["-j", "-c", ca.path, "-d", lo.name]], work)
    got = {k[0]: h["count"] for k, h in by(per.final_report(),
                                           "cgroup").items()
           if k[0] in (ca.rel, cb.rel)}
    check(got == {ca.rel: 20, cb.rel: 35}, "--per-cgroup: %s, expected 20 "
          "and 35" % got)
    n = only.final_hist()["count"]
    check(n == 20, "-c %s: %d requests, expected 20" % (ca.rel, n))
    return "--per-cgroup 20 and 35, -c 20"


@test("biolat/vs-biolatency")
def vs_biolatency():
    """libbpf-tools' biolatency beside biolat, both on the test's loop
    device (-d), both timing each request from issue to completion: the
    same number of requests, and at every edge E of biolatency's
    power-of-two microsecond buckets, its share of requests below E
    between biolat's below E/1.5 and below 1.5 E (peers.same_distribution:
    the two read the clock at their own points of programs run one after
    the other, and requests of a loop device cluster around a few
    microseconds, where a shift of one moves many across an edge)."""
    tool.need(TOOL)
    with Loop() as lo:
        with peers.Peer([BIOLATENCY, "-d", lo.name]) as peer:
            def work():
                io(lo.dev, "read", 300)
                io(lo.dev, "read", 150, 131072)
                io(lo.dev, "write", 150, 16384)
                lo.settle()
            (out,), _ = traced([["-j", "-d", lo.name]], work)
            rows = peer.stop()
    h = out.final_hist()
    n = sum(peers.log2_slots(rows).values())
    check(h["count"] == n and n >= 300, "biolat %d requests, biolatency "
          "%d, the workload at least 300" % (h["count"], n))
    return peers.same_distribution(h, rows, "requests", 1.5)


@test("biolat/attach-methods")
def attach_methods():
    """raw_tp and classic tracepoints (which know a request by disk and
    sector, not by address) count the same mix as tp_btf."""
    tool.need(TOOL)
    with Loop() as lo:
        outs, d = traced([["-j", "-F", "-D", "--attach", m]
                          for m in ("raw_tp", "tracepoint")],
                         lambda: mixed(lo, 24, 16))
    return "; ".join(
        check_mix(o.final_report()["hists"], d, 24, 16, m, disk=lo.name)
        for o, m in zip(outs, ("raw_tp", "tracepoint")))


def promtool(path):
    r = subprocess.run(["promtool", "check", "metrics"], stdin=open(path),
                       capture_output=True, text=True)
    check(r.returncode != 127 and "not found" not in r.stderr,
          "promtool not found (install prometheus: make deps)")
    check(r.returncode == 0, "promtool: %s" % (r.stdout + r.stderr)[:300])


@test("biolat/export")
def export():
    """--textfile: what promtool accepts, with the disk and op labels and
    the requests' count; --listen 39300 serves the same."""
    tool.need(TOOL)
    fd, path = tempfile.mkstemp(suffix=".prom", dir="/var/tmp")
    os.close(fd)
    try:
        with Loop() as lo:
            def work():
                mixed(lo, 10, 5)
                # served from the totals drained once a second
                time.sleep(1.5)
                with urllib.request.urlopen(
                        "http://127.0.0.1:39300/metrics", timeout=10) as u:
                    return u.read().decode()
            (_, _), served = tool.traced(
                TOOL, [["-D", "-F", "--textfile", path],
                       ["-D", "-d", lo.name, "--listen", "39300"]], work)
        promtool(path)
        text = open(path).read()
    finally:
        os.unlink(path)
    want = 'howlong_biolat_seconds_count{disk="%s",op="read",flags="' % \
        lo.name
    line = [l for l in text.splitlines() if l.startswith(want)]
    check(line and line[0].endswith(" 10"), "textfile: %r, expected %s... "
          "10" % (line, want))
    m = re.search(r'^howlong_biolat_seconds_count\{disk="%s"\} (\d+)$' %
                  lo.name, served, re.M)
    check(m and int(m.group(1)) == 16, "--listen: %s" % (
        m.group(0) if m else "no count for " + lo.name))
    return "promtool ok; textfile %s; --listen %s" % (line[0], m.group(0))


# ---- bad input ----

BAD = {
    "disk-unknown": (["-d", "nosuchdisk"], 2, ["nosuchdisk"]),
    "disk-path": (["-d", "../../../etc"], 2, ["no such disk"]),
    "disk-empty": (["-d", ""], 2, ["no such disk"]),
    "owner-twice": (["-P", "--per-cgroup"], 2, ["exclude"]),
    "attach-method": (["--attach", "kprobe"], 2, ["kprobe"]),
}
tool.register_bad(TOOL, BAD, lambda: ["1", "1"])
