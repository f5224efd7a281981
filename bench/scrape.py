#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""
bench/scrape.py: what the exporter mode (docs/metrics.md) costs: the
tool's CPU time per scrape, and whether being scraped makes its BPF
programs dearer per event.

(a) CPU per scrape of about 1,000 series. A workload process of 31
threads, each sleeping 1 ms in a loop (so each keeps waking), traced by
`schedlat -L -p PID --listen` (interval 1 s): 31 histograms of 29
buckets, +Inf, _sum and _count, about 1,000 series (counted in what
is served; fewer than 900 is an error). Per round: SCRAPES scrapes 25 ms
apart over one keep-alive connection with Prometheus's Accept header
(OpenMetrics), then an idle stretch as long (what the tool spends
anyway: its drain of the maps once a second, which no scrape triggers,
docs/metrics.md); per scrape = (CPU while scraped - CPU while idle) /
SCRAPES. The idle CPU per second is reported too: the exporter's own
cost, scraped or not. CPU time: utime+stime of
/proc/PID/stat (clock ticks, 10 ms) and, in ns, the sum of the tool's
threads' /proc/PID/task/TID/schedstat run time; the goal (at most
5 ms) is judged on the latter, the ticks are shown beside it.

(b) BPF cost per event, scraped every second vs not scraped. Rounds
alternate (order rotated) two configurations of `schedlat --listen`
(machine-wide): "quiet" (nobody scrapes) and "scraped" (one scrape a
second, as Prometheus would, from a thread of this script); in each,
kernel.bpf_stats_enabled=1 over `perf bench sched pipe -l LOOPS` pinned
to one CPU, and the tool's programs' run_time_ns / run_cnt (its own
fds' fdinfo): ns per program run. Goal: the median scraped / the
median quiet at most 1.02.

Puts a "## Exporter (--listen)" section in docs/benchmarks.md (--no-doc:
print only). Needs root. Not in `make bench` yet (the Makefile's
recipes are being changed by others): run it as
`/usr/bin/python3 bench/scrape.py`.
"""
import argparse
import datetime
import http.client
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.join(os.path.dirname(HERE), "selftests"))
import schedlat as sl   # noqa: E402
from schedlat import BenchError, med   # noqa: E402
from lib import prom   # noqa: E402
from lib.harness import Failure   # noqa: E402

SECTION = "## Exporter (--listen)"
SCHEDLAT = os.path.join(sl.ROOT, "bin", "schedlat")
MARKER = b"Tracing run queue latency"
THREADS = 31
GOAL_CPU_MS = 5.0
GOAL_RATIO = 1.02
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Between two scrapes of (a): many per drain, as many scrapers would.
SPACING = 0.025

WORKLOAD = """
import sys, threading, time
def loop():
    while True:
        time.sleep(0.001)
for _ in range(int(sys.argv[1])):
    threading.Thread(target=loop, daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"""


# ---------------------------------------------------------------- helpers

def cpu_ticks(pid):
    """utime + stime of /proc/PID/stat, in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])


def cpu_ns(pid):
    """The run time of every thread of pid (schedstat), in ns."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass        # a thread that ended meanwhile
    return total


def cpu(pid):
    return cpu_ticks(pid), cpu_ns(pid)


class Scraper:
    """One keep-alive HTTP/1.1 connection, as Prometheus keeps one."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)

    def get(self):
        self.conn.request("GET", "/metrics", headers={
            "Accept": prom.ACCEPT_PROMETHEUS_SERVER})
        r = self.conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise BenchError("scrape: status %d" % r.status)
        return body

    def close(self):
        self.conn.close()


def start_exporter(args):
    """bin/schedlat --listen on a port of ours (tried again on another
    port when the one picked was taken meanwhile); returns (tool, port)."""
    for attempt in range(3):
        try:
            port = prom.port()
        except Failure as e:
            raise BenchError(str(e))
        argv = [SCHEDLAT, "--listen", "127.0.0.1:%d" % port] + args
        try:
            return sl.Tool("schedlat", argv, MARKER), port
        except BenchError as e:
            if "in use" not in str(e) or attempt == 2:
                raise
    raise BenchError("no port")


