"""libbpf-tools' log2 histograms (runqlat, biolatency, hardirqs -d ...)
next to ours: their rows read into {slot: count}, ours folded into the
same slots, and the comparison, bucket by bucket.

A peer's slot k holds [2^k, 2^(k+1)) us, slot 0 also 0 us (it takes
log2 of whole microseconds). Our log-linear buckets are finer; one that
straddles a slot edge is split in proportion to its width.
"""
import collections
import os
import re
import signal
import subprocess

from lib import report
from lib.harness import Done, check, fail
from lib.procs import die_with_parent

ROW = re.compile(rb"^\s*(\d+) -> (\d+)\s*: (\d+)", re.M)


def log2_slots(out):
    """{slot: count} of every row of a peer's histogram output (all of
    its histograms together)."""
    slots = collections.Counter()
    for lo, hi, n in ROW.findall(out):
        slots[int(lo).bit_length() - 1 if int(lo) else 0] += int(n)
    return slots


def slot_edges_ns(k):
    return (0 if k == 0 else 1000 << k), 1000 << (k + 1)


def fold(h):
    """Our histogram's buckets (JSON) in the peer's slots."""
    slots = collections.Counter()
    for b in h["buckets"]:
        lo, hi = report.slot_lo_of(b["le_ns"]), b["le_ns"] + 1
        k = max(0, (hi - 1) // 1000).bit_length() - 1 if hi > 2000 else 0
        while hi > lo:
            s_lo, s_hi = slot_edges_ns(k)
            part = hi - max(lo, s_lo)
            slots[k] += b["count"] * part / (b["le_ns"] + 1 - lo)
            hi -= part
            k -= 1
    return slots


def fold_small(slots, first):
    """Slots below first as one, under the key -1."""
    out = collections.Counter({-1: 0})
    for k, n in slots.items():
        out[k if k >= first else -1] += n
    return out


def slot_name(k, first=0):
    if k < 0:
        return "< %s" % report.fmt_ns(slot_edges_ns(first)[0])
    return "%s-%s" % tuple(report.fmt_ns(e) for e in slot_edges_ns(k))


def compare(ours, theirs, tolerance, min_share, first=0, slack=0):
    """(rows, problems): each slot of theirs with at least min_share of
    the samples, ours against it; a problem where the difference exceeds
    both tolerance (relative) and slack (samples)."""
    total = sum(theirs.values())
    rows, problems = [], []
    for k in sorted(theirs):
        if theirs[k] < min_share * total:
            continue
        err = report.relerr(ours[k], theirs[k])
        rows.append("%s %+.1f%%" % (slot_name(k, first), err * 100))
        if abs(err) > tolerance and abs(ours[k] - theirs[k]) > slack:
            problems.append("bucket %s: ours %.0f, theirs %d (%+.1f%%)" % (
                slot_name(k, first), ours[k], theirs[k], err * 100))
    return rows, problems


def share_below(h, ns):
    """The share of our histogram h's samples at most ns."""
    return sum(b["count"] for b in h["buckets"] if b["le_ns"] <= ns) / \
        max(h["count"], 1)


def same_distribution(h, rows, what, factor):
    """Our histogram h against a peer's rows of one histogram: at every
    edge E of the peer's power-of-two microsecond slots, the share of the
    peer's samples below E between ours below E/factor and below
    E*factor, give or take the events that only one of the two windows
    holds (the difference of the counts) and five more. Not closer: the
    two time the same event from programs that run one after the other
    on the same tracepoints, and each one's time includes one of the
    other's programs: a few hundred nanoseconds here, microseconds under
    emulation, against events of a few microseconds. Returns what was
    compared."""
    theirs = log2_slots(rows)
    n = sum(theirs.values())
    tol = (abs(h["count"] - n) + 5) / max(n, 1)
    seen, said = 0, []
    for k in range(max(theirs) + 1 if theirs else 0):
        seen += theirs.get(k, 0)
        edge, share = 1000 << (k + 1), seen / n
        lo = share_below(h, int(edge / factor))
        hi = share_below(h, int(edge * factor))
        check(lo - tol <= share <= hi + tol, "%s: %.1f%% of the peer's "
              "samples below %s, ours %.1f%% below %s and %.1f%% below "
              "%s" % (what, share * 100, report.fmt_ns(edge), lo * 100,
                      report.fmt_ns(edge / factor), hi * 100,
                      report.fmt_ns(edge * factor)))
        if 0.05 <= share <= 0.95:
            said.append("<%s %.0f%%/%.0f%%" % (
                report.fmt_ns(edge), share_below(h, edge) * 100,
                share * 100))
    return "%s %d/%d: %s" % (what, h["count"], n, ", ".join(said) or
                             "all in one slot")


class Peer:
    """A peer tool beside ours: started, ready when its first line says
    "Tracing" (or holds ready), stopped by stop() with SIGINT (its final
    report then is in .out), killed on the way out if it was not. With
    may_fail, a peer that does not start leaves what it said in .failed
    instead of failing the test (kprobe-based peers, on kernels without
    kprobes)."""

    def __init__(self, argv, ready=b"Tracing", may_fail=False):
        self.argv, self.proc, self.out = argv, None, b""
        self.ready, self.may_fail, self.failed = ready, may_fail, None

    def __enter__(self):
        if not os.access(self.argv[0], os.X_OK):
            fail("%s missing (make deps installs libbpf-tools)" %
                 self.argv[0])
        self.proc = subprocess.Popen(["stdbuf", "-oL"] + self.argv,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE,
                                     preexec_fn=die_with_parent)
        line = self.proc.stdout.readline()
        if self.ready not in line:
            self.proc.kill()
            out, err = self.proc.communicate()
            self.failed = (line + out + err).decode(errors="replace")
            if not self.may_fail:
                fail("%s did not start: %r" % (
                    os.path.basename(self.argv[0]), self.failed[-300:]))
        return self

    def cannot_attach(self, checked):
        """For a may_fail peer that did not start: ends the test (Done)
        saying what was checked without it and the peer's own words, if
        it lacked kprobes or fentry (as on kernels without them); any
        other reason fails the test."""
        why = [ln for ln in self.failed.splitlines()
               if "kprobe" in ln or "fentry" in ln or "attach" in ln]
        check(why, "%s did not start, and not for want of kprobes or "
              "fentry: %r" % (os.path.basename(self.argv[0]),
                              self.failed[-300:]))
        raise Done("%s; %s cannot attach on this kernel: %s" % (
            checked, os.path.basename(self.argv[0]), why[0].strip()))

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        self.out, err = self.proc.communicate(timeout=30)
        check(self.proc.returncode == 0, "%s exited %d: %r" % (
            os.path.basename(self.argv[0]), self.proc.returncode,
            err[-200:]))
        return self.out

    def __exit__(self, *exc):
        if self.proc and self.proc.returncode is None:
            self.proc.kill()
            self.proc.communicate()
        return False
