"""Output formats and the lifecycle: JSON Lines against the documented
schema, the text report, -m, -T, and the final report on SIGINT/SIGTERM."""
import datetime
import re
import signal
import time

from lib import report, tool, workload
from lib.harness import test, check

SECOND = 1000000000


def only_tracing_line(r):
    check(len(r.err_lines) == 1 and tool.TRACING_RE.match(r.err_lines[0]),
          "%s: stderr is not just the Tracing line: %r" % (
              r.cmd(), r.err[:200]))


@test("output/json")
def json_lines():
    r = tool.run(["-j", "1", "2"])
    r.expect_rc(0)
    only_tracing_line(r)
    reps = report.parse_lines(r.out_bytes, r.cmd())
    check(len(reps) == 2, "%d lines, expected 2" % len(reps))
    for rep in reps:
        report.check_report(rep, interval_ns=SECOND)
        report.only_hist(rep)
    h = reps[-1]["hists"][0] if reps[-1]["hists"] else report.EMPTY
    return "2 reports, interval %.3fs, %d waits, %d buckets" % (
        reps[-1]["interval_ns"] / 1e9, h["count"], len(h.get("buckets", [])))


def text_report(args):
    r = tool.run(args)
    r.expect_rc(0)
    only_tracing_line(r)
    t = report.parse_text(r.out)
    check(t["count"] is not None, "no summary line in %r" % r.out[-300:])
    check(t["count"] > 0, "no waits system-wide in a second")
    check(t["rows"], "no histogram rows")
    check(sum(n for _, _, n in t["rows"]) == t["count"],
          "histogram rows add up to %d, summary count is %d" % (
              sum(n for _, _, n in t["rows"]), t["count"]))
    for (lo, hi, _), (lo2, _, _) in zip(t["rows"], t["rows"][1:]):
        check(lo2 == hi + 1, "rows not contiguous: %d -> %d then %d" % (
            lo, hi, lo2))
    return t


@test("output/text")
def text():
    t = text_report(["1", "1"])
    check(t["unit"] == "usecs", "header unit %r, expected usecs" % t["unit"])
    check(not t["other"], "unexpected lines: %r" % t["other"][:3])
    return "%d rows, count %d, p99 %s" % (len(t["rows"]), t["count"],
                                          t["summary"][5])


@test("output/text-ms")
def text_ms():
    t = text_report(["-m", "1", "1"])
    check(t["unit"] == "msecs", "header unit %r, expected msecs" % t["unit"])
    check(not t["other"], "unexpected lines: %r" % t["other"][:3])
    return "%d rows" % len(t["rows"])


@test("output/text-timestamp")
def text_timestamp():
    before = datetime.datetime.now()
    t = text_report(["-T", "1", "1"])
    after = datetime.datetime.now()
    check(len(t["other"]) == 1 and re.match(r"^\d\d:\d\d:\d\d$",
                                            t["other"][0]),
          "expected one HH:MM:SS line, got %r" % t["other"])
    stamp = t["other"][0]
    ok = any(d.strftime("%H:%M:%S") == stamp for d in (
        before + datetime.timedelta(seconds=s)
        for s in range(int((after - before).total_seconds()) + 2)))
    check(ok, "timestamp %s is not the local time of the report" % stamp)
    return stamp


def final_on_signal(sig, json_out):
    args = ["-j"] if json_out else []
    with tool.Tracer(args) as tr:
        time.sleep(0.5)
        r = tr.stop(sig)
    r.expect_rc(0)
    if json_out:
        h = report.only_hist(report.final_report(r))
        return "exit 0, one JSON report of %d waits" % h["count"]
    t = report.parse_text(r.out)
    check(t["count"] is not None and t["unit"] == "usecs",
          "no final text report: %r" % r.out[-200:])
    return "exit 0, report of %d waits" % t["count"]


test("output/sigint-text")(lambda: final_on_signal(signal.SIGINT, False))
test("output/sigterm-text")(lambda: final_on_signal(signal.SIGTERM, False))
test("output/sigint-json")(lambda: final_on_signal(signal.SIGINT, True))
test("output/sigterm-json")(lambda: final_on_signal(signal.SIGTERM, True))


@test("output/json-odd-comm")
def json_odd_comm():
    """A command name is any bytes: quotes, backslashes, control characters
    and invalid UTF-8 must still give valid JSON, with U+FFFD for every
    byte that is not part of a valid UTF-8 sequence."""
    comm = b'hl\xed\xa0\x80"\\\x01\xff' + b"%d" % (time.time_ns() % 1000)
    want = 'hl\ufffd\ufffd\ufffd"\\\x01\ufffd' + comm[9:].decode()
    # A busy CPU: a wait on an idle one can escape the tracepoint (see
    # accuracy/control), and this compares with the kernel exactly.
    with workload.Scenario(hogs=1) as sc:
        v = sc.victim(comm, duration=0.2)
        sc.tracer(["--run-delay", "-j", "-P", "-p", v.pid])
        kernel = workload.total(sc.window([v])[v])
        r, = sc.stop_tracers()
    hists = report.by_key(report.final_report(r), "pid")
    check(list(hists) == [v.pid], "pids %s, expected [%d]" % (
        list(hists), v.pid))
    h = hists[v.pid]
    check(h["key"]["comm"] == want, "comm %r, expected %r" % (
        h["key"]["comm"], want))
    return report.compare(h, kernel)
