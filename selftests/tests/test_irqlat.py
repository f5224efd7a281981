"""irqlat against the kernel's own interrupt accounting, which shares
nothing with the tracepoints irqlat attaches to: /proc/interrupts (per IRQ
line, counted by the interrupt flow handler before any handler runs) and
/proc/softirqs (per vector, counted just before a vector's handler runs).

The window: each file is read four times, before the tools start
(outer), right after the last one says "Tracing" (inner), after the work
(inner) and after the tools have exited (outer). irqlat's window contains
the inner one and lies within the outer one, so each of its counts must
be at least the inner delta and at most the outer delta. The lower bound
has a slack of one per CPU: an interrupt the flow handler counted without
calling a handler (spurious, or deferred while the line was disabled).
A shared IRQ line calls every handler on it: each handler's count is held
to the line's bounds.

The work makes the counts large where it matters: the hard IRQ test reads
with O_DIRECT from the device under / (the root disk's block device, or
the root file system's files where / has no block device, as in the
kernel matrix's guests: virtiofs or 9p) and finds the IRQs those reads
raise by a first run of reads, from /proc/interrupts alone (no names are
assumed: virtio, ata, nvme alike); the softirq tests send UDP datagrams
over loopback, which raise NET_RX on the sending CPU.

-w's truth is the sender's own clock: each datagram, sent and received
one at a time by the test, is raised at NET_RX during sendto() and the
softirq's entry comes before the datagram can be received, so each of its
waits is at most the time from just before sendto() to just after
recvfrom() returned it. At least 90% of the datagrams must show as a
NET_RX wait no longer than the longest of those times (the rest: a raise
that found NET_RX pending already, from other traffic).

Beside libbpf-tools' hardirqs and softirqs (-d), run over the same
window: their counts are held to the same bounds, and their
distributions agree to within a factor of two in time (see
peers.same_distribution()), for the IRQs and vectors with at least 50 events.
"""
import contextlib
import os
import re
import socket
import time

from lib import peers, report, tool
from lib.harness import Failure, check, fail, test

TOOL = "irqlat"
NCPU = os.cpu_count()
N_IO = 400              # O_DIRECT reads in a window
N_DGRAMS = 1000         # UDP datagrams over loopback in a window
MIN_BUSY = 50           # events for a distribution to be compared
HARDIRQS = "/usr/sbin/hardirqs"
SOFTIRQS = "/usr/sbin/softirqs"
VECTORS = ("hi", "timer", "net_tx", "net_rx", "block", "irq_poll",
           "tasklet", "sched", "hrtimer", "rcu")


# ---- the kernel's accounting ----

def interrupts():
    """{irq: (count summed over CPUs, the rest of the line)} for the
    numbered lines of /proc/interrupts."""
    with open("/proc/interrupts") as f:
        ncols = len(f.readline().split())
        out = {}
        for line in f:
            head, _, rest = line.partition(":")
            if not head.strip().isdigit():
                continue
            fields = rest.split()
            counts = [int(x) for x in fields[:ncols] if x.isdigit()]
            out[int(head)] = (sum(counts), rest)
    return out


def softirqs():
    """{vector: count summed over CPUs}, names in lower case."""
    with open("/proc/softirqs") as f:
        f.readline()
        out = {}
        for line in f:
            name, _, rest = line.partition(":")
            out[name.strip().lower()] = sum(int(x) for x in rest.split())
    return out


class Window:
    """Deltas of one of the files above between the outer and the inner
    snapshots."""

    def __init__(self, read):
        self.read = read
        self.snaps = []

    def snap(self):
        self.snaps.append(self.read())

    @staticmethod
    def _count(v):
        return v[0] if isinstance(v, tuple) else v

    def delta(self, key, a, b):
        s, e = self.snaps[a], self.snaps[b]
        return self._count(e.get(key, 0)) - self._count(s.get(key, 0)) \
            if key in e else 0

    def inner(self, key):
        return self.delta(key, 1, 2)

    def outer(self, key):
        return self.delta(key, 0, 3)

    def keys(self):
        return set(self.snaps[3])

    def within(self, key, count, what):
        lo, hi = self.inner(key) - NCPU, self.outer(key)
        check(lo <= count <= hi, "%s: counted %d, the kernel %d in the inner "
              "window and %d in the outer one" % (
                  what, count, self.inner(key), hi))


# ---- peers: libbpf-tools ----

