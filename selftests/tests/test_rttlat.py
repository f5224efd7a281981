"""rttlat against the kernel's own per-socket account, read with ss(8)
inside a network namespace of the test's own (lib/netns.py,
lib/tcppeer.py "rtt"): a client and a server exchange one-byte requests
and responses (TCP_NODELAY) on one connection over the namespace's
loopback; after the last round trip the server sends one more segment,
which acknowledges nothing new, so the client's srtt cannot change when
it is processed; then `ss -ti` on the client's socket, before anything
else reaches it:

- count: tcp_probe fires once for each segment an established socket
  receives; ss's segs_in (tcpi_segs_in, counted where a segment is
  delivered to the socket, a layer below) counts those and the SYN-ACK,
  which arrives before the socket is established. So the client's
  samples (its remote endpoint with -R, its local one with -l) must be
  exactly segs_in - 1. Every segment is one byte or a pure ACK: no
  segmentation offload merges segments on loopback that segs_in would
  count apart.
- value: the last sample is the srtt after every RTT measurement (the
  tail segment adds none), which is ss's rtt (tcpi_rtt: srtt_us >> 3,
  printed in ms): a bucket with a sample must hold ss's value, and it
  must lie within [min, max].
"""
import contextlib
import random
import re

from lib import netns, peers, report, tool, workload
from lib.harness import check, test
from lib.report import slot_lo_of

TOOL = "rttlat"
METHODS = ("tp_btf", "raw_tp", "tracepoint")
ROUNDS = 40
HOST = {4: "127.0.0.1", 6: "::1"}
PEER = "/usr/sbin/tcprtt"        # libbpf-tools'


def by_endpoint(out, addr, port):
    rep = report.ToolOutput(out, TOOL).final_report()
    return {(h["key"][addr], h["key"][port]): h for h in rep["hists"]}


def check_vs_ss(h, info, what):
    rtt_ns = round(float(info["rtt_ms"]) * 1000) * 1000
    check(h["count"] == info["segs_in"] - 1, "%s: %d samples, ss says "
          "segs_in %d (one of them the SYN-ACK)" % (what, h["count"],
                                                    info["segs_in"]))
    check(h["min_ns"] <= rtt_ns <= h["max_ns"], "%s: ss's rtt %d ns "
          "outside [%d, %d]" % (what, rtt_ns, h["min_ns"], h["max_ns"]))
    check(any(slot_lo_of(b["le_ns"]) <= rtt_ns <= b["le_ns"]
              for b in h["buckets"]), "%s: no sample in the bucket of ss's "
          "rtt %d ns: %s" % (what, rtt_ns, h["buckets"]))


@test("rttlat/vs-ss")
def vs_ss():
    """IPv4 then IPv6, 40 round trips each; -R on tp_btf, raw_tp and
    classic tracepoints at once and -l: the client socket's samples are
    ss's segs_in less the SYN-ACK, exactly, and ss's final rtt is among
    them."""
    tool.need(TOOL)
    port = random.randrange(20000, 30000)
    infos = {}
    args = [["-j", "-R", "--attach", m] for m in METHODS] + [["-j", "-l"]]
    # the peers stay until the tools have stopped: closing sends
    # segments (a FIN to a socket still established is sampled)
    with netns.Netns("rtt") as ns, contextlib.ExitStack() as peers:
        tracers = tool.start_all(TOOL, args)
        try:
            for fam in (4, 6):
                p = peers.enter_context(ns.peer({
                    "mode": "rtt", "family": fam, "port": port,
                    "rounds": ROUNDS}))
                infos[fam] = p.go()
        except BaseException:
            for t in tracers:
                t.__exit__(None, None, None)
            raise
        results = tool.stop_all(tracers)
    shown = []
    for fam, info in infos.items():
        check("rtt_ms" in info and "segs_in" in info, "ss: %r" % info["ss"])
        check(info["segs_in"] > 2 * ROUNDS // 2, "ss: segs_in %d for %d "
              "round trips" % (info["segs_in"], ROUNDS))
        for m, r in zip(METHODS, results):
            hists = by_endpoint(r, "raddr", "rport")
            check_vs_ss(hists.get((HOST[fam], port), report.EMPTY), info,
                        "%s -R IPv%d" % (m, fam))
        hists = by_endpoint(results[-1], "laddr", "lport")
        check_vs_ss(hists.get((HOST[fam], info["cport"]), report.EMPTY),
                    info, "-l IPv%d" % fam)
        shown.append("IPv%d: %d samples, rtt %s ms" % (
            fam, info["segs_in"] - 1, info["rtt_ms"]))
    return "; ".join(shown) + " (tp_btf, raw_tp, tracepoint, -l)"


