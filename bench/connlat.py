#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""
bench/connlat.py: what connlat's program costs a TCP connect and
rttlat's a received segment, next to the floor.

With kernel.bpf_stats_enabled=1 the kernel times every run of every
program. The work runs in a network namespace of the bench's own (its
loopback only), configurations rotated, rounds interleaved:
  connects, N connect() calls to a listener that accepts them, each
  closed at once with a reset (SO_LINGER 0: no TIME_WAIT piles up); all
  the state changes of both sockets run the programs:
    floor            an empty tp_btf program on inet_sock_set_state
                     (bench/floor.bpf.c): the price of the hook
    connlat       bin/connlat -j
    connlat -R    per remote address and port
  segments, N/2 one-byte request/response round trips on one connection
  (TCP_NODELAY); the cost per run of the tcp_probe program (one per
  segment received in ESTABLISHED):
    floor            an empty tp_btf program on tcp_probe
    rttlat           bin/rttlat -j
    rttlat -R        per remote address and port
Figures: median ns of program time per connect (all its programs' runs
summed) and per segment, net of the floor, and the ratio to the floor.
libbpf-tools' tcpconnlat and tcprtt need kprobes or fentry, which this
kernel lacks: no peer column. Puts a "## connlat, rttlat" section in
docs/benchmarks.md. Needs root. Run by `make bench`.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import schedlat as sl   # noqa: E402
from schedlat import BenchError, med   # noqa: E402

SECTION = "## connlat, rttlat"
CONNLAT = os.path.join(sl.ROOT, "bin", "connlat")
RTTLAT = os.path.join(sl.ROOT, "bin", "rttlat")
STATS = "/proc/sys/kernel/bpf_stats_enabled"
NETNS = "hlbench-tcp-%d" % os.getpid()
PORT = 24680

WORK = r"""
import socket, struct, sys, threading
mode, n, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(128)
if mode == "connects":
    def serve():
        while True:
            a, _ = s.accept()
            a.close()
    threading.Thread(target=serve, daemon=True).start()
    for _ in range(n):
        c = socket.create_connection(("127.0.0.1", port))
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
        c.close()
else:
    c = socket.create_connection(("127.0.0.1", port))
    a, _ = s.accept()
    for x in (a, c):
        x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for _ in range(n // 2):
        c.sendall(b"q"); a.recv(1); a.sendall(b"r"); c.recv(1)
"""


def work(mode, n, port):
    subprocess.run(["ip", "netns", "exec", NETNS, sys.executable, "-c",
                    WORK, mode, str(n), str(port)], check=True,
                   stdin=subprocess.DEVNULL)


def configs():
    """(name, argv, ready text, mode, program name prefixes, tool's JSON
    to check)."""
    return [
        ("floor", [sl.FLOOR_BIN, sl.FLOOR_OBJ, "floor_sock_state"], "ready",
         "connects", ("floor_sock_",), False),
        ("connlat", [CONNLAT, "-j"], "Tracing", "connects",
         ("state_",), True),
        ("connlat -R", [CONNLAT, "-j", "-R"], "Tracing", "connects",
         ("state_",), True),
        ("floor (segments)", [sl.FLOOR_BIN, sl.FLOOR_OBJ, "floor_tcp_probe"],
         "ready", "rtt", ("floor_tcp_",), False),
        ("rttlat", [RTTLAT, "-j"], "Tracing", "rtt", ("probe_",), True),
        ("rttlat -R", [RTTLAT, "-j", "-R"], "Tracing", "rtt", ("probe_",),
         True),
    ]


def counted(out, what):
    return sum(h["count"] for h in sl.last_report(out, what)
               if h["key"].get("result", "ok") == "ok")


def one(cfg, n, port):
    name, argv, ready, mode, names, check = cfg

    def warm():
        # the first samples of a key make its map entries: paid once
        # per remote endpoint (and histogram slot), not per connect
        p = sl.start_ready(argv, ready, argv[0] != sl.FLOOR_BIN)
        work(mode, n // 10, port)
        return p

    ns, runs, out = sl.programs_timed(
        warm, names, lambda prog: True, lambda: work(mode, n, port))
    want = n if mode == "connects" else n // 2
    if check and counted(out, name) < want:
        raise BenchError("%s counted %d for %d" % (name, counted(out, name),
                                                   want))
    if mode == "connects":
        return ns / n
    if runs < n // 2:
        raise BenchError("%s: %d tcp_probe runs for %d segments" % (
            name, runs, n))
    return ns / runs


def main():
    args = sl.loop_args(__doc__, 4000, "connects (and segments)",
                        "bench/connlat.py")
    for path in (CONNLAT, RTTLAT):
        if not os.access(path, os.X_OK):
            raise BenchError("%s missing (make)" % path)
    sl.build_floor()
    old = open(STATS).read().strip()
    cf = configs()
    subprocess.run(["ip", "netns", "add", NETNS], check=True)
    try:
        subprocess.run(["ip", "-n", NETNS, "link", "set", "lo", "up"],
                       check=True)
        with open(STATS, "w") as f:
            f.write("1")
        res = sl.rotated_rounds(cf, lambda c: one(c, args.n, PORT),
                                args.rounds)
    finally:
        with open(STATS, "w") as f:
            f.write(old)
        subprocess.run(["ip", "netns", "del", NETNS])
    res = {c[0]: v for c, v in zip(cf, res)}
    m = {name: med(v) for name, v in res.items()}
    rows, floor = [], None
    for name, *_ in cf:
        # the floor of each tool's hook is the row before it named so
        floor = name if name.startswith("floor") else floor
        net = m[name] - m[floor]
        rows.append("| %s | %.0f ns (%.0f–%.0f) | %s |" % (
            name, m[name], min(res[name]), max(res[name]),
            "—" if name == floor else "%.0f ns (%.1f× the floor)" % (
                net, m[name] / m[floor])))
    text = "\n".join([
        SECTION, "",
        "What connlat's program costs a TCP connect and rttlat's a "
        "received segment: the kernel's own timing of every program run "
        "(`kernel.bpf_stats_enabled=1`), after a warm-up of a tenth as "
        "much work. Connects: connect() to a listener over loopback in a "
        "network namespace of the bench's own, closed at once with a "
        "reset; every state change of both sockets runs the program, "
        "summed per connect. Segments: one-byte request/response round "
        "trips on one connection, per run of the tcp_probe program. "
        "Produced by `/usr/bin/python3 bench/connlat.py` (run as root) "
        "on %s: %d rounds of %d connects and %d round trips, "
        "configurations rotated; each tool's count reached the work's."
        % (sl.datetime.datetime.now().astimezone().strftime(
            "%Y-%m-%d %H:%M %Z"), args.rounds, args.n, args.n // 2), "",
        "| configuration | program time per connect or segment (median, "
        "range) | net of the floor |",
        "|---|---|---|"] + rows + ["",
        "*floor*: an empty tp_btf program on `inet_sock_set_state` or "
        "`tcp_probe` (`bench/floor.bpf.c`), with what the statistics add "
        "to each run (two clock reads). libbpf-tools' tcpconnlat and "
        "tcprtt need kprobes or fentry, which this kernel lacks: no peer "
        "to compare costs with here (under qemu, where they attach, a "
        "cost would be the emulator's); their numbers are compared with "
        "ours there by the selftests (next section). A connect over "
        "loopback takes some "
        "20–50 us; a segment some microseconds.", ""])
    sl.publish(SECTION, text, args.no_doc)
    return 0


if __name__ == "__main__":
    sl.run_main(main, "bench/connlat.py")