def peer_blocks(out, what):
    """{name: the rows of its histogram} of a -d report, whose
    histograms are headed "what = NAME"."""
    parts = re.split(rb"^%s = (.+)$" % what.encode(), out, flags=re.M)
    return {parts[i].decode().strip(): parts[i + 1]
            for i in range(1, len(parts), 2)}


# ---- running ----

def windowed(read, arg_lists, work, peer_list=()):
    """Peers and irqlat (one per argument list, -j) over work(), inside a
    Window of read; returns ([irqlat's final reports], window, work's
    result)."""
    results, win, ret = windowed_results(read, arg_lists, work, peer_list)
    return [report.ToolOutput(r, TOOL).final_report() for r in results], \
        win, ret


def windowed_results(read, arg_lists, work, peer_list=()):
    """The same, returning irqlat's Results; each peer's final report is
    its .out."""
    win = Window(read)
    win.snap()
    with contextlib.ExitStack() as stack:
        for p in peer_list:
            stack.enter_context(p)
        tracers = tool.start_all(TOOL, arg_lists)
        try:
            win.snap()
            ret = work()
            win.snap()
        except BaseException:
            for t in tracers:
                t.__exit__(None, None, None)
            raise
        results = tool.stop_all(tracers)
        for p in peer_list:
            p.stop()
    win.snap()
    return results, win, ret


# ---- hard IRQs: reads under / ----

def whole_disk():
    """/dev/NAME of the disk holding /, or None (no block device)."""
    st = os.stat("/")
    sysdev = "/sys/dev/block/%d:%d" % (os.major(st.st_dev),
                                       os.minor(st.st_dev))
    if not os.path.exists(sysdev):
        return None
    path = os.path.realpath(sysdev)
    if os.path.exists(os.path.join(path, "partition")):
        path = os.path.dirname(path)
    dev = "/dev/" + os.path.basename(path)
    return dev if os.path.exists(dev) else None


def big_file():
    """A file of a few MB under / (this Python's own executable)."""
    return os.path.realpath("/proc/self/exe")


def open_under_root():
    """(fd, path, direct) for reads that must reach the device under /:
    the whole disk with O_DIRECT, or where that cannot be opened (no
    disk, or a device policy refuses it) a file of / with O_DIRECT, or
    plain where the file system refuses O_DIRECT."""
    for path in (whole_disk(), big_file()):
        for flags, direct in ((os.O_DIRECT, True), (0, False)):
            if path is None or (path.startswith("/dev/") and not direct):
                continue
            try:
                return os.open(path, os.O_RDONLY | flags), path, direct
            except OSError:
                pass
    fail("cannot open the disk under / or %s" % big_file())


