"""connlat against connects that time themselves (lib/tcppeer.py),
only inside a network namespace of the test's own (lib/netns.py):

- each connect is timed by the client with CLOCK_MONOTONIC around its
  connect() call, so the tool's time of it, from SYN_SENT to ESTABLISHED
  or CLOSE, lies inside that span: the tool's count of a remote endpoint
  must equal the client's, its max at most the client's longest span, its
  sum at most the sum of the spans;
- a connect to a port where nothing listens is refused by a reset, always:
  every one must be counted as failed, none as ok;
- a listener (backlog 0) whose accept queue is full drops a SYN; the
  client sends it again after the initial retransmission timeout, 1 s
  (TCP_TIMEOUT_INIT), by then there is room: such a connect lasts at
  least 1 s (less one timer tick: 10 ms allowed) and at most its span,
  which is how the kernel itself, not the tool, makes a known latency;
  and a connect whose SYNs are all dropped, with TCP_SYNCNT 1, fails with
  ETIMEDOUT after 1 + 2 s: a failed connect of at least 3 s.
"""
import random

from lib import netns, peers, report, tool
from lib.harness import check, test

TOOL = "connlat"
METHODS = ("tp_btf", "raw_tp", "tracepoint")
PEER = "/usr/sbin/tcpconnlat"     # libbpf-tools'
TICK_NS = 10 * 10 ** 6      # a timer may fire one jiffy early (HZ >= 100)


def ports(n):
    base = random.randrange(20000, 30000, 10)
    return list(range(base, base + n))


def hists_by(out):
    """{(raddr, rport, result) or (result,) + owner: histogram}."""
    res = {}
    for h in out.final_report()["hists"]:
        k = h["key"]
        if "raddr" in k:
            res[(k["raddr"], k["rport"], k["result"])] = h
        else:
            res[(k["result"], k.get("pid"))] = h
    return res


def check_within(h, spans, what):
    check(h["count"] == len(spans), "%s: %d connects, the client made %d"
          % (what, h["count"], len(spans)))
    check(0 < h["min_ns"] and h["max_ns"] <= max(spans) and
          h["sum_ns"] <= sum(spans), "%s: min %d, max %d, sum %d outside "
          "the client's spans (max %d, sum %d)" % (
              what, h["min_ns"], h["max_ns"], h["sum_ns"], max(spans),
              sum(spans)))


def check_event(e):
    for f in ("pid", "tid", "duration_ns", "rport"):
        check(isinstance(e.get(f), int), "event field %s: %r" % (f, e))
    check(e.get("result") in ("ok", "failed") and
          isinstance(e.get("raddr"), str) and
          isinstance(e.get("comm"), str), "event fields: %r" % e)
    return e


@test("connlat/endpoints")
def endpoints():
    """-R -p on tp_btf, raw_tp and classic tracepoints at once: 12
    connects to 127.0.0.1 and 8 to ::1 that a listener accepts, 6 and 4
    refused (nothing listens); each remote address and port, ok or
    failed, exactly the client's count and within its spans, and no other
    key."""
    tool.need(TOOL)
    p = ports(4)
    steps = [{"family": 4, "port": p[0], "n": 12},
             {"family": 6, "port": p[1], "n": 8},
             {"family": 4, "port": p[2], "n": 6, "refused": True},
             {"family": 6, "port": p[3], "n": 4, "refused": True}]
    want = {("127.0.0.1", p[0], "ok"): 0, ("::1", p[1], "ok"): 1,
            ("127.0.0.1", p[2], "failed"): 2, ("::1", p[3], "failed"): 3}
    with netns.Netns("conn") as ns, ns.peer({"mode": "connects",
                                             "steps": steps}) as peer:
        results, res = tool.traced(TOOL, [
            ["-j", "-R", "-p", peer.pid, "--attach", m] for m in METHODS],
            peer.go)
    for i, st in enumerate(res["steps"]):
        oks = [r["ok"] for r in st]
        check(all(oks) if not steps[i].get("refused") else not any(oks),
              "the client's connects to port %d: %s" % (steps[i]["port"],
                                                         oks))
    for m, r in zip(METHODS, results):
        hists = hists_by(report.ToolOutput(r, TOOL))
        check(set(hists) == set(want), "%s: keys %s, expected %s" % (
            m, sorted(hists), sorted(want)))
        for key, i in want.items():
            check_within(hists[key], [c["span_ns"] for c in
                                      res["steps"][i]], "%s %s" % (m, key))
    return "%s: 12 + 8 ok, 6 + 4 refused, per address and port, in the " \
        "client's spans" % ", ".join(METHODS)


