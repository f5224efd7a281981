#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""
bench/irqlat.py: what irqlat's programs cost an interrupt, next to the
floor and to libbpf-tools' hardirqs and softirqs.

With kernel.bpf_stats_enabled=1 the kernel times every run of every
program, so the cost per interrupt is the run time of all a
configuration's programs over the runs of its exit program (one per
handler run, whichever interrupt: every interrupt of the machine counts,
not only the workload's), rounds interleaved, configurations rotated:
  hard IRQs, N O_DIRECT 4 KiB reads of a file under / (one device
  interrupt each):
    floor          empty tp_btf programs on irq_handler_entry and exit
                   (bench/floor.bpf.c): the price of the hooks
    clock reads    programs that read the clock at both ends and keep
                   it in a per-CPU array: what any latency tool pays
    irqlat         bin/irqlat -j (one histogram per IRQ and handler)
    irqlat -C      per CPU as well
    hardirqs       /usr/sbin/hardirqs (time per handler name, the peer)
  softirqs, N UDP datagrams over loopback (one NET_RX run each):
    floor          empty tp_btf programs on softirq_entry and exit
    clock reads    as above, on softirq_entry and exit
    irqlat -S      bin/irqlat -S -j (one histogram per vector)
    irqlat -S -w   and the wait from softirq_raise: one more hook
    softirqs       /usr/sbin/softirqs (time per vector, the peer)
Figures: median ns of program time per interrupt, and net of the floor;
the ratios irqlat / hardirqs and irqlat -S / softirqs (goal: at most
0.5). irqlat's count of the workload's IRQ (or NET_RX) must reach N.
Puts a "## irqlat" section in docs/benchmarks.md. Needs root. Run by
`make bench`.
"""
import json
import mmap
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import schedlat as sl   # noqa: E402
from schedlat import BenchError, med   # noqa: E402

SECTION = "## irqlat"
IRQLAT = os.path.join(sl.ROOT, "bin", "irqlat")
HARDIRQS = "/usr/sbin/hardirqs"
SOFTIRQS = "/usr/sbin/softirqs"
GOAL = 0.5


def reads(n):
    """n O_DIRECT reads of 4 KiB, far apart, from a file under /."""
    buf = mmap.mmap(-1, 4096)
    fd = os.open(os.path.realpath("/proc/self/exe"),
                 os.O_RDONLY | os.O_DIRECT)
    try:
        span = max(os.lseek(fd, 0, os.SEEK_END) // 4096, 1)
        for i in range(n):
            os.preadv(fd, [buf], (i * 7919 % span) * 4096)
    finally:
        os.close(fd)


def datagrams(n):
    """n UDP datagrams to ourselves over loopback, one at a time."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5)
        for _ in range(n):
            tx.sendto(b"x", rx.getsockname())
            rx.recv(16)
    finally:
        rx.close()
        tx.close()


def configs():
    """(name, argv, ready text, work, irqlat's JSON key that the work
    must fill, or None)."""
    hard = ("irq", None)
    soft = ("vector", "net_rx")
    return [
        ("floor", [sl.FLOOR_BIN, sl.FLOOR_OBJ, "floor_irq_entry",
                   "floor_irq_exit"], "ready", reads, None),
        ("clock reads", [sl.FLOOR_BIN, sl.FLOOR_OBJ, "clock_irq_entry",
                         "clock_irq_exit"], "ready", reads, None),
        ("irqlat", [IRQLAT, "-j"], "Tracing", reads, hard),
        ("irqlat -C", [IRQLAT, "-j", "-C"], "Tracing", reads, hard),
        ("hardirqs", ["stdbuf", "-oL", HARDIRQS], "Tracing", reads, None),
        ("floor (softirqs)", [sl.FLOOR_BIN, sl.FLOOR_OBJ,
                              "floor_soft_entry", "floor_soft_exit"],
         "ready", datagrams, None),
        ("clock reads (softirqs)", [sl.FLOOR_BIN, sl.FLOOR_OBJ,
                                    "clock_soft_entry", "clock_soft_exit"],
         "ready", datagrams, None),
        ("irqlat -S", [IRQLAT, "-j", "-S"], "Tracing", datagrams, soft),
        ("irqlat -S -w", [IRQLAT, "-j", "-S", "-w"], "Tracing", datagrams,
         soft),
        ("softirqs", ["stdbuf", "-oL", SOFTIRQS], "Tracing", datagrams,
         None),
    ]


def start(argv, ready):
    return sl.start_ready(argv, ready, IRQLAT)


# Program names of each configuration: others may load programs meanwhile.
NAMES = ("floor_irq_", "floor_soft_", "clock_irq_", "clock_soft_", "hard_",
         "soft_", "raise_", "irq_handler_", "softirq_")


def busiest(out, field, want):
    """The largest count of a histogram whose key[field] is want (any
    value for None) in irqlat's last report."""
    reps = [json.loads(line) for line in out.splitlines()
            if line.startswith("{")]
    if not reps:
        raise BenchError("irqlat printed no report")
    return max([h["count"] for h in reps[-1]["hists"]
                if want is None or h["key"].get(field) == want] + [0])