def stop(tool):
    rc = tool.stop()
    if rc != 0:
        raise BenchError("schedlat exited %d: %s" % (
            rc, tool.out.decode(errors="replace")[-300:]))


# ---------------------------------------------------------------- (a)

def cpu_round(scrapes):
    """One round of (a): {"series", "net_ms", "net_ticks_ms", "idle_ms",
    "scraped_ms", "latency_ms"} (per scrape)."""
    work = subprocess.Popen([sys.executable, "-c", WORKLOAD, str(THREADS)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    tool = None
    try:
        if work.stdout.readline().strip() != "ready":
            raise BenchError("the workload did not start")
        tool, port = start_exporter(["-L", "-p", str(work.pid)])
        time.sleep(2.5)             # every thread seen, a drain or two
        s = Scraper(port)
        try:
            body = s.get().decode()
            series = sum(1 for l in body.splitlines()
                         if l and not l.startswith("#"))
            if series < 900:
                raise BenchError("only %d series served (expected about "
                                 "1,000: 31 threads x 32)" % series)
            t0, c0 = time.monotonic(), cpu(tool.pid)
            lat = 0.0
            for _ in range(scrapes):
                time.sleep(SPACING)
                a = time.monotonic()
                s.get()
                lat += time.monotonic() - a
            t1, c1 = time.monotonic(), cpu(tool.pid)
        finally:
            s.close()
        busy = t1 - t0
        time.sleep(0.2)
        i0 = cpu(tool.pid)
        time.sleep(busy)
        i1 = cpu(tool.pid)
        idle_ns = (i1[1] - i0[1])
        idle_ticks = i1[0] - i0[0]
        net_ns = (c1[1] - c0[1]) - idle_ns
        net_ticks = (c1[0] - c0[0]) - idle_ticks
        return {"series": series,
                "net_ms": net_ns / scrapes / 1e6,
                "net_ticks_ms": net_ticks * 1000.0 / CLK_TCK / scrapes,
                "idle_ms": idle_ns / 1e6,
                "idle_ms_per_s": idle_ns / 1e6 / busy,
                "scraped_ms": (c1[1] - c0[1]) / 1e6,
                "latency_ms": lat / scrapes * 1e3}
    finally:
        if tool:
            try:
                stop(tool)
            finally:
                tool.kill()
        work.kill()
        work.wait()


# ---------------------------------------------------------------- (b)

class EverySecond(threading.Thread):
    """Scrapes port once a second until stopped."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.done, self.n, self.error = port, threading.Event(), \
            0, None

    def run(self):
        s = Scraper(self.port)
        try:
            while not self.done.wait(1.0 if self.n else 0):
                s.get()
                self.n += 1
        except Exception as e:
            self.error = e
        finally:
            s.close()


def bpf_round(config, args):
    """One round of (b): ns per program run of schedlat's programs over
    the workload, scraped every second or not."""
    tool, port = start_exporter([])
    scraper = None
    try:
        progs, links = sl.bpf_objects(tool.pid)
        if not progs:
            raise BenchError("schedlat holds no BPF program")
        if config == "scraped":
            scraper = EverySecond(port)
            scraper.start()
        sl.write_sysctl(1)
        before = sl.prog_stats(tool.pid, progs)
        sl.pipe_bench(args.cpu, args.loops)
        after = sl.prog_stats(tool.pid, progs)
        if sl.read_sysctl() != "1":
            raise BenchError("kernel.bpf_stats_enabled was changed by "
                             "someone else during the window")
        sl.write_sysctl(0)
        if scraper:
            scraper.done.set()
            scraper.join(20)
            if scraper.error:
                raise BenchError("scraping: %s" % scraper.error)
            if scraper.n < 2:
                raise BenchError("only %d scrapes during the window: "
                                 "make it longer (--loops)" % scraper.n)
        t = sum(after[i][0] - before[i][0] for i in progs)
        c = sum(after[i][1] - before[i][1] for i in progs)
        if not c:
            raise BenchError("schedlat's programs did not run")
        stop(tool)
        sl.check_gone(set(progs), links, "schedlat " + config)
        return t / c
    finally:
        if scraper:
            scraper.done.set()
        tool.kill()


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--scrapes", type=int, default=200,
                    help="scrapes per round of (a) (default 200)")
    ap.add_argument("--loops", type=int, default=1000000,
                    help="perf bench sched pipe -l LOOPS for (b)")
    ap.add_argument("--cpu", type=int, default=os.cpu_count() - 1,
                    help="CPU to pin the pipe benchmark to (default: the "
                         "last)")
    ap.add_argument("--no-doc", action="store_true",
                    help="print only, leave docs/benchmarks.md alone")
    args = ap.parse_args()
    if os.geteuid():
        raise SystemExit("bench/scrape.py: needs root")
    if not os.access(SCHEDLAT, os.X_OK):
        raise SystemExit("bench/scrape.py: %s missing (make)" % SCHEDLAT)
    saved = sl.read_sysctl()
    start = time.monotonic()
    try:
        cpu_res = [cpu_round(args.scrapes) for _ in range(args.rounds)]
        sl.log("(a) done")
        configs = ["quiet", "scraped"]
        bpf = dict(zip(configs, sl.rotated_rounds(
            configs, lambda c: bpf_round(c, args), args.rounds)))
    finally:
        sl.write_sysctl(saved)
    net = [r["net_ms"] for r in cpu_res]
    ticks = [r["net_ticks_ms"] for r in cpu_res]
    ratio = med(bpf["scraped"]) / med(bpf["quiet"])
    ok_cpu = med(net) <= GOAL_CPU_MS
    ok_bpf = ratio <= GOAL_RATIO
    text = "\n".join([
        SECTION, "",
        "What the exporter costs. Produced by `/usr/bin/python3 "
        "bench/scrape.py` (run as root) on %s, %d rounds, in %.0f s; "
        "Linux %s, %d CPUs." % (
            datetime.datetime.now().astimezone().strftime(
                "%Y-%m-%d %H:%M %Z"), args.rounds,
            time.monotonic() - start, os.uname().release, os.cpu_count()),
        "",
        "| measure | median (range) | goal | result |",
        "|---|---|---|---|",
        "| CPU per scrape of %d series (schedstat) | %.3f ms (%.3f–%.3f) "
        "| ≤ %.0f ms | **%s** |" % (
            cpu_res[0]["series"], med(net), min(net), max(net),
            GOAL_CPU_MS, "PASS" if ok_cpu else "MISS"),
        "| the same from utime+stime (10 ms ticks) | %.3f ms (%.3f–%.3f) "
        "| — | — |" % (med(ticks), min(ticks), max(ticks)),
        "| scrape latency | %.3f ms | — | — |" % med(
            [r["latency_ms"] for r in cpu_res]),
        "| CPU per second, not scraped (the drain once a second) | "
        "%.2f ms | — | — |" % med([r["idle_ms_per_s"] for r in cpu_res]),
        "| BPF ns per run, not scraped | %.1f ns (%.1f–%.1f) | — | — |" % (
            med(bpf["quiet"]), min(bpf["quiet"]), max(bpf["quiet"])),
        "| BPF ns per run, scraped every second | %.1f ns (%.1f–%.1f) | "
        "≤ %.2f× | **%s** (%.3f×) |" % (
            med(bpf["scraped"]), min(bpf["scraped"]), max(bpf["scraped"]),
            GOAL_RATIO, "PASS" if ok_bpf else "MISS", ratio),
        "",
        "CPU per scrape: `schedlat -L -p PID --listen` on a process of %d "
        "threads each sleeping 1 ms in a loop; %d scrapes 25 ms apart "
        "over one keep-alive connection with Prometheus's Accept header, "
        "less the tool's CPU time over an idle stretch as long (scrapes "
        "do not drain the maps: the tool does, once a second). BPF cost: "
        "machine-wide `schedlat --listen` under `perf bench sched pipe "
        "-l %d` pinned to CPU %d, kernel.bpf_stats_enabled on, run_time_ns "
        "/ run_cnt of its programs; rounds alternate not scraped and "
        "scraped once a second, order rotated." % (
            THREADS, args.scrapes, args.loops, args.cpu),
        ""])
    sl.publish(SECTION, text, args.no_doc)
    return 0 if ok_cpu and ok_bpf else 1


if __name__ == "__main__":
    sl.run_main(main, "bench/scrape.py", "tools stopped, bpf_stats restored")