@test("connlat/pid-filter")
def pid_filter():
    """Two clients, 7 and 5 connects: -p the first counts its 7 and
    nothing of the other's; -P (no filter) counts 7 and 5 under each
    pid (other processes of the machine may connect too: their keys are
    others)."""
    tool.need(TOOL)
    p = ports(2)
    with netns.Netns("pid") as ns, \
            ns.peer({"mode": "connects", "steps": [
                {"family": 4, "port": p[0], "n": 7}]}) as a, \
            ns.peer({"mode": "connects", "steps": [
                {"family": 6, "port": p[1], "n": 5}]}) as b:
        (one, per), (ra, rb) = tool.traced(
            TOOL, [["-j", "-p", a.pid], ["-j", "-P"]],
            lambda: (a.go(), b.go()))
    h1 = hists_by(report.ToolOutput(one, TOOL))
    check(set(h1) == {("ok", None)}, "-p: keys %s" % sorted(h1))
    check_within(h1[("ok", None)], [c["span_ns"] for c in
                                    ra["steps"][0]], "-p %d" % a.pid)
    hp = hists_by(report.ToolOutput(per, TOOL))
    for pid, res in ((a.pid, ra), (b.pid, rb)):
        check_within(hp.get(("ok", pid), report.EMPTY),
                     [c["span_ns"] for c in res["steps"][0]],
                     "-P pid %d" % pid)
        check(("failed", pid) not in hp, "-P: failed connects of %d" % pid)
    return "-p: 7 of 7, none of the other's; -P: 7 and 5"


@test("connlat/syn-retransmit")
def syn_retransmit():
    """A listener whose accept queue is full drops the SYNs of 3
    connects; each is let in 0.3 s later and gets through with the SYN
    sent again after the initial RTO: 1 s to the client's span each.
    Then one connect with TCP_SYNCNT 1 that no one lets in times out
    (ETIMEDOUT) after 1 + 2 s: a failed one of 3 s to its span. -M 500
    prints exactly those 4 as events, the quick first connect not."""
    tool.need(TOOL)
    port = ports(1)[0]
    with netns.Netns("syn") as ns, ns.peer({"mode": "backlog", "family": 4,
                                            "port": port, "slow": 3,
                                            "timeouts": 1}) as peer:
        (hist, ev), res = tool.traced(TOOL, [
            ["-j", "-R", "-p", peer.pid],
            ["-j", "-M", "500", "-p", peer.pid]], peer.go)
    conns = res["connects"]
    check([c["ok"] for c in conns] == [True] * 4 + [False],
          "client: %s" % conns)
    spans = [c["span_ns"] for c in conns]
    least = [0] + [10 ** 9 - TICK_NS] * 3 + [3 * 10 ** 9 - TICK_NS]
    h = hists_by(report.ToolOutput(hist, TOOL))
    ok, failed = ("127.0.0.1", port, "ok"), ("127.0.0.1", port, "failed")
    check(set(h) == {ok, failed}, "keys %s" % sorted(h))
    check_within(h[ok], spans[:4], "ok")
    check_within(h[failed], spans[4:], "timed out")
    check(h[failed]["min_ns"] >= least[4], "timed out after %d ns, not "
          "3 s" % h[failed]["min_ns"])
    # the three slow ones: at least 1 s each
    slow_in = sum(b["count"] for b in h[ok]["buckets"]
                  if b["le_ns"] >= least[1])
    check(slow_in == 3, "%d samples of 1 s and more, expected 3: %s" % (
        slow_in, h[ok]["buckets"]))
    evs = report.ToolOutput(ev, TOOL, check_event=check_event).events
    check(len(evs) == 4, "-M 500: %d events, expected 4" % len(evs))
    for e, span, lo, c in zip(evs, spans[1:], least[1:], conns[1:]):
        check(lo <= e["duration_ns"] <= span and e["pid"] == peer.pid and
              e["raddr"] == "127.0.0.1" and e["rport"] == port and
              e["result"] == ("ok" if c["ok"] else "failed"),
              "event %r, the client's span %d" % (e, span))
    return "3 connects of %s ms (client: %s ms); one timed out after " \
        "%.0f ms (client: %.0f ms); -M 500: 4 events" % (
            "/".join("%.0f" % (e["duration_ns"] / 1e6) for e in evs[:3]),
            "/".join("%.0f" % (s / 1e6) for s in spans[1:4]),
            evs[3]["duration_ns"] / 1e6, spans[4] / 1e6)


