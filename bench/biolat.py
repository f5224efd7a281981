#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""
bench/biolat.py: what biolat's programs cost a block I/O request, next
to the floor and to libbpf-tools' biolatency.

A loop device over a file in /var/tmp takes N O_DIRECT 4 KiB reads per
configuration, rounds interleaved; with kernel.bpf_stats_enabled=1 the
kernel times every run of every program, so the cost per request is the
run time of all a configuration's programs over its completions (the
completion hook runs once per request), whatever else the machine does:
  floor           empty tp_btf programs on block_rq_insert, issue and
                  complete (bench/floor.bpf.c): the price of the hooks
  biolat          bin/biolat -j (one histogram)
  biolat -D -F -Q -P  per disk, operation, phase and process
  biolatency      /usr/sbin/biolatency (one histogram, the peer)
Figures: median ns of program time per request, and net of the floor;
the ratio biolat / biolatency (goal: at most 0.5). Also biolat's count
of the loop device's reads must reach N. Puts a "## biolat" section in
docs/benchmarks.md. Needs root. Run by `make bench`.
"""
import json
import mmap
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import schedlat as sl   # noqa: E402
from schedlat import BenchError, med   # noqa: E402

SECTION = "## biolat"
BIOLAT = os.path.join(sl.ROOT, "bin", "biolat")
BIOLATENCY = "/usr/sbin/biolatency"
STATS = "/proc/sys/kernel/bpf_stats_enabled"
GOAL = 0.5


def configs(disk):
    """(name, argv, ready text, True: biolat's JSON to check)."""
    return [
        ("floor", [sl.FLOOR_BIN, sl.FLOOR_OBJ, "floor_rq_insert",
                   "floor_rq_issue", "floor_rq_complete"], "ready", False),
        ("biolat", [BIOLAT, "-j"], "Tracing", True),
        ("biolat -D -F -Q -P", [BIOLAT, "-j", "-D", "-F", "-Q", "-P"],
         "Tracing", True),
        ("biolatency", ["stdbuf", "-oL", BIOLATENCY], "Tracing", False),
    ]


def start(argv, ready):
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, text=True)
    stream = p.stderr if argv[0] == BIOLAT else p.stdout
    line = stream.readline()
    if ready not in line:
        p.kill()
        raise BenchError("%s did not start: %s" % (" ".join(argv), line))
    return p