def one(cfg, n):
    name, argv, ready, work, key = cfg
    def warm():
        # the first interrupts of each key allocate its map entries: a
        # cost at start, not per interrupt
        p = start(argv, ready)
        work(n // 5)
        return p

    ns, runs, out = sl.programs_timed(
        warm, NAMES, lambda prog: "exit" in prog, lambda: work(n))
    # a device may complete two reads with one interrupt now and then
    if runs < n * 9 // 10:
        raise BenchError("%s: %d handler runs seen for %d interrupts" % (
            name, runs, n))
    if key and busiest(out, *key) < (n + n // 5) * 9 // 10:
        raise BenchError("%s counted %d of %d interrupts" % (
            name, busiest(out, *key), n + n // 5))
    return ns / runs


def out_of_reach(m):
    """A sentence where half a peer's cost net of the floor is less than
    the clock reads alone: no latency tool can meet the goal there."""
    said = []
    for peer, clock, floor in (
            ("hardirqs", "clock reads", "floor"),
            ("softirqs", "clock reads (softirqs)", "floor (softirqs)")):
        if GOAL * (m[peer] - m[floor]) < m[clock] - m[floor]:
            said.append(" Against %s the goal is out of reach for any tool "
                        "that reads the clock at both ends: %.0f%% of its "
                        "cost is %.0f ns, the two clock reads alone %.0f "
                        "ns." % (peer, GOAL * 100, GOAL * (m[peer] - m[floor]),
                                 m[clock] - m[floor]))
    return "".join(said)


def main():
    args = sl.loop_args(__doc__, 5000, "interrupts", "bench/irqlat.py")
    for path in (IRQLAT, HARDIRQS, SOFTIRQS):
        if not os.access(path, os.X_OK):
            raise BenchError("%s missing (make; apt install libbpf-tools)"
                             % path)
    sl.build_floor()
    cf = configs()
    res = sl.stats_rounds(cf, lambda c: one(c, args.n), args.rounds)
    m = {name: med(v) for name, v in res.items()}

    def floor_of(name):
        return m["floor (softirqs)" if "-S" in name or "softirqs" in name
                 else "floor"]

    rows = ["| %s | %.0f ns (%.0f–%.0f) | %s |" % (
        name, m[name], min(res[name]), max(res[name]),
        "—" if name.startswith("floor") else "%.0f ns" % (
            m[name] - floor_of(name))) for name, *_ in cf]
    hard = (m["irqlat"] - m["floor"]) / (m["hardirqs"] - m["floor"])
    soft = (m["irqlat -S"] - m["floor (softirqs)"]) / (
        m["softirqs"] - m["floor (softirqs)"])
    text = sl.goal_section(
        SECTION,
        "What irqlat's programs cost an interrupt: the kernel's own timing "
        "of every program run (`kernel.bpf_stats_enabled=1`), summed over "
        "a configuration's programs and divided by the runs of its exit "
        "program (every handler run of the machine), after a warm-up of "
        "a fifth as many interrupts. Hard IRQs: O_DIRECT "
        "4 KiB reads of a file under / (a device interrupt each); "
        "softirqs: UDP datagrams over loopback (a NET_RX run each). "
        "Produced by `/usr/bin/python3 bench/irqlat.py` (run as root) on "
        "%%s: %d rounds of %d interrupts, configurations rotated; "
        "irqlat's count of the reads' IRQ or of NET_RX reached nine in ten of "
        "them each time (a device may now and then complete two reads "
        "with one interrupt)." % (args.rounds, args.n),
        ("configuration", "program time per interrupt (median, range)",
         "net of the floor"), rows,
        "*floor*: empty tp_btf programs on `irq_handler_entry` and "
        "`irq_handler_exit`, or on `softirq_entry` and `softirq_exit` "
        "(`bench/floor.bpf.c`); what the kernel's statistics add to each "
        "run (two clock reads) is in it too. *hardirqs*, *softirqs*: "
        "libbpf-tools' (total time per handler name or vector), the peers. "
        "irqlat -S -w runs a third program on every softirq_raise, "
        "counted here against the softirq runs. *clock reads*: the part "
        "every latency tool pays, a clock read at each end (with the "
        "statistics on, each read costs some 60 ns here). Where the cost "
        "goes: irqlat's entry programs store a timestamp in a per-CPU "
        "array entry, as the peers' do; its exit programs add the sample "
        "to a histogram: with -S a vector's (an array entry, as softirqs "
        "adds to its counts), for hard IRQs an IRQ and handler's (a "
        "per-CPU hash of cells, progs/lib/hist.bpf.h), where hardirqs "
        "copies the handler's name at every exit and looks it up in a "
        "hash. Net of the clock reads, irqlat -S costs %.0f ns to "
        "softirqs' %.0f ns and irqlat %.0f ns to hardirqs' %.0f ns.%s" % (
            m["irqlat -S"] - m["clock reads (softirqs)"],
            m["softirqs"] - m["clock reads (softirqs)"],
            m["irqlat"] - m["clock reads"],
            m["hardirqs"] - m["clock reads"], out_of_reach(m)),
        ("irqlat (hard IRQs) net of the floor, against hardirqs'", GOAL,
         hard))
    text += "Goal: irqlat -S net of the floor, against softirqs' ≤ " \
        "%.1f×: **%s** (%.2f×).\n" % (
            GOAL, "PASS" if soft <= GOAL else "MISS", soft)
    sl.publish(SECTION, text, args.no_doc)
    return 0


if __name__ == "__main__":
    sl.run_main(main, "bench/irqlat.py")
