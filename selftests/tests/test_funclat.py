"""funclat against selftests/c/pairs.c's "funcs" mode (lib/pairs.py): the
program reads CLOCK_MONOTONIC right before and right after each call and
sleeps a known time inside, so every call funclat times lies in [slept,
the program's span] (its clock reads are inside the uprobe and uretprobe
traps), with no tolerance.

The mode calls work_a (1x), work_b (2x), work_c (3x MS) N times each,
recurse(5) (six nested calls of one function), jump_out() (longjmp: it
never returns), then work_a once more.
"""
import os

from lib import pairs, report, tool, workload
from lib.harness import check, test

TOOL = "funclat"
N, MS = 4, 2
COUNTERS = ("too_deep", "unwound")


def Output(result):
    return report.ToolOutput(result, TOOL, COUNTERS)


def run(arg_lists, path=pairs.PATH):
    """funclat with each argument list on one "funcs" run of the program
    at path (PATH in an argument is replaced by it)."""
    with pairs.Pairs("funcs", N, MS, path=path) as p:
        args = [[a.replace("PID", str(p.pid)).replace("PATH", path)
                 for a in al] for al in arg_lists]
        results, recs = tool.traced(TOOL, args, p.go)
    return [Output(r) for r in results], recs


def check_calls(h, recs, what):
    check(h["count"] == len(recs), "%s: %d calls, the program made %d" % (
        what, h["count"], len(recs)))
    lo = min(r.slept_ns for r in recs)
    hi = max(r.span_ns for r in recs)
    check(lo <= h["min_ns"] and h["max_ns"] <= hi, "%s: [%d, %d] outside "
          "[%d, %d] (slept, the program's span)" % (
              what, h["min_ns"], h["max_ns"], lo, hi))
    check(sum(r.slept_ns for r in recs) <= h["sum_ns"] <=
          sum(r.span_ns for r in recs), "%s: sum %d outside the bounds" % (
              what, h["sum_ns"]))


@test("funclat/glob")
def glob():
    """'work_*' with -p: one histogram per function, each with the
    program's count and within its bounds; jump_out's longjmp is unwound
    and the work_a call after it still pairs. Both builds of the program:
    position-independent and fixed-address (ET_EXEC)."""
    tool.need(TOOL)
    return "; ".join("%s: %s" % (what, glob_of(path))
                     for what, path in pairs.BUILDS)


def glob_of(path):
    (out,), recs = run([["-j", "-p", "PID", "PATH:[jw]*"]], path)
    rep = out.final_report()
    hists = report.by_key(rep, "function")
    check(set(hists) <= {"work_a", "work_b", "work_c", "jump_out"},
          "functions %r" % sorted(hists))
    for fn in ("work_a", "work_b", "work_c"):
        check_calls(hists.get(fn, report.EMPTY),
                    [r for r in recs if r.what == fn], fn)
    check("jump_out" not in hists and rep["unwound"] == 1,
          "jump_out: %r, unwound %d; expected no return and 1 unwound" % (
              hists.get("jump_out"), rep["unwound"]))
    work = [r for r in recs if r.what.startswith("work_")]
    below = (sum(r.span_ns for r in work) - sum(
        hists[f]["sum_ns"] for f in ("work_a", "work_b", "work_c"))) / len(
        work)
    return "work_a %d, work_b %d, work_c %d calls within bounds, %s per " \
        "call below the program's own spans; jump_out's longjmp unwound " \
        "1" % (tuple(hists[f]["count"] for f in ("work_a", "work_b",
                                                   "work_c")) +
               (report.fmt_ns(int(below)),))