def progs():
    out = subprocess.run(["bpftool", "-j", "prog", "show"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


# Program names of each configuration (bpftool cuts them at 15 bytes).
NAMES = ("floor_rq_", "insert_", "issue_", "requeue_", "complete_",
         "block_rq_")
HOOKS = ("insert", "issue", "requeue", "compl")
SHOWN = {"insert": "insert", "issue": "issue", "requeue": "requeue",
         "compl": "complete"}


def hook_of(name):
    return next(h for h in HOOKS if h in name)


def prog_stats(ids):
    """({hook: (run_time_ns, runs)}, completions): the programs of ids
    (those that appeared when the configuration started, with one of its
    names) by the tracepoint they run on, and the run count of its
    block_rq_complete program."""
    hooks, done = {}, 0
    for p in progs():
        if p["id"] not in ids:
            continue
        h = hook_of(p.get("name", ""))
        ns, runs = hooks.get(h, (0, 0))
        hooks[h] = (ns + p.get("run_time_ns", 0), runs + p.get("run_cnt", 0))
        if h == "compl":
            done += p.get("run_cnt", 0)
    return hooks, done


def reads(dev, n):
    buf = mmap.mmap(-1, 4096)
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    try:
        for i in range(n):
            os.preadv(fd, [buf], (i % 2048) * 4096)
    finally:
        os.close(fd)


def one(cfg, dev, disk, n):
    name, argv, ready, check = cfg
    before = {p["id"] for p in progs()}
    p = start(argv, ready)
    try:
        ids = {q["id"] for q in progs() if q["id"] not in before and
               q.get("name", "").startswith(NAMES)}
        ns0, done0 = prog_stats(ids)
        reads(dev, n)
        time.sleep(0.2)     # a run's statistics land after the wake-up
        ns1, done1 = prog_stats(ids)
    finally:
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=60)
    if done1 - done0 < n:
        raise BenchError("%s: %d completions seen, %d reads made" % (
            name, done1 - done0, n))
    # {hook: program ns per request} of the hooks that ran
    per = {h: (ns1[h][0] - ns0.get(h, (0, 0))[0]) / (done1 - done0)
           for h in ns1 if ns1[h][1] > ns0.get(h, (0, 0))[1]}
    if check:
        reps = [json.loads(line) for line in out.splitlines()
                if line.startswith("{")]
        got = sum(h["count"] for h in reps[-1]["hists"]
                  if h["key"].get("disk", disk) == disk) if reps else 0
        if got < n:
            raise BenchError("%s counted %d requests on %s of %d" % (
                name, got, disk, n))
    return per


def main():
    args = sl.loop_args(__doc__, 20000, "reads", "bench/biolat.py")
    for path in (BIOLAT, BIOLATENCY):
        if not os.access(path, os.X_OK):
            raise BenchError("%s missing (make; apt install libbpf-tools)"
                             % path)
    sl.build_floor()
    old = open(STATS).read().strip()
    fd, img = tempfile.mkstemp(prefix="howlong-bench-", suffix=".img",
                               dir="/var/tmp")
    dev = None
    try:
        os.ftruncate(fd, 8 << 20)
        os.close(fd)
        dev = subprocess.run(["losetup", "--direct-io=on", "-f", "--show",
                              img], capture_output=True, text=True,
                             check=True).stdout.strip()
        disk = os.path.basename(dev)
        with open(STATS, "w") as f:
            f.write("1")
        cf = configs(disk)
        res = sl.rotated_rounds(cf, lambda c: one(c, dev, disk, args.n),
                                args.rounds)
    finally:
        with open(STATS, "w") as f:
            f.write(old)
        if dev:
            subprocess.run(["losetup", "-d", dev])
        os.unlink(img)
    res = {c[0]: v for c, v in zip(cf, res)}
    floor = {h: med([r[h] for r in res["floor"] if h in r]) for h in HOOKS
             if any(h in r for r in res["floor"])}
    total = {name: [sum(r.values()) for r in v] for name, v in res.items()}
    m = {name: med(v) for name, v in total.items()}
    # what the hooks a configuration ran on cost empty
    base = {name: sum(floor.get(h, 0) for h in set().union(*res[name]))
            for name in res}
    rows = ["| %s | %s | %.0f ns (%.0f–%.0f) | %s |" % (
        name, ", ".join(sorted(SHOWN[h] for h in set().union(*res[name]))),
        m[name],
        min(total[name]), max(total[name]),
        "—" if name == "floor" else "%.0f ns" % (m[name] - base[name]))
        for name, _, _, _ in cf]
    ratio = (m["biolat"] - base["biolat"]) / (
        m["biolatency"] - base["biolatency"])
    text = sl.goal_section(
        SECTION,
        "What biolat's programs cost a block I/O request: O_DIRECT 4 KiB "
        "reads on a loop device, and the kernel's own timing of every "
        "program run (`kernel.bpf_stats_enabled=1`), summed over a "
        "configuration's programs and divided by its completions. "
        "Produced by `/usr/bin/python3 bench/biolat.py` (run as root) on "
        "%%s: %d rounds of %d reads, configurations rotated; biolat's "
        "count of the loop device's requests reached the reads' each "
        "time." % (args.rounds, args.n),
        ("configuration", "hooks run", "program time per request "
         "(median, range)", "net of the floor"), rows,
        "*floor*: empty tp_btf programs on `block_rq_insert`, "
        "`block_rq_issue` and `block_rq_complete` (`bench/floor.bpf.c`); "
        "what the kernel's statistics add to each run (two clock reads) "
        "is in it too. Net of the floor: less the empty programs of the "
        "hooks that configuration ran on. *biolatency*: libbpf-tools' "
        "biolatency, the peer, one histogram: a hash update at issue, a "
        "lookup, a histogram slot and a delete at completion. biolat "
        "keeps a request in a slot of a direct-mapped table, claimed by "
        "compare-and-swap (a hash only when another request holds the "
        "slot); -D -F -Q -P need per-request state from insertion on, "
        "in the hash, and keyed histograms.",
        ("biolat net of the floor, against biolatency's", GOAL, ratio))
    sl.publish(SECTION, text, args.no_doc)
    return 0


if __name__ == "__main__":
    sl.run_main(main, "bench/biolat.py")