@test("rttlat/owners")
def owners():
    """-p, --comm and -c: two processes, each with a connection of its
    own (made before the tools start, so the sockets a process already
    holds must be found); the first one named apart and in a cgroup of
    the test's. Each filter counts its two sockets (client and server)
    and nothing of the second's, its client socket's samples exactly
    ss's segs_in less the SYN-ACK; beside them, unfiltered, the second's
    too."""
    tool.need(TOOL)
    pa, pb = random.sample(range(20000, 30000), 2)
    comm = workload.unique_comm("rtt")
    with netns.Netns("rttown") as ns, workload.Cgroup() as cg, \
            contextlib.ExitStack() as peers:
        a, b = (peers.enter_context(ns.peer(dict(
            mode="rtt", family=4, port=port, rounds=ROUNDS, early=True,
            **extra))) for port, extra in ((pa, {"comm": comm}), (pb, {})))
        cg.add(a.pid)
        filters = (["-p", a.pid], ["--comm", comm], ["-c", cg.path])
        results, (ia, ib) = tool.traced(
            TOOL, [["-j", "-R"] + f for f in filters] + [["-j", "-R"]],
            lambda: (a.go(), b.go()))
    want = {("127.0.0.1", pa), ("127.0.0.1", ia["cport"])}
    for f, r in zip(filters, results):
        mine = by_endpoint(r, "raddr", "rport")
        check(set(mine) == want, "%s: endpoints %s, expected %s (its "
              "client and server sockets)" % (f[0], sorted(mine),
                                               sorted(want)))
        check_vs_ss(mine[("127.0.0.1", pa)], ia, "%s, its client" % f[0])
    check_vs_ss(by_endpoint(results[-1], "raddr", "rport").get(
        ("127.0.0.1", pb), report.EMPTY), ib, "unfiltered, the other's")
    return "-p, --comm, -c: %d samples on its client socket (segs_in " \
        "%d), the other's %d only unfiltered" % (
            ia["segs_in"] - 1, ia["segs_in"], ib["segs_in"] - 1)


@test("rttlat/vs-libbpf-tools")
def vs_libbpf_tools():
    """libbpf-tools' tcprtt (fentry or a kprobe at the start of
    tcp_rcv_established: the same point as tcp_probe, the same srtt_us
    >> 3) beside ours, on the client socket of a 40 round-trip connection
    (the peer's -P: its remote port; ours -R): the same number of
    samples, ss's segs_in less the SYN-ACK, and the same average in
    microseconds (its -e). Where the peer cannot attach (no kprobes and
    fentry refused, as on this development host) ours alone against ss,
    and the peer's own words for why."""
    tool.need(TOOL)
    port = random.randrange(20000, 30000)
    with netns.Netns("rttpeer") as ns, ns.peer({
            "mode": "rtt", "family": 4, "port": port,
            "rounds": ROUNDS}) as client, \
            peers.Peer([PEER, "-P", str(port), "-e"],
                       may_fail=True) as theirs:
        (ours,), info = tool.traced(TOOL, [["-j", "-R"]], client.go)
        their_out = None if theirs.failed else theirs.stop()
    h = by_endpoint(ours, "raddr", "rport").get((HOST[4], port),
                                                report.EMPTY)
    check_vs_ss(h, info, "rttlat")
    if their_out is None:
        theirs.cannot_attach("ours: %d samples as ss counts" % h["count"])
    n = sum(peers.log2_slots(their_out).values())
    avg = re.search(rb"AVG\s*([\d.]+)", their_out)
    mine = h["sum_ns"] / 1000 / max(h["count"], 1)
    check(n == h["count"], "libbpf-tools tcprtt: %d samples, ours %d" % (
        n, h["count"]))
    check(avg and abs(float(avg.group(1)) - mine) <= 1, "libbpf-tools "
          "rttlat: average %s us, ours %.3f us" % (
              avg.group(1).decode() if avg else "missing", mine))
    return "%d samples from both, average %.3f us (ours), %s us " \
        "(libbpf-tools')" % (n, mine, avg.group(1).decode())


BAD = {
    "tid": (["-t", "1"], 2, ["-t"]),
    "pid-tracepoint": (["-p", "1", "--attach", "tracepoint"], 2,
                       ["tracepoint"]),
    "comm-tracepoint": (["--comm", "nginx", "--attach", "tracepoint"], 2,
                        ["tracepoint"]),
    "pids": (["-P"], 2, ["-- 'P'|-P"]),
    "remote-local": (["-R", "-l"], 2, ["-R"]),
    "attach-method": (["--attach", "kprobe"], 2, ["kprobe"]),
}
tool.register_bad(TOOL, BAD, lambda: ["1", "1"])