def read_direct(n):
    """n reads of 4 KiB that each must reach the device under / (without
    O_DIRECT, after dropping the file's pages); returns what was read."""
    import mmap
    buf = mmap.mmap(-1, 4096)
    fd, path, direct = open_under_root()
    try:
        size = os.lseek(fd, 0, os.SEEK_END) // 4096 * 4096
        span = max(size // 4096, 1)
        for i in range(n):
            # far apart, so that no read-ahead serves the next
            off = (i * 7919 % span) * 4096
            if not direct:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.preadv(fd, [buf], off)
    finally:
        os.close(fd)
    return path + ("" if direct else " (without O_DIRECT)")


def busy_irqs(n=200):
    """The IRQs that n reads raise at least n/2 times, found from
    /proc/interrupts alone."""
    before = interrupts()
    path = read_direct(n)
    after = interrupts()
    busy = [irq for irq in after
            if after[irq][0] - before.get(irq, (0,))[0] >= n // 2]
    check(busy, "%d reads of %s raised no IRQ %d times: no interrupt "
          "source to test against" % (n, path, n // 2))
    return busy


def hard_counts(rep):
    """{(irq, name): count} of a hard IRQ report."""
    out = {}
    for h in rep["hists"]:
        k = h["key"]
        check(set(k) == {"irq", "name"}, "key %r: expected irq and name" % k)
        check((k["irq"], k["name"]) not in out, "key %r twice" % k)
        out[(k["irq"], k["name"])] = h
    return out


def check_hard(rep, win, what):
    """Every handler of every IRQ within its line's bounds, named as in
    /proc/interrupts; every line counted in the inner window present."""
    hists = hard_counts(rep)
    lines = win.snaps[3]
    for (irq, name), h in hists.items():
        check(irq in lines, "%s: IRQ %d is not in /proc/interrupts" % (
            what, irq))
        # whole, as /proc/interrupts lists it (the BPF side has only the
        # first 15 characters of a handler's name)
        check(re.search(r"\s%s(,|$)" % re.escape(name),
                        lines[irq][1].rstrip()),
              "%s: IRQ %d named %r, not a handler of %r" % (
                  what, irq, name, lines[irq][1].strip()))
        win.within(irq, h["count"], "%s IRQ %d %s" % (what, irq, name))
    seen = {irq for irq, _ in hists}
    for irq in win.keys():
        if win.inner(irq) > NCPU:
            check(irq in seen, "%s: IRQ %d fired %d times, irqlat has no "
                  "histogram of it" % (what, irq, win.inner(irq)))
    return hists


@test("irqlat/hard-counts")
def hard_counts_test():
    """Per IRQ and handler, on each attach method at once, within
    /proc/interrupts' bounds; the disk's IRQs counted in the hundreds."""
    tool.need(TOOL)
    busy = busy_irqs()
    reps, win, path = windowed(
        interrupts, [["-j"], ["-j", "--attach", "raw_tp"],
                     ["-j", "--attach", "tracepoint"]],
        lambda: read_direct(N_IO))
    for irq in busy:
        check(win.inner(irq) >= N_IO // 2, "IRQ %d: %d interrupts for %d "
              "reads in the window" % (irq, win.inner(irq), N_IO))
    for rep, what in zip(reps, ("tp_btf", "raw_tp", "tracepoint")):
        hists = check_hard(rep, win, what)
        for irq in busy:
            names = [n for i, n in hists if i == irq]
            check(names, "%s: no histogram of IRQ %d" % (what, irq))
    return "%s: IRQs %s, %s interrupts; %d IRQs in bounds on 3 methods" % (
        path, busy, [win.inner(i) for i in busy], len(hard_counts(reps[0])))


@test("irqlat/irq-filter")
def irq_filter():
    """-I the busiest IRQ, -C: only that IRQ, per CPU, the CPUs' counts
    adding up within its bounds."""
    tool.need(TOOL)
    irq = busy_irqs()[0]
    (rep,), win, _ = windowed(interrupts, [["-j", "-C", "-I", str(irq)]],
                              lambda: read_direct(N_IO))
    total = {}
    for h in rep["hists"]:
        k = h["key"]
        check(k.get("irq") == irq, "-I %d: histogram %r" % (irq, k))
        check(0 <= k.get("cpu", -1) < NCPU, "-C: cpu of %r" % k)
        total[k["name"]] = total.get(k["name"], 0) + h["count"]
    check(total, "-I %d: no histogram" % irq)
    for name, n in total.items():
        win.within(irq, n, "IRQ %d %s over CPUs" % (irq, name))
    return "IRQ %d: %s over %d histograms, the kernel %d" % (
        irq, total, len(rep["hists"]), win.inner(irq))


# ---- softirqs: datagrams over loopback ----

def datagrams(n=N_DGRAMS):
    """n UDP datagrams to ourselves over loopback, one at a time; returns
    the longest time from just before sendto() to just after recvfrom()
    returned that datagram (ns)."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    longest = 0
    try:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5)
        dst = rx.getsockname()
        for i in range(n):
            t0 = time.monotonic_ns()
            tx.sendto(b"%d" % i, dst)
            got = rx.recv(64)
            t1 = time.monotonic_ns()
            if got != b"%d" % i:
                raise Failure("datagram %d came back as %r" % (i, got))
            longest = max(longest, t1 - t0)
        # half a second more of timers and ticks: every vector's count
        # grows, not only NET_RX's
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            time.sleep(0.002)
    finally:
        rx.close()
        tx.close()
    return longest


def soft_hists(rep, phase=None):
    """{vector: histogram} of a softirq report (of one phase)."""
    out = {}
    for h in rep["hists"]:
        k = h["key"]
        if phase and k.get("phase") != phase:
            continue
        check(k.get("vector") in VECTORS, "key %r: no known vector" % k)
        check(k["vector"] not in out, "key %r twice" % k)
        out[k["vector"]] = h
    return out


def check_soft(rep, win, what):
    hists = soft_hists(rep)
    for v in VECTORS:
        win.within(v, hists.get(v, report.EMPTY)["count"], "%s %s" % (
            what, v))
    return hists


@test("irqlat/softirq-counts")
def softirq_counts():
    """-S, on each attach method at once: every vector within
    /proc/softirqs' bounds; NET_RX at least once per datagram."""
    tool.need(TOOL)
    reps, win, _ = windowed(
        softirqs, [["-j", "-S"], ["-j", "-S", "--attach", "raw_tp"],
                   ["-j", "-S", "--attach", "tracepoint"]], datagrams)
    check(win.inner("net_rx") >= N_DGRAMS, "NET_RX ran %d times for %d "
          "datagrams" % (win.inner("net_rx"), N_DGRAMS))
    for rep, what in zip(reps, ("tp_btf", "raw_tp", "tracepoint")):
        check_soft(rep, win, what)
    return "; ".join("%s %d" % (v, win.inner(v)) for v in VECTORS
                     if win.inner(v))


@test("irqlat/vector-filter")
def vector_filter():
    """-s net_rx,timer -C: those two vectors only, per CPU, in bounds."""
    tool.need(TOOL)
    (rep,), win, _ = windowed(softirqs, [["-j", "-C", "-s", "net_rx,TIMER"]],
                              datagrams)
    total = {}
    for h in rep["hists"]:
        k = h["key"]
        check(k.get("vector") in ("net_rx", "timer"), "-s: %r" % k)
        check(0 <= k.get("cpu", -1) < NCPU, "-C: cpu of %r" % k)
        total[k["vector"]] = total.get(k["vector"], 0) + h["count"]
    for v in ("net_rx", "timer"):
        win.within(v, total.get(v, 0), v + " over CPUs")
    return "%s" % total


@test("irqlat/softirq-wait")
def softirq_wait():
    """-S -w: per vector no more waits than runs (one CPU's worth more at
    the edges), none beyond /proc/softirqs' outer count, a wait for each
    vector that ran; NET_RX's waits for the datagrams within the sender's
    own times (see the module's text). -w alone, on tp_btf and raw_tp, in
    the same window: its waits within the same bounds."""
    tool.need(TOOL)
    (rep, alone, raw), win, longest = windowed(
        softirqs, [["-j", "-S", "-w"], ["-j", "-w"],
                   ["-j", "-w", "--attach", "raw_tp"]], datagrams)
    runs, waits = soft_hists(rep, "run"), soft_hists(rep, "wait")
    for v in VECTORS:
        win.within(v, runs.get(v, report.EMPTY)["count"], "run " + v)
        nw = waits.get(v, report.EMPTY)["count"]
        check(nw <= runs.get(v, report.EMPTY)["count"] + NCPU and
              nw <= win.outer(v), "%s: %d waits, %d runs, the kernel %d" % (
                  v, nw, runs.get(v, report.EMPTY)["count"], win.outer(v)))
        if win.inner(v) >= 20:
            check(nw > 0, "%s ran %d times, irqlat saw no wait" % (
                v, win.inner(v)))
    said = []
    for r, what in ((waits, "-S -w"), (soft_hists(alone), "-w"),
                    (soft_hists(raw), "-w raw_tp")):
        check(all(set(h["key"]) == {"vector"} for h in r.values()) or
              what == "-S -w", "%s: keys %s" % (what, [
                  h["key"] for h in r.values()]))
        for v, h in r.items():
            check(h["count"] <= win.outer(v), "%s %s: %d waits, the kernel "
                  "%d runs" % (what, v, h["count"], win.outer(v)))
        rx = r.get("net_rx")
        check(rx, "%s: no NET_RX wait" % what)
        edge = longest + longest // 16 + 1
        within = sum(b["count"] for b in rx["buckets"] if b["le_ns"] <= edge)
        check(within >= N_DGRAMS * 9 // 10, "%s: %d NET_RX waits up to %d "
              "ns (the longest datagram's round trip), expected at least %d "
              "of %d datagrams" % (what, within, longest,
                                   N_DGRAMS * 9 // 10, N_DGRAMS))
        said.append("%s %d/%d p50 %d ns" % (what, within, rx["count"],
                                            rx["p50_ns"]))
    return "NET_RX waits within the longest round trip %d ns: %s; " \
        "waits/runs %s" % (
            longest, ", ".join(said),
            ", ".join("%s %d/%d" % (v, waits[v]["count"], runs[v]["count"])
                      for v in VECTORS if v in waits and v in runs))


# ---- beside libbpf-tools ----

@test("irqlat/vs-hardirqs")
def vs_hardirqs():
    """irqlat and hardirqs -d on the same reads: each one's count of
    every busy handler within the kernel's bounds, and the distributions
    alike (see peers.same_distribution())."""
    tool.need(TOOL)
    busy = busy_irqs()
    peer = peers.Peer([HARDIRQS, "-d"])
    (rep,), win, _ = windowed(interrupts, [["-j"]],
                              lambda: read_direct(N_IO), [peer])
    ours = check_hard(rep, win, "irqlat")
    theirs = peer_blocks(peer.out, "hardirq")
    done = []
    for (irq, name), h in ours.items():
        if h["count"] < MIN_BUSY:
            continue
        check(name in theirs, "hardirqs has no histogram of %s" % name)
        # hardirqs keys by name alone: lines of the same name add up
        lines = [i for i, n in ours if n == name]
        n = sum(peers.log2_slots(theirs[name]).values())
        lo = sum(win.inner(i) for i in lines) - NCPU
        hi = sum(win.outer(i) for i in lines)
        check(lo <= n <= hi, "hardirqs %s: %d, the kernel %d..%d" % (
            name, n, lo, hi))
        done.append(peers.same_distribution(h, theirs[name], name,
                                                 2.0))
    check(any(irq in busy for irq, n in ours if ours[(irq, n)]["count"] >=
              MIN_BUSY), "no busy IRQ compared")
    return "; ".join(done)


@test("irqlat/vs-softirqs")
def vs_softirqs():
    """irqlat -S and softirqs -d on the same datagrams: counts per vector
    within the kernel's bounds, and the distributions alike (see
    peers.same_distribution()) for the vectors with at least MIN_BUSY runs."""
    tool.need(TOOL)
    peer = peers.Peer([SOFTIRQS, "-d"])
    (rep,), win, _ = windowed(softirqs, [["-j", "-S"]], datagrams, [peer])
    ours = check_soft(rep, win, "irqlat")
    theirs = peer_blocks(peer.out, "softirq")
    done = []
    for v in VECTORS:
        n = sum(peers.log2_slots(theirs.get(v, b"")).values())
        win.within(v, n, "softirqs " + v)
        h = ours.get(v)
        if h and h["count"] >= MIN_BUSY:
            done.append(peers.same_distribution(h, theirs[v], v, 2.0))
    check(any(d.startswith("net_rx") for d in done), "NET_RX not compared")
    return "; ".join(done)


# ---- export ----

@test("irqlat/export")
def export():
    """-S -w --textfile: promtool accepts it, NET_RX's run count within
    /proc/softirqs' bounds, waits labelled apart; hard IRQs over
    --listen, scraped during the work: parsed, with irq and name
    labels."""
    from lib import prom
    tool.need(TOOL)
    port = prom.port()
    def work():
        datagrams()
        time.sleep(1.5)     # served from totals drained once a second
        return prom.get_text("http://127.0.0.1:%d/metrics" % port)[1]

    with prom.textfile("irqlat-") as path:
        _, win, served = windowed_results(
            softirqs, [["-S", "-w", "--textfile", path],
                       ["--listen", str(port)]], work)
        ex = prom.checked(open(path).read())
    n = ex.value("howlong_irqlat_seconds_count", vector="net_rx",
                 phase="run")
    win.within("net_rx", int(n), "textfile net_rx")
    check(ex.value("howlong_irqlat_seconds_count", vector="net_rx",
                   phase="wait") > 0, "textfile: no NET_RX wait")
    hard = prom.parse(served).series("howlong_irqlat_seconds_count")
    check(hard and all(set(k) == {"irq", "name"} for k, _ in hard),
          "--listen: %s" % hard[:3])
    return "promtool ok; net_rx %d (kernel %d); --listen %d series" % (
        n, win.inner("net_rx"), len(hard))


# ---- bad input ----

def no_irq():
    """A number below the limit that /proc/interrupts does not list."""
    lines = interrupts()
    return str(next(i for i in range(1000, 65536) if i not in lines))


BAD = {
    "pid": (["-p", "1"], 2, ["-- 'p'|-p"]),
    "cgroup": (["-c", "/sys/fs/cgroup"], 2, ["-- 'c'|-c"]),
    "comm": (["--comm", "bash"], 2, ["--comm"]),
    "pids": (["-P"], 2, ["-- 'P'|-P"]),
    "irq-unknown": (lambda: ["-I", no_irq()], 2, []),
    "irq-range": (["-I", "70000"], 2, ["70000"]),
    "irq-word": (["-I", "disk"], 2, ["disk"]),
    "irq-empty": (["-I", ","], 2, ["','"]),
    "irq-softirq": (lambda: ["-I", str(min(interrupts())), "-S"], 2,
                    ["-I"]),
    "vector-unknown": (["-s", "net_rx,bogus"], 2, ["bogus"]),
    "vector-empty": (["-s", ","], 2, ["','"]),
    "attach-method": (["--attach", "kprobe"], 2, ["kprobe"]),
}
tool.register_bad(TOOL, BAD, lambda: ["1", "1"])