@test("funclat/recursion")
def recursion():
    """recurse(5): six nested calls, each paired with its own return: the
    innermost sleeps, the outermost spans all, every one in [slept, the
    program's span of the outer call]."""
    tool.need(TOOL)
    (out,), recs = run([["-j", "-p", "PID", pairs.PATH + ":recurse"]])
    (rec,) = [r for r in recs if r.what == "recurse"]
    h = out.final_hist("function")["recurse"]
    check(h["count"] == 6, "recurse: %d calls, expected 6" % h["count"])
    check(rec.slept_ns <= h["min_ns"] and h["max_ns"] <= rec.span_ns,
          "recurse: [%d, %d] outside [%d, %d]" % (
              h["min_ns"], h["max_ns"], rec.slept_ns, rec.span_ns))
    return "6/6 nested calls in [%s, %s]" % (report.fmt_ns(h["min_ns"]),
                                             report.fmt_ns(h["max_ns"]))


@test("funclat/by-path")
def by_path():
    """Without -p the function is probed by path, in every process that
    maps the file (here only the test program), for both builds. A kernel
    without attach cookies cannot tell a position-independent program's
    functions apart that way: funclat must say so in one line."""
    tool.need(TOOL)
    tool.one_process_only(TOOL, [["-j", pairs.PATH + ":work_b"]])
    for what, path in pairs.BUILDS:
        (out,), recs = run([["-j", "PATH:work_b"]], path)
        check_calls(out.final_hist("function")["work_b"],
                    [r for r in recs if r.what == "work_b"],
                    "%s work_b" % what)
    return "%d work_b calls, PIE and non-PIE" % N


@test("funclat/cgroups")
def cgroups():
    """--per-cgroup: two copies of the program at once, each in a cgroup
    of its own, probed by path: each cgroup with its program's calls; -c
    with one of them: its calls only (non-PIE: by path on kernels without
    attach cookies too)."""
    tool.need(TOOL)
    fn = pairs.NOPIE + ":work_b"
    with workload.Cgroup("a") as ca, workload.Cgroup("b") as cb, \
            pairs.Pairs("funcs", N, MS, path=pairs.NOPIE) as a, \
            pairs.Pairs("funcs", N, MS, path=pairs.NOPIE) as b:
        ca.add(a.pid)
        cb.add(b.pid)
        results, recs = tool.traced(TOOL, [["-j", "--per-cgroup", fn],
                                           ["-j", "-c", ca.path, fn]],
                                    lambda: {ca.rel: a.go(), cb.rel: b.go()})
    per, only = [Output(r) for r in results]
    want = {cg: sum(r.what == "work_b" for r in rs)
            for cg, rs in recs.items()}
    got = {k: h["count"] for k, h in per.final_hist("cgroup").items()
           if k in want}
    check(got == want, "--per-cgroup: %s, the programs made %s" % (
        got, want))
    h = only.final_hist("function")["work_b"]
    check_calls(h, [r for r in recs[ca.rel] if r.what == "work_b"], "-c")
    return "--per-cgroup %s, -c %d" % (sorted(got.values()), h["count"])


# ---- bad input ----

BAD = {
    "syntax": (["nocolon"], 2, ["BINARY:FUNCTION"]),
    "missing": (["/nonexistent:foo"], 2, ["/nonexistent"]),
    "no-match": (lambda: [pairs.PATH + ":nomatch*"], 2, ["no function"]),
    "too-many": (["libc.so.6:*"], 2, ["at most 64"]),
    "not-elf": (["/etc/passwd:foo"], 1, ["not an ELF"]),
    "pid-not-mapping": (lambda: ["-p", os.getpid(), "pairs:work_a"], 2,
                        ["maps no pairs"]),
    "pid-not-mapping-path": (lambda: ["-p", os.getpid(), pairs.PATH +
                                      ":work_a"], 2, ["does not map"]),
    "attach-method": (lambda: ["--attach", "raw_tp", pairs.PATH +
                               ":work_a"], 2, ["--attach"]),
    "two-targets": (lambda: [pairs.PATH + ":work_a", pairs.PATH + ":b"], 2,
                    ["interval"]),
}
tool.register_bad(TOOL, BAD, lambda: [pairs.PATH + ":work_a"])