@test("connlat/export")
def export():
    """-R --textfile (OpenMetrics export from the shared code): promtool
    accepts it, and each remote endpoint's _count, labelled raddr, rport
    and result, is the client's count: 5 ok to 127.0.0.1, 3 refused from
    ::1."""
    from lib import prom
    tool.need(TOOL)
    p = ports(2)
    steps = [{"family": 4, "port": p[0], "n": 5},
             {"family": 6, "port": p[1], "n": 3, "refused": True}]
    with prom.textfile("connlat-") as path:
        with netns.Netns("prom") as ns, ns.peer({"mode": "connects",
                                                 "steps": steps}) as peer:
            tool.traced(TOOL, [["-R", "-p", peer.pid, "--textfile", path]],
                        peer.go)
        ex = prom.checked(open(path).read())
    fam = "howlong_connlat_seconds_count"
    ok = ex.value(fam, raddr="127.0.0.1", rport=p[0], result="ok")
    failed = ex.value(fam, raddr="::1", rport=p[1], result="failed")
    check(ok == 5 and failed == 3, "textfile: %s ok, %s failed, expected "
          "5 and 3" % (ok, failed))
    check(len(ex.series(fam)) == 2, "textfile: series %s" % ex.series(fam))
    return "promtool ok; 5 ok and 3 failed under raddr, rport, result"


def peer_lines(out, ports):
    """{port: [LAT(ms) as ns]} of the peer's event lines: PID COMM IP
    SADDR DADDR DPORT LAT(ms)."""
    lat = {p: [] for p in ports}
    for line in out.decode(errors="replace").splitlines():
        w = line.split()
        if len(w) == 7 and w[5].isdigit() and int(w[5]) in lat:
            lat[int(w[5])].append(round(float(w[6]) * 10 ** 6))
    return lat


@test("connlat/vs-libbpf-tools")
def vs_libbpf_tools():
    """libbpf-tools' tcpconnlat (kprobes or fentry on tcp_v4_connect,
    tcp_v6_connect and tcp_rcv_state_process) beside ours (-M 0), both
    -p the client: 10 connects to 127.0.0.1 and 6 to ::1, one event each
    from both, in the client's order, each within the client's span (the
    peer's from the call of tcp_v4_connect to the start of the SYN-ACK's
    processing, ours from SYN_SENT to ESTABLISHED: a few microseconds
    apart, both inside connect()). Where the peer cannot attach (no
    kprobes and fentry refused, as on this development host) ours alone
    against the client, and the peer's own words for why."""
    tool.need(TOOL)
    p = ports(2)
    steps = [{"family": 4, "port": p[0], "n": 10},
             {"family": 6, "port": p[1], "n": 6}]
    with netns.Netns("peer") as ns, ns.peer({"mode": "connects",
                                             "steps": steps}) as client, \
            peers.Peer([PEER, "-p", str(client.pid)], ready=b"PID",
                       may_fail=True) as theirs:
        (ours,), res = tool.traced(TOOL, [["-j", "-M", "0", "-p",
                                           client.pid]], client.go)
        their_out = None if theirs.failed else theirs.stop()
    spans = {st["port"]: [c["span_ns"] for c in r]
             for st, r in zip(steps, res["steps"])}
    evs = report.ToolOutput(ours, TOOL, check_event=check_event).events
    mine = {port: [e["duration_ns"] for e in evs if e["rport"] == port]
            for port in spans}
    for who, lat in (("connlat", mine),) + (
            (("libbpf-tools", peer_lines(their_out, spans)),)
            if their_out is not None else ()):
        for port, span in spans.items():
            check(len(lat[port]) == len(span), "%s: %d connects to port "
                  "%d, the client made %d" % (who, len(lat[port]), port,
                                              len(span)))
            # the peer prints milliseconds with two decimals
            slack = 0 if who == "connlat" else 5000
            bad = [(x, s) for x, s in zip(lat[port], span)
                   if not 0 < x <= s + slack]
            check(not bad, "%s: connects to %d outside the client's spans "
                  "(ns, span): %s" % (who, port, bad[:3]))
    if their_out is None:
        theirs.cannot_attach("ours: 10 + 6 connects in the client's spans")
    return "10 + 6 connects from both, each in the client's span; sums " \
        "%.0f us (ours) and %.0f us (libbpf-tools')" % (
            sum(sum(v) for v in mine.values()) / 1000,
            sum(sum(v) for v in peer_lines(their_out, spans).values())
            / 1000)


BAD = {
    "remote-pids": (["-R", "-P"], 2, ["-R"]),
    "threshold-remote": (["-M", "5", "-R"], 2, ["-M"]),
    "threshold": (["-M", "fast"], 2, ["fast"]),
    "accept": (["--accept"], 2, ["accept"]),
    "attach-method": (["--attach", "kprobe"], 2, ["kprobe"]),
}
tool.register_bad(TOOL, BAD, lambda: ["1", "1"])
