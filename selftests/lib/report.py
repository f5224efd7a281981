"""schedlat's reports: the JSON Lines schema (docs/json.md), checked field
by field, the text report, and comparisons with the kernel's numbers."""
import datetime
import json
import math
import re

from lib.harness import Failure, check, fail

HIST_SUB = 16           # sub-buckets per power of two; exact below this
TOP_KEYS = {"type", "tool", "time", "interval_ns", "lost", "hists"}
HIST_KEYS = {"key", "count", "sum_ns", "min_ns", "max_ns", "p50_ns",
             "p90_ns", "p99_ns", "p999_ns", "buckets"}
QUANTILES = (("p50_ns", 0.5), ("p90_ns", 0.9), ("p99_ns", 0.99),
             ("p999_ns", 0.999))
TIME_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{9})Z$")


# ---- log-linear slots, from their definition ----

def slot_lo_of(v):
    """Smallest value in the slot holding v."""
    if v < HIST_SUB:
        return v
    width = 1 << (v.bit_length() - 1 - 4)
    return v - v % width


def is_slot_end(v):
    """True if v is the largest value of its slot."""
    return slot_lo_of(v + 1) == v + 1


def quantile_from_buckets(buckets, count, lo, hi, q):
    """The documented rule: midpoint of the slot holding rank ceil(q*n),
    clamped to [min, max]."""
    rank = max(1, math.ceil(q * count))
    seen = 0
    for b in buckets:
        seen += b["count"]
        if seen >= rank:
            s_lo = slot_lo_of(b["le_ns"])
            return min(max(s_lo + (b["le_ns"] - s_lo) // 2, lo), hi)
    raise Failure("bucket counts sum below count")


# ---- JSON ----

def parse_lines(out, what="schedlat"):
    """Each stdout line as a JSON object (strict UTF-8)."""
    if isinstance(out, str):
        out = out.encode()
    objs = []
    for i, line in enumerate(out.split(b"\n")[:-1] if out.endswith(b"\n")
                             else out.split(b"\n")):
        try:
            objs.append(json.loads(line.decode("utf-8")))
        except (UnicodeDecodeError, ValueError) as e:
            raise Failure("%s: line %d is not valid JSON (%s): %r" % (
                what, i + 1, e, line[:120]))
    return objs


def uint(v):
    """A JSON non-negative integer (not a boolean)."""
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def check_hist(h, where):
    check(isinstance(h, dict) and set(h) == HIST_KEYS,
          "%s: fields %s, expected %s" % (where, sorted(h), sorted(HIST_KEYS)))
    check(isinstance(h["key"], dict), where + ": key is not an object")
    for k in HIST_KEYS - {"key", "buckets"}:
        check(uint(h[k]), "%s: %s=%r is not a non-negative integer" % (
            where, k, h[k]))
    b = h["buckets"]
    check(isinstance(b, list), where + ": buckets is not a list")
    for e in b:
        check(isinstance(e, dict) and set(e) == {"le_ns", "count"} and
              uint(e["le_ns"]) and uint(e["count"]) and e["count"] > 0,
              "%s: bad bucket %r" % (where, e))
    les = [e["le_ns"] for e in b]
    check(les == sorted(set(les)), where + ": buckets not sorted by le_ns")
    n = h["count"]
    check(sum(e["count"] for e in b) == n,
          "%s: bucket counts sum to %d, count is %d" % (
              where, sum(e["count"] for e in b), n))
    if not n:
        check(h["sum_ns"] == 0 and not b, where + ": empty but has data")
        return
    lo, hi = h["min_ns"], h["max_ns"]
    qs = [h[k] for k, _ in QUANTILES]
    check(lo <= qs[0] <= qs[1] <= qs[2] <= qs[3] <= hi,
          "%s: not min <= p50 <= p90 <= p99 <= p99.9 <= max: %d %s %d" % (
              where, lo, qs, hi))
    check(n * lo <= h["sum_ns"] <= n * hi,
          "%s: sum_ns %d outside count*[min, max]" % (where, h["sum_ns"]))
    for le in les[:-1]:
        check(is_slot_end(le), "%s: le_ns %d is not the end of a slot" % (
            where, le))
    check(slot_lo_of(les[0]) <= lo <= les[0],
          "%s: min %d not in the first bucket (le %d)" % (where, lo, les[0]))
    check((len(les) < 2 or les[-2] < hi) and hi <= les[-1],
          "%s: max %d not in the last bucket (le %d)" % (where, hi, les[-1]))
    for k, q in QUANTILES:
        want = quantile_from_buckets(b, n, lo, hi, q)
        check(h[k] == want, "%s: %s=%d but the buckets give %d" % (
            where, k, h[k], want))


def check_report(r, interval_ns=None, tool="schedlat", counters=()):
    """Validate one "hist" line; returns it. counters: the top-level
    counters this tool adds (docs/json.md), each a non-negative integer."""
    want = TOP_KEYS | set(counters)
    check(isinstance(r, dict) and set(r) == want,
          "report fields %s, expected %s" % (
              sorted(r) if isinstance(r, dict) else r, sorted(want)))
    for k in counters:
        check(uint(r[k]), "%s=%r is not a non-negative integer" % (k, r[k]))
    check(r["type"] == "hist" and r["tool"] == tool,
          "type/tool are %r/%r" % (r["type"], r["tool"]))
    m = TIME_RE.match(r["time"]) if isinstance(r["time"], str) else None
    check(m, "time %r is not RFC 3339 UTC with nanoseconds" % (r["time"],))
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc)
    skew = abs((datetime.datetime.now(datetime.timezone.utc) - t)
               .total_seconds())
    check(skew < 120, "time %s is %.0fs away from now" % (r["time"], skew))
    check(uint(r["interval_ns"]) and uint(r["lost"]),
          "interval_ns/lost not non-negative integers")
    if interval_ns:
        check(abs(r["interval_ns"] - interval_ns) <= interval_ns / 10,
              "interval_ns %d not within 10%% of %d" % (
                  r["interval_ns"], interval_ns))
    check(isinstance(r["hists"], list), "hists is not a list")
    for i, h in enumerate(r["hists"]):
        check_hist(h, "hists[%d]" % i)
    return r


def final_report(result):
    """The one report a run without interval prints at its end."""
    reps = parse_lines(result.out_bytes, result.cmd())
    check(len(reps) == 1, "%s printed %d JSON lines, expected 1" % (
        result.cmd(), len(reps)))
    return check_report(reps[0], tool=getattr(result, "tool", "schedlat"))


EMPTY = {"count": 0, "sum_ns": 0}


def only_hist(rep):
    """The single unkeyed histogram (an empty one if nothing was seen)."""
    hs = rep["hists"]
    check(len(hs) <= 1, "%d histograms, expected one" % len(hs))
    if hs:
        check(hs[0]["key"] == {}, "unexpected key %r" % hs[0]["key"])
    return hs[0] if hs else EMPTY


def by_key(rep, field):
    """{key[field]: hist}; every key must have that field, once."""
    out = {}
    for h in rep["hists"]:
        check(field in h["key"], "key %r lacks %r" % (h["key"], field))
        check(h["key"][field] not in out, "key %r appears twice" % h["key"])
        out[h["key"][field]] = h
    return out


# ---- comparisons with the kernel ----

def relerr(got, want):
    if want == 0:
        return 0.0 if got == 0 else math.inf
    return (got - want) / want


def compare(h, kernel, tol=0.02, what=""):
    """Check a histogram's count and sum against kernel Waits within tol;
    returns the detail "count 784/784 sum err +0.000%"."""
    check(kernel.count > 0, "%sthe kernel saw no waits: the workload did "
          "not run" % what)
    ce, se = relerr(h["count"], kernel.count), relerr(h["sum_ns"], kernel.sum)
    detail = "count %d/%d sum err %+.3f%%" % (h["count"], kernel.count,
                                              se * 100)
    check(abs(ce) <= tol and abs(se) <= tol,
          "%s%s (kernel sum %d ns, schedlat %d ns; allowed %g%%)" % (
              what, detail, kernel.sum, h["sum_ns"], tol * 100))
    return detail


def fmt_ns(ns):
    for unit, div in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= div:
            return "%.3g%s" % (ns / div, unit)
    return "%dns" % ns


# ---- text ----

ROW_RE = re.compile(r"^\s*(\d+) -> (\d+)\s*: (\d+)\s+\|(\**)\s*\|$")
HEADER_RE = re.compile(r"^\s*(usecs|msecs)\s+: count\s+distribution$")
SUMMARY_RE = re.compile(
    r"^count (\d+)  avg (\S+)  min (\S+)  max (\S+)  p50 (\S+)  p90 (\S+)"
    r"  p99 (\S+)  p99\.9 (\S+)$")
DURATION_RE = re.compile(r"^\d+(\.\d+)?(ns|us|ms|s)$")


def parse_text(out):
    """One unkeyed text report: {"unit", "rows": [(lo, hi, n)], "count",
    "summary": [...], "other": [lines]}."""
    rep = {"unit": None, "rows": [], "count": None, "other": []}
    for line in out.splitlines():
        if not line.strip():
            continue
        m = HEADER_RE.match(line)
        if m:
            check(rep["unit"] is None, "two histogram headers")
            rep["unit"] = m.group(1)
            continue
        m = ROW_RE.match(line)
        if m:
            rep["rows"].append(tuple(int(x) for x in m.groups()[:3]))
            continue
        m = SUMMARY_RE.match(line)
        if m:
            rep["count"] = int(m.group(1))
            rep["summary"] = m.groups()[1:]
            for v in rep["summary"]:
                check(DURATION_RE.match(v), "bad duration %r in %r" % (
                    v, line))
            continue
        rep["other"].append(line)
    return rep


TOP_ROW_KEYS = {"text", "calls", "total_ns", "mean_ns", "p50_ns", "p99_ns",
                "errors"}


def check_top(t, tool):
    """A "top" line (docs/json.md): header fields, nothing lost, rows
    well-formed and consistent, ordered by total time."""
    check({"type", "tool", "time", "interval_ns", "lost", "rows"} <= set(t),
          "top line lacks fields: %r" % sorted(t))
    check(t["tool"] == tool and isinstance(t["time"], str) and
          TIME_RE.match(t["time"]) and uint(t["interval_ns"]) and
          t["lost"] == 0,
          "bad top line header (or events lost) %r" % {
              k: v for k, v in t.items() if k != "rows"})
    check(isinstance(t["rows"], list), "top rows is not a list")
    for r in t["rows"]:
        check(isinstance(r, dict) and TOP_ROW_KEYS <= set(r),
              "top row lacks fields: %r" % r)
        check(isinstance(r["text"], str) and all(
            uint(r[k]) for k in TOP_ROW_KEYS - {"text"}),
            "top row fields of the wrong type: %r" % r)
        check(r["calls"] > 0 and r["errors"] <= r["calls"],
              "top row calls/errors inconsistent: %r" % r)
        check(abs(r["mean_ns"] - r["total_ns"] / r["calls"]) <= 1,
              "top row mean_ns %d is not total_ns/calls (%d/%d)" % (
                  r["mean_ns"], r["total_ns"], r["calls"]))
        check(r["p50_ns"] <= r["p99_ns"], "top row p50 > p99: %r" % r)
    totals = [r["total_ns"] for r in t["rows"]]
    check(totals == sorted(totals, reverse=True),
          "top rows not ordered by total_ns: %r" % totals)
    return t


class ToolOutput:
    """A -j run of a tool, split by line type, every line checked: hist
    lines against docs/json.md (with the tool's extra counters), event
    lines by the tool's own check_event, top lines by check_top(). A tool
    without events (check_event None) or top tables (tops False) fails on
    such a line."""

    def __init__(self, result, tool, counters=(), check_event=None,
                 tops=False):
        self.result = result
        self.hists, self.events, self.tops = [], [], []
        for obj in parse_lines(result.out_bytes, result.cmd()):
            kind = obj.get("type") if isinstance(obj, dict) else None
            if kind == "hist":
                self.hists.append(check_report(obj, tool=tool,
                                               counters=counters))
            elif kind == "event" and check_event:
                self.events.append(check_event(obj))
            elif kind == "top" and tops:
                self.tops.append(check_top(obj, tool))
            else:
                fail("%s: unexpected line %r" % (result.cmd(), obj))

    def final_report(self):
        """The one hist line printed at SIGINT."""
        check(len(self.hists) == 1, "%s printed %d hist lines, expected 1"
              % (self.result.cmd(), len(self.hists)))
        return self.hists[0]

    def final_hist(self, by=None):
        """The final report's only histogram, or {value of key[by]:
        histogram} with by (e.g. "pid" for -P)."""
        rep = self.final_report()
        return by_key(rep, by) if by else only_hist(rep)

    def final_counts(self, by, keep):
        """{value of key[by]: count} of the final report, for the values
        in keep only (e.g. the test's own cgroups among the machine's)."""
        return {k: h["count"] for k, h in self.final_hist(by).items()
                if k in keep}

    def final_top(self):
        """The rows of the one top line printed at SIGINT."""
        check(len(self.tops) == 1, "%s printed %d top lines, expected 1" % (
            self.result.cmd(), len(self.tops)))
        return self.tops[0]["rows"]
