#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""
bench/schedlat.py: what does schedlat cost, next to libbpf-tools' runqlat?

One run, rounds interleaved (each round runs every configuration once, the
order rotated from round to round), configurations:

  untraced     nothing attached
  floor-sw     empty tp_btf program on sched_switch (schedlat --run-delay's
               hook set)
  floor-all    empty tp_btf programs on sched_switch, sched_wakeup and
               sched_wakeup_new (the hook set of schedlat and runqlat)
  schedlat     bin/schedlat, no arguments (one report at SIGINT)
  schedlat-rd  bin/schedlat --run-delay
  schedlat-full-btf  bin/schedlat --full-btf (libbpf reads the kernel BTF
               in full: what tools/lib/lean_btf.c saves)
  runqlat      /usr/sbin/runqlat, no arguments (one report at SIGINT)

For each traced configuration and round: time from spawn to its "Tracing"
(or "ready") line; a window with kernel.bpf_stats_enabled=1 running
`perf bench sched pipe` pinned to one CPU, reading run_time_ns/run_cnt of the
tool's own programs (found through its /proc/PID/fd and fdinfo) and the
/proc/stat context-switch count before and after; a second window of the same
workload with bpf_stats off, timed; then SIGINT, and ru_maxrss from wait4().
Then stripped binary sizes. Prints a Markdown report and writes it to
docs/benchmarks.md. Needs root. Run by `make bench`.
"""
import argparse
import datetime
import errno
import hashlib
import json
import os
import pty
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build", "bench")
FLOOR_BIN = os.path.join(BUILD, "floor")
FLOOR_OBJ = os.path.join(BUILD, "floor.bpf.o")
SCHEDLAT_SRC = os.path.join(ROOT, "bin", "schedlat")
# The binary measured: a copy of bin/schedlat taken when the run starts, so
# that a rebuild during the run cannot mix two builds in one table.
SCHEDLAT = os.path.join(BUILD, "schedlat")
RUNQLAT = "/usr/sbin/runqlat"
STATS_SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"
DOC = os.path.join(ROOT, "docs", "benchmarks.md")
BPF_PROG_TYPE_TRACING = 26          # tp_btf/fentry; raw_tp is 17
SIZE_LIMIT = 150 * 1024             # "150 KB", read as KiB

TP_SHORT = {"sched_switch": "switch", "sched_wakeup": "wakeup",
            "sched_wakeup_new": "wakeup_new"}

# name, argv, ready marker, floor configuration to subtract
CONFIGS = [
    ("untraced", None, None, None),
    ("floor-sw", [FLOOR_BIN, FLOOR_OBJ, "floor_switch"], b"ready", None),
    ("floor-all", [FLOOR_BIN, FLOOR_OBJ, "floor_switch", "floor_wakeup",
                   "floor_wakeup_new"], b"ready", None),
    ("schedlat", [SCHEDLAT], b"Tracing run queue latency", "floor-all"),
    ("schedlat-rd", [SCHEDLAT, "--run-delay"], b"Tracing run queue latency",
     "floor-sw"),
    ("schedlat-full-btf", [SCHEDLAT, "--full-btf"],
     b"Tracing run queue latency", "floor-all"),
    ("runqlat", [RUNQLAT], b"Tracing run queue latency", "floor-all"),
]
CFG = {c[0]: c for c in CONFIGS}

children = {}        # pid -> Tool, everything we started and not yet reaped
seen_progs = set()   # every BPF program id any of our tools owned
seen_links = set()


class BenchError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def start_ready(argv, ready, on_stderr):
    """Start a tool or the floor; returns its Popen once its first line
    (on stderr for ours, on stdout for the floor and the peers) says
    ready."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, text=True)
    line = (p.stderr if on_stderr else p.stdout).readline()
    if ready not in line:
        p.kill()
        raise BenchError("%s did not start: %s" % (" ".join(argv), line))
    return p


def last_report(out, what):
    """The hists of the last JSON report in a tool's -j output."""
    reps = [json.loads(line) for line in out.splitlines()
            if line.startswith("{")]
    if not reps:
        raise BenchError("%s printed no report" % what)
    return reps[-1]["hists"]


def run(argv, **kw):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, **kw)


# ---------------------------------------------------------------- build

def build_floor():
    """bench/floor.bpf.c -> build/bench/floor.bpf.o, bench/floor.c ->
    build/bench/floor, when out of date."""
    os.makedirs(BUILD, exist_ok=True)
    arch = os.uname().machine
    karch = {"x86_64": "x86", "aarch64": "arm64"}.get(arch, arch)
    multiarch = run(["cc", "-dumpmachine"]).stdout.strip()
    steps = [
        (FLOOR_OBJ, os.path.join(ROOT, "bench", "floor.bpf.c"),
         ["clang", "-g", "-O2", "-target", "bpf",
          "-D__TARGET_ARCH_%s" % karch, "-Wall", "-Werror",
          "-I" + os.path.join(ROOT, "vmlinux", karch),
          "-I/usr/include/" + multiarch, "-c"]),
        (FLOOR_BIN, os.path.join(ROOT, "bench", "floor.c"),
         ["cc", "-O2", "-g", "-Wall", "-Wextra", "-Werror"]),
    ]
    for out, src, cmd in steps:
        if (os.path.exists(out) and
                os.path.getmtime(out) >= os.path.getmtime(src)):
            continue
        argv = cmd + [src, "-o", out]
        if out == FLOOR_BIN:
            argv += ["-lbpf", "-lelf", "-lz"]
        log("  BUILD    " + os.path.relpath(out, ROOT))
        try:
            run(argv)
        except subprocess.CalledProcessError as e:
            raise BenchError("building %s failed:\n%s" % (out, e.stderr))


# ---------------------------------------------------------------- system

def read_sysctl():
    with open(STATS_SYSCTL) as f:
        return f.read().strip()


def write_sysctl(v):
    with open(STATS_SYSCTL, "w") as f:
        f.write(str(v))


def ctxt():
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("ctxt "):
                return int(line.split()[1])
    raise BenchError("no ctxt line in /proc/stat")


def fdinfo(pid, fd):
    d = {}
    try:
        with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
            for line in f:
                k, _, v = line.partition(":")
                d[k.strip()] = v.strip()
    except OSError:
        pass
    return d


def bpf_objects(pid):
    """The BPF programs a process holds, {prog_id: {"fd", "type", "tp"}}
    with the tracepoint each is attached to from its link's fdinfo, and the
    set of its link ids."""
    progs, links = {}, {}
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target == "anon_inode:bpf-prog":
            info = fdinfo(pid, fd)
            if "prog_id" in info:
                progs[int(info["prog_id"])] = {
                    "fd": fd, "type": int(info.get("prog_type", -1)),
                    "tp": None}
        elif target == "anon_inode:bpf_link":
            info = fdinfo(pid, fd)
            if "prog_id" in info:
                links[int(info["link_id"])] = (int(info["prog_id"]),
                                               info.get("tp_name"))
    for link_id, (prog_id, tp) in links.items():
        seen_links.add(link_id)
        if prog_id in progs:
            progs[prog_id]["tp"] = tp
        else:   # a link whose program fd the tool closed: read via bpftool
            progs[prog_id] = {"fd": None, "type": None, "tp": tp}
    seen_progs.update(progs)
    return progs, set(links)


def bpftool_json(*args):
    return json.loads(run(["bpftool", "-j"] + list(args)).stdout or "[]")


def prog_stats(pid, progs):
    """{prog_id: (run_time_ns, run_cnt)} for the given programs."""
    out, missing = {}, []
    for pid_, p in progs.items():
        info = fdinfo(pid, p["fd"]) if p["fd"] is not None else {}
        if "run_cnt" in info:
            out[pid_] = (int(info["run_time_ns"]), int(info["run_cnt"]))
        else:
            missing.append(pid_)
    for prog_id in missing:
        j = bpftool_json("prog", "show", "id", str(prog_id))
        out[prog_id] = (j.get("run_time_ns", 0), j.get("run_cnt", 0))
    return out


def all_prog_stats():
    """Every loaded program's {id: (name, type, run_time_ns, run_cnt)}."""
    return {p["id"]: (p.get("name", "?"), p.get("type", "?"),
                      p.get("run_time_ns", 0), p.get("run_cnt", 0))
            for p in bpftool_json("prog", "show")}


def alive_ids():
    return ({p["id"] for p in bpftool_json("prog", "show")},
            {l["id"] for l in bpftool_json("link", "show")})


# ---------------------------------------------------------------- tools

class Tool:
    """A tool started on a pty (stdout and stderr both: line-buffered, as on
    a terminal, for schedlat and runqlat alike, no stdbuf in between)."""

    def __init__(self, name, argv, marker):
        self.name, self.marker = name, marker
        self.out = b""
        self.eof = False
        self.rusage = None
        self.status = None
        master, slave = pty.openpty()
        self.master = master
        t0 = time.monotonic()
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                start_new_session=True, close_fds=True)
        finally:
            os.close(slave)
        children[self.proc.pid] = self
        self.pid = self.proc.pid
        deadline = t0 + 30
        while marker not in self.out:
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(min(left, 1.0)) or (
                    self._reap(block=False)):
                raise BenchError("%s: no %r line (output: %r)" % (
                    name, marker.decode(), self.out.decode(errors="replace")))
        self.ready_ms = (time.monotonic() - t0) * 1e3

    def _read(self, timeout):
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError as e:
            if e.errno != errno.EIO:
                raise
            data = b""
        if not data:        # all slave ends closed: the tool is exiting
            self.eof = True
            return False
        self.out += data
        return True

    def _reap(self, block):
        if self.status is not None:
            return True
        pid, status, ru = os.wait4(self.pid, 0 if block else os.WNOHANG)
        if pid == 0:
            return False
        self.status, self.rusage = status, ru
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        children.pop(self.pid, None)
        return True

    def memory(self):
        """Peak and current RSS in KiB, from /proc/PID/status. VmHWM is the
        high-water mark of the tool's own address space since exec.
        (wait4()'s ru_maxrss would not do: at exec the kernel carries the
        pre-exec address space's peak into it, i.e. this Python's ~17 MB
        copied by fork, which hides the tool's own figure.)"""
        m = {}
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS"):
                    m[k] = int(v.split()[0])
        return m["VmHWM"], m["VmRSS"]

    def stop(self, timeout=10):
        """SIGINT (the tools' normal exit), drain its report, reap it."""
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while not self._reap(block=False) and time.monotonic() < deadline:
            if self.eof:
                time.sleep(0.02)
            else:
                self._read(0.05)
        if self.status is None:
            os.kill(self.pid, signal.SIGKILL)
            self._reap(block=True)
            raise BenchError("%s did not exit on SIGINT" % self.name)
        os.close(self.master)
        self.master = -1
        return self.proc.returncode

    def kill(self):
        """Cleanup path: stop it whatever it takes."""
        try:
            if self.status is None:
                self.stop(timeout=3)
        except Exception:
            if self.status is None:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                    self._reap(block=True)
                except OSError:
                    pass
        if self.master >= 0:
            os.close(self.master)
            self.master = -1


def check_gone(prog_ids, link_ids, what):
    """The programs and links a stopped tool owned must be gone (the kernel
    frees them asynchronously: allow it a moment)."""
    for _ in range(40):
        progs, links = alive_ids()
        left_p, left_l = progs & prog_ids, links & link_ids
        if not left_p and not left_l:
            return
        time.sleep(0.05)
    raise BenchError("%s: BPF programs %s / links %s still loaded" % (
        what, sorted(left_p), sorted(left_l)))


# ---------------------------------------------------------------- workload

def pipe_bench(cpu, loops):
    """`perf bench sched pipe` pinned to one CPU: both ends ping-pong on it,
    two context switches and two wakeups per loop. Returns perf's own
    'Total time' in seconds."""
    r = run(["taskset", "-c", str(cpu), "perf", "bench", "sched", "pipe",
             "-l", str(loops)])
    m = re.search(r"Total time:\s*([0-9.]+)", r.stdout)
    if not m:
        raise BenchError("unexpected perf output: %r" % r.stdout)
    return float(m.group(1))


def run_config(name, args):
    _, argv, marker, _ = CFG[name]
    res = {}
    progs, links = {}, set()
    tool = Tool(name, argv, marker) if argv else None
    try:
        if tool:
            progs, links = bpf_objects(tool.pid)
        if tool:
            res["ready_ms"] = tool.ready_ms
            res["types"] = {p["type"] for p in progs.values()}
            res["tps"] = sorted(p["tp"] or "?" for p in progs.values())
        # window 1: BPF cost, with bpf_stats on
        write_sysctl(1)
        all0 = all_prog_stats()
        before = prog_stats(tool.pid, progs) if tool else {}
        c0 = ctxt()
        pipe_bench(args.cpu, args.loops)
        c1 = ctxt()
        after = prog_stats(tool.pid, progs) if tool else {}
        all1 = all_prog_stats()
        if read_sysctl() != "1":
            raise BenchError("kernel.bpf_stats_enabled was changed by "
                             "someone else during the window")
        write_sysctl(0)
        res["ctxt"] = c1 - c0
        # Programs that are not ours and ran meanwhile (someone else's
        # tracing): they slow every configuration alike; report them.
        res["foreign"] = {}
        for i, (nm, ty, t, c) in all1.items():
            if i in progs or i not in all0 or c <= all0[i][3]:
                continue
            res["foreign"][(i, nm, ty)] = ((t - all0[i][2]) / (c1 - c0),
                                           (c - all0[i][3]) / (c1 - c0))
        res["stats"] = {}
        for prog_id, p in progs.items():
            dt = after[prog_id][0] - before[prog_id][0]
            dc = after[prog_id][1] - before[prog_id][1]
            tp = p["tp"] or "prog%d" % prog_id
            t, c = res["stats"].get(tp, (0, 0))
            res["stats"][tp] = (t + dt, c + dc)
        # window 2: the same workload timed, bpf_stats off
        res["pipe_s"] = pipe_bench(args.cpu, args.loops)
        if tool:
            res["hwm_kb"], res["rss_kb"] = tool.memory()
    finally:
        if tool:
            rc = tool.stop()
            res["ru_maxrss_kb"] = tool.rusage.ru_maxrss
            if rc != 0:
                raise BenchError("%s exited %d: %s" % (
                    name, rc, tool.out.decode(errors="replace")))
            check_gone(set(progs), links, name)
    return res


# ---------------------------------------------------------------- sizes

def ldd(path):
    r = subprocess.run(["ldd", path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if "not a dynamic executable" in r.stdout or r.returncode:
        return None
    libs = []
    for line in r.stdout.splitlines():
        name = line.split()[0]
        if "vdso" in name or name.startswith("/"):
            continue
        libs.append(name)
    return libs


def stripped_size(path, tmp):
    dst = os.path.join(tmp, os.path.basename(path) + ".%d" % len(
        os.listdir(tmp)))
    shutil.copy(path, dst)
    run(["strip", dst])
    return os.path.getsize(dst)


def libbpf_so():
    r = subprocess.run(["ldd", SCHEDLAT], stdout=subprocess.PIPE, text=True)
    m = re.search(r"libbpf\.so\S*\s*=>\s*(\S+)", r.stdout)
    return os.path.realpath(m.group(1)) if m else None


def static_build(tmp):
    """Best effort: `make STATIC=1` into a scratch tree (nothing in the
    source tree is touched) to show what a self-contained schedlat weighs."""
    out = os.path.join(tmp, "static")
    argv = ["make", "-s", "-C", ROOT, "STATIC=1", "OUT=" + out + "/build",
            "BIN=" + out + "/bin", "SKEL=" + out + "/skel",
            out + "/bin/schedlat"]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    path = os.path.join(out, "bin", "schedlat")
    if r.returncode or not os.path.exists(path):
        return None, r.stdout.strip().splitlines()[-1:] or ["failed"]
    return path, None


def sizes(args):
    res = {}
    with tempfile.TemporaryDirectory(prefix="howlong-bench.") as tmp:
        for name, path in (("schedlat", SCHEDLAT), ("runqlat", RUNQLAT)):
            res[name] = {"path": path, "size": os.path.getsize(path),
                         "stripped": stripped_size(path, tmp),
                         "libs": ldd(path)}
        so = libbpf_so()
        if so:
            res["libbpf"] = {"path": so, "size": os.path.getsize(so),
                             "stripped": stripped_size(so, tmp)}
        if not args.no_static:
            path, err = static_build(tmp)
            if path:
                res["static"] = {"size": os.path.getsize(path),
                                 "stripped": stripped_size(path, tmp),
                                 "libs": ldd(path)}
            else:
                res["static_err"] = err
    return res


# ---------------------------------------------------------------- report

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def rng(xs):
    xs = [x for x in xs if x is not None]
    return (min(xs), max(xs)) if xs else (None, None)


def analyse(results):
    """Medians over rounds; floor per tracepoint; net costs."""
    A = {}
    untraced = results["untraced"]
    floor_ns = {}       # config -> tp -> median ns per run
    for name in CFG:
        rounds = results[name]
        a = A[name] = {}
        a["pipe_s"] = med(r["pipe_s"] for r in rounds)
        a["slowdown"] = med(r["pipe_s"] / u["pipe_s"] - 1
                            for r, u in zip(rounds, untraced))
        a["slowdown_rng"] = rng(r["pipe_s"] / u["pipe_s"] - 1
                                for r, u in zip(rounds, untraced))
        a["ctxt"] = med(r["ctxt"] for r in rounds)
        if CFG[name][1] is None:
            continue
        a["ready_ms"] = med(r["ready_ms"] for r in rounds)
        a["ready_rng"] = rng(r["ready_ms"] for r in rounds)
        a["hwm_kb"] = med(r["hwm_kb"] for r in rounds)
        a["hwm_rng"] = rng(r["hwm_kb"] for r in rounds)
        a["rss_kb"] = med(r["rss_kb"] for r in rounds)
        a["ru_maxrss_kb"] = med(r["ru_maxrss_kb"] for r in rounds)
        a["types"] = set().union(*(r["types"] for r in rounds))
        tps = sorted({tp for r in rounds for tp in r["stats"]},
                     key=lambda t: list(TP_SHORT).index(t)
                     if t in TP_SHORT else 99)
        a["per_run"] = {tp: med(r["stats"][tp][0] / r["stats"][tp][1]
                                if r["stats"].get(tp, (0, 0))[1] else None
                                for r in rounds) for tp in tps}
        a["runs_per_ctxt"] = {tp: med(r["stats"][tp][1] / r["ctxt"]
                                      for r in rounds) for tp in tps}
        a["per_ctxt"] = med(sum(t for t, _ in r["stats"].values()) /
                            r["ctxt"] for r in rounds)
        a["per_ctxt_rng"] = rng(sum(t for t, _ in r["stats"].values()) /
                                r["ctxt"] for r in rounds)
        floor_ns[name] = a["per_run"]
    for name in CFG:
        floor = CFG[name][3]
        if not floor:
            continue
        a = A[name]
        fl = floor_ns[floor]

        def net(r):
            tot = 0
            for tp, (t, c) in r["stats"].items():
                f = fl.get(tp)
                if f is None:   # no floor for it: use the most expensive one
                    f = max(v for v in fl.values() if v is not None)
                tot += t - c * f
            return tot / r["ctxt"]
        a["net"] = med(net(r) for r in results[name])
        a["net_rng"] = rng(net(r) for r in results[name])
        a["floor"] = floor
    fg = {}
    for name in CFG:
        for r in results[name]:
            for k, v in r["foreign"].items():
                fg.setdefault(k, []).append(v)
    nwin = sum(len(results[n]) for n in CFG)
    A["_foreign"] = {k: (len(v), med(x[0] for x in v), med(x[1] for x in v))
                     for k, v in fg.items()}
    A["_windows"] = nwin
    return A


def fmt(x, spec=".0f", unit=""):
    return "—" if x is None else format(x, spec) + unit


def fmt_rng(lo_hi, spec=".0f"):
    lo, hi = lo_hi
    return "" if lo is None else " (%s–%s)" % (format(lo, spec),
                                               format(hi, spec))


def target_row(what, s, r, unit, spec, limit=0.5):
    ratio = s / r if s is not None and r else None
    ok = ratio is not None and ratio <= limit
    return "| %s | %s | %s | %s | ≤ %g× | **%s** |" % (
        what, fmt(s, spec, unit), fmt(r, spec, unit),
        fmt(ratio, ".2f", "×"), limit, "PASS" if ok else "MISS"), ok


def report(A, S, meta, args):
    L = []
    w = L.append
    w("# Benchmarks: schedlat vs libbpf-tools runqlat")
    w("")
    w("Produced by `%s` (run as root; `make bench` runs it with the "
      "defaults) on %s." % (meta["command"], meta["date"]))
    w("")
    w("Machine: Linux %s, %s, %d CPUs; libbpf %s; runqlat from libbpf-tools "
      "%s; %s; schedlat %s. %d rounds, `perf bench sched pipe -l %d` pinned "
      "to CPU %d." % (meta["kernel"], meta["machine"], meta["ncpu"],
                      meta["libbpf"], meta["runqlat_ver"], meta["perf"],
                      meta["schedlat_ver"], args.rounds, args.loops,
                      args.cpu))
    w("")
    w("schedlat measured: bin/schedlat built %s, sha256 %s… (copied to "
      "build/bench/schedlat when the run started)." % (args.built, args.sha))
    w("")
    w("## Targets")
    w("")
    w("| target | schedlat | runqlat | ratio | goal | result |")
    w("|---|---|---|---|---|---|")
    s, r = A["schedlat"], A["runqlat"]
    rows = [
        target_row("BPF cost per context switch, net of floor",
                   s["net"], r["net"], " ns", ".2f", limit=0.35),
        target_row("exec → \"Tracing\" line", s["ready_ms"], r["ready_ms"],
                   " ms", ".1f"),
        target_row("peak RSS", s["hwm_kb"], r["hwm_kb"], " KiB", ".0f"),
    ]
    for line, _ in rows:
        w(line)
    ss, rs = S["schedlat"]["stripped"], S["runqlat"]["stripped"]
    size_ok = ss <= SIZE_LIMIT
    w("| stripped binary | %.1f KiB | %.1f KiB | %.2f× | ≤ 150 KiB | **%s** |"
      % (ss / 1024, rs / 1024, ss / rs, "PASS" if size_ok else "MISS"))
    w("")
    w("## All configurations (medians over rounds, range in parentheses)")
    w("")
    w("| configuration | hooks: BPF ns per run | BPF ns per context switch "
      "| net of floor | pipe bench | slowdown | exec → ready | peak RSS "
      "| RSS once running |")
    w("|---|---|---|---|---|---|---|---|---|")
    for name in CFG:
        a = A[name]
        if CFG[name][1] is None:
            w("| %s | — | — | — | %.3f s | — | — | — | — |" % (
                name, a["pipe_s"]))
            continue
        hooks = ", ".join("%s %s" % (TP_SHORT.get(tp, tp),
                                     fmt(ns, ".0f"))
                          for tp, ns in a["per_run"].items())
        net = (fmt(a["net"], ".1f") + fmt_rng(a["net_rng"], ".1f")
               if "net" in a else "(is the floor)")
        w("| %s | %s | %s%s | %s | %.3f s | %+.1f%%%s | %.1f ms%s | "
          "%d KiB%s | %d KiB |" % (
              name, hooks, fmt(a["per_ctxt"], ".1f"),
              fmt_rng(a["per_ctxt_rng"], ".1f"), net, a["pipe_s"],
              a["slowdown"] * 100,
              fmt_rng(tuple(x * 100 if x is not None else None
                            for x in a["slowdown_rng"]), "+.1f"),
              a["ready_ms"], fmt_rng(a["ready_rng"], ".1f"),
              a["hwm_kb"], fmt_rng(a["hwm_rng"], ".0f"), a["rss_kb"]))
    w("")
    w("Context switches per window (system-wide, /proc/stat `ctxt`): "
      "%d. Program runs per context switch: %s." % (
          A["untraced"]["ctxt"],
          "; ".join("%s %s" % (n, ", ".join(
              "%s %.2f" % (TP_SHORT.get(tp, tp), v)
              for tp, v in A[n]["runs_per_ctxt"].items()))
              for n in ("schedlat", "runqlat"))))
    w("")
    if A["_foreign"]:
        w("**Background:** BPF programs that are not this bench's ran during "
          "the measurement windows (loaded by something else on the "
          "machine). They cost every configuration alike, including "
          "*untraced*, so the slowdowns above are relative to a baseline "
          "that already carries them:")
        w("")
        for (i, nm, ty), (n, ns, runs) in sorted(A["_foreign"].items()):
            w("- id %d `%s` (%s): in %d of %d windows, %.1f ns and %.2f runs "
              "per context switch (median)" % (i, nm, ty, n, A["_windows"],
                                               ns, runs))
    else:
        w("No other BPF program ran during the measurement windows.")
    w("")
    w("## Binary size")
    w("")
    w("| binary | on disk | stripped | linking |")
    w("|---|---|---|---|")

    def linking(libs):
        if libs is None:
            return "static"
        return "dynamic: " + ", ".join(libs)
    w("| bin/schedlat (as measured) | %.1f KiB | %.1f KiB | %s |" % (
        S["schedlat"]["size"] / 1024, ss / 1024,
        linking(S["schedlat"]["libs"])))
    w("| %s | %.1f KiB | %.1f KiB | %s (libbpf compiled in) |" % (
        RUNQLAT, S["runqlat"]["size"] / 1024, rs / 1024,
        linking(S["runqlat"]["libs"])))
    if "libbpf" in S:
        w("| %s (schedlat's libbpf) | %.1f KiB | %.1f KiB | shared library |"
          % (S["libbpf"]["path"], S["libbpf"]["size"] / 1024,
             S["libbpf"]["stripped"] / 1024))
    if "static" in S:
        w("| schedlat, `make STATIC=1` (current tree, built in a scratch "
          "dir) | %.1f KiB | %.1f KiB | %s |" % (
            S["static"]["size"] / 1024, S["static"]["stripped"] / 1024,
            linking(S["static"]["libs"])))
    elif "static_err" in S:
        w("| schedlat, `make STATIC=1` | — | — | build failed: %s |" %
          " ".join(S["static_err"]))
    w("")
    w("## How measured")
    w("")
    w("- **One run, rounds interleaved.** Each round runs every "
      "configuration once, the order rotated by one each round; every "
      "figure is the median over rounds. *untraced*: nothing attached. "
      "*floor-sw*: an empty `tp_btf` program on `sched_switch` "
      "(`bench/floor.bpf.c`, loaded by `bench/floor.c`), the hook set of "
      "`schedlat --run-delay`. *floor-all*: empty programs on "
      "`sched_switch`, `sched_wakeup` and `sched_wakeup_new`, the hook set "
      "of schedlat and runqlat. *schedlat*: `bin/schedlat` with no "
      "arguments (its own timestamps). *schedlat-rd*: `bin/schedlat "
      "--run-delay` (the kernel's sched_info). *schedlat-full-btf*: "
      "`bin/schedlat --full-btf`, libbpf reading the kernel BTF in full "
      "rather than tools/lib/lean_btf.c (which keeps only the types the "
      "object's names reach): its start-up and peak RSS are what the lean "
      "reader saves; nothing else differs. *runqlat*: `%s` with no "
      "arguments. All programs were `tp_btf` (BPF_PROG_TYPE_TRACING)%s." % (
          RUNQLAT, "" if meta["all_tracing"] else
          " — **except some: see types above**"))
    w("- **Workload**: `taskset -c %d perf bench sched pipe -l %d`: two "
      "processes ping-pong over pipes on one CPU, two context switches and "
      "two wakeups per loop." % (args.cpu, args.loops))
    w("- **BPF cost**: kernel.bpf_stats_enabled is set to 1 for a window "
      "of that workload (and put back to its previous value, %s, at the "
      "end). The tool's programs are found through its own file "
      "descriptors (`/proc/PID/fd` → `bpf-prog` / `bpf_link`, "
      "`/proc/PID/fdinfo` gives `prog_id`, `tp_name`, `run_time_ns`, "
      "`run_cnt`). *ns per run* = Δrun_time_ns / Δrun_cnt per hook. *BPF ns "
      "per context switch* = Σ Δrun_time_ns of all the tool's programs / "
      "Δctxt of /proc/stat (system-wide, like the programs). *Net of floor* "
      "subtracts, for each program, Δrun_cnt × the matching floor's median "
      "ns per run on the same tracepoint (schedlat and runqlat − "
      "floor-all, schedlat-rd − floor-sw): what the program bodies cost beyond the hook itself "
      "and bpf_stats' own clock reads." % meta["stats_prev"])
    w("- **Slowdown**: a second window of the same workload with "
      "bpf_stats off; perf's own \"Total time\", divided by the same "
      "round's untraced time.")
    w("- **exec → ready**: from just before spawning the tool to reading "
      "its \"Tracing run queue latency...\" line (\"ready\" for the floor "
      "loader). Both tools run with stdout and stderr on a pty, so both "
      "are line-buffered as on a terminal (runqlat prints that line on "
      "stdout, schedlat on stderr) and no stdbuf wrapper is involved.")
    w("- **Peak RSS**: `VmHWM` of /proc/PID/status, the high-water mark "
      "of the tool's address space since exec, read after both windows, "
      "just before SIGINT; *RSS once running* is `VmRSS` at that moment. "
      "`ru_maxrss` from `wait4()` is not used: at exec the kernel folds "
      "the pre-exec address space's peak into it, here the forked Python "
      "bench (it read %s KiB for schedlat and %s KiB for runqlat, the "
      "bench's own size)." % (fmt(A["schedlat"]["ru_maxrss_kb"]),
                              fmt(A["runqlat"]["ru_maxrss_kb"])))
    w("- **Size**: both binaries copied to a temporary directory and "
      "`strip`ped. runqlat carries libbpf inside it; schedlat links the "
      "shared libbpf.so.1, listed separately. Target: ≤ 150 KiB.")
    w("- After every tool stops, the script checks with `bpftool prog "
      "show` / `bpftool link show` that none of its programs or links "
      "remain.")
    return "\n".join(L) + "\n", all(ok for _, ok in rows) and size_ok


def snapshot(args):
    tmp = SCHEDLAT + ".tmp"
    shutil.copy2(SCHEDLAT_SRC, tmp)
    os.replace(tmp, SCHEDLAT)       # fine even while an old copy runs
    with open(SCHEDLAT, "rb") as f:
        args.sha = hashlib.sha256(f.read()).hexdigest()[:12]
    args.built = datetime.datetime.fromtimestamp(
        os.path.getmtime(SCHEDLAT)).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def meta_info(args):
    def out(argv):
        try:
            return run(argv).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "?"
    cmd = " ".join(["/usr/bin/python3", "bench/schedlat.py"] + sys.argv[1:])
    return {
        "command": cmd,
        "date": datetime.datetime.now().astimezone().strftime(
            "%Y-%m-%d %H:%M %Z"),
        "kernel": os.uname().release, "machine": os.uname().machine,
        "ncpu": os.cpu_count(),
        "libbpf": out(["pkg-config", "--modversion", "libbpf"]),
        "runqlat_ver": out(["dpkg-query", "-W", "-f=${Version}",
                            "libbpf-tools"]),
        "perf": out(["perf", "version"]),
        "schedlat_ver": out([SCHEDLAT, "-V"]).split("\n")[0],
    }


# ---------------------------------------------------------------- main

def on_term(sig, frame):
    raise KeyboardInterrupt


def write_doc(text):
    """Replace the schedlat part of docs/benchmarks.md (everything before
    the first section another benchmark owns, "## pgquerylat")."""
    rest = ""
    try:
        with open(DOC) as f:
            old = f.read()
        at = old.find("\n## pgquerylat")
        if at >= 0:
            rest = old[at:]
    except FileNotFoundError:
        pass
    with open(DOC, "w") as f:
        f.write(text.rstrip("\n") + "\n" + rest)


def write_section(heading, text):
    """Replace the section that starts with the line heading ("## name")
    in docs/benchmarks.md, up to the next "## " heading, or append it;
    everything else is kept. (Used by the other tools' benches.)"""
    try:
        with open(DOC) as f:
            doc = f.read()
    except FileNotFoundError:
        doc = ""
    lines = doc.splitlines(keepends=True)
    start = next((i for i, l in enumerate(lines)
                  if l.rstrip("\n") == heading), None)
    if start is None:
        head, tail = doc.rstrip("\n") + "\n\n" if doc else "", ""
    else:
        end = next((i for i in range(start + 1, len(lines))
                    if lines[i].startswith("## ")), len(lines))
        head = "".join(lines[:start])
        tail = "".join(lines[end:])
        tail = ("\n" + tail) if tail else ""
    tmp = DOC + ".tmp"
    with open(tmp, "w") as f:
        f.write(head + text + tail)
    os.replace(tmp, DOC)


def goal_section(heading, intro, columns, rows, notes, goal):
    """A peer benchmark's section: the intro (its "%s" gets the date),
    a table (columns: header cells; rows: lines), the notes, and the
    goal line from goal = (what, limit, ratio)."""
    what, limit, ratio = goal
    return "\n".join([
        heading, "",
        intro % datetime.datetime.now().astimezone().strftime(
            "%Y-%m-%d %H:%M %Z"), "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ] + rows + [
        "", notes, "",
        "Goal: %s ≤ %.1f×: **%s** (%.2f×)." % (
            what, limit, "PASS" if ratio <= limit else "MISS", ratio),
        ""])


def publish(heading, text, no_doc):
    """Print a tool's section and, unless no_doc, put it in the docs."""
    print(text)
    if not no_doc:
        write_section(heading, text)


def loop_args(doc, n, what, name):
    """The command line of a benchmark that times a loop: --rounds, -n
    (default n, "what" per loop), --no-doc; exits unless root."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[1])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("-n", type=int, default=n,
                    help="%s per loop (default %d)" % (what, n))
    ap.add_argument("--no-doc", action="store_true",
                    help="print only, leave docs/benchmarks.md alone")
    args = ap.parse_args()
    if os.geteuid():
        raise SystemExit("%s: needs root" % name)
    return args


def rotated_rounds(configs, run, rounds):
    """[[result per round] per configuration]: each round runs every
    configuration once (run(config)), its order rotated by one each
    round."""
    res = [[] for _ in configs]
    order = list(range(len(configs)))
    for r in range(rounds):
        k = r % len(configs)
        for i in order[k:] + order[:k]:
            res[i].append(run(configs[i]))
        log("round %d done" % (r + 1))
    return res


def start_ready(argv, ready, ours):
    """Popen of argv once its first line says ready: on stderr for our
    tool at the path ours, on stdout for the floor and the peers."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, text=True)
    line = (p.stderr if argv[0] == ours else p.stdout).readline()
    if ready not in line:
        p.kill()
        raise BenchError("%s did not start: %s" % (" ".join(argv), line))
    return p


def stats_rounds(configs, run, rounds,
                 sysctl="/proc/sys/kernel/bpf_stats_enabled"):
    """rotated_rounds() with the kernel's program statistics on (put back
    as they were afterwards): {configuration's name (its [0]): [result
    per round]}."""
    old = open(sysctl).read().strip()
    try:
        with open(sysctl, "w") as f:
            f.write("1")
        res = rotated_rounds(configs, run, rounds)
    finally:
        with open(sysctl, "w") as f:
            f.write(old)
    return {c[0]: v for c, v in zip(configs, res)}


def programs_timed(start, names, counted, work):
    """Run time of a tool's programs over work(), from the kernel's own
    statistics (kernel.bpf_stats_enabled=1): start() starts the tool and
    returns its Popen once it has attached; its programs are those that
    appeared meanwhile with a name that starts with one of names (others
    may load programs at the same time); counted(name) says whose runs
    count. Returns (run_time_ns, runs counted, the tool's stdout after
    SIGINT)."""
    def totals(ids):
        ns = runs = 0
        for i, (name, _, t, c) in all_prog_stats().items():
            if i in ids and name.startswith(names):
                ns += t
                runs += c if counted(name) else 0
        return ns, runs

    before, _ = alive_ids()
    p = start()
    try:
        ids = alive_ids()[0] - before
        ns0, runs0 = totals(ids)
        work()
        time.sleep(0.2)     # a run's statistics land after the wake-up
        ns1, runs1 = totals(ids)
    finally:
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=60)
    return ns1 - ns0, runs1 - runs0, out


def run_main(main, name, cleaned="tools stopped"):
    """Every bench's entry point: a BenchError or ^C is one line, exit 1;
    cleaned says what was put back on the way out."""
    try:
        sys.exit(main())
    except BenchError as e:
        sys.exit("%s: %s" % (name, e))
    except KeyboardInterrupt:
        sys.exit("%s: interrupted (%s)" % (name, cleaned))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--loops", type=int, default=200000,
                    help="perf bench sched pipe -l LOOPS (default 200000)")
    ap.add_argument("--cpu", type=int, default=os.cpu_count() - 1,
                    help="CPU to pin the workload to (default: the last)")
    ap.add_argument("--no-write", action="store_true",
                    help="print only, leave docs/benchmarks.md alone")
    ap.add_argument("--no-static", action="store_true",
                    help="skip the STATIC=1 size build")
    args = ap.parse_args()
    if args.rounds < 1 or args.loops < 1000:
        ap.error("need --rounds >= 1 and --loops >= 1000")
    if os.geteuid() != 0:
        sys.exit("bench/schedlat.py: must run as root (sudo make bench)")
    for path in (SCHEDLAT_SRC, RUNQLAT):
        if not os.access(path, os.X_OK):
            sys.exit("bench/schedlat.py: %s missing (make; apt install "
                     "libbpf-tools)" % path)
    for tool in ("perf", "bpftool", "taskset", "clang", "strip"):
        if not shutil.which(tool):
            sys.exit("bench/schedlat.py: %s not found (sudo make deps)" % tool)
    # Ctrl-C must reach the finally blocks even if our parent started us
    # with SIGINT ignored (as a non-interactive shell does for `cmd &`).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    build_floor()
    snapshot(args)
    meta = meta_info(args)
    stats_prev = read_sysctl()
    meta["stats_prev"] = stats_prev
    results = {name: [] for name in CFG}
    t_start = time.monotonic()
    try:
        log("warm-up (each tool once, not counted)")
        pipe_bench(args.cpu, args.loops // 4)
        for name, argv, marker, _ in CONFIGS:
            if argv:
                t = Tool(name, argv, marker)
                progs, links = bpf_objects(t.pid)
                if t.stop() != 0:
                    raise BenchError("%s failed: %s" % (
                        name, t.out.decode(errors="replace")))
                check_gone(set(progs), links, name)
        names = list(CFG)
        for rnd in range(args.rounds):
            order = names[rnd % len(names):] + names[:rnd % len(names)]
            log("round %d/%d: %s" % (rnd + 1, args.rounds, " ".join(order)))
            for name in order:
                results[name].append(run_config(name, args))
        # back in CONFIGS order, rounds aligned: results[name][i] is round i
    finally:
        for t in list(children.values()):
            t.kill()
        try:
            write_sysctl(stats_prev)
        except OSError as e:
            log("WARNING: could not restore kernel.bpf_stats_enabled=%s: %s"
                % (stats_prev, e))
        try:
            progs, links = alive_ids()
            if progs & seen_progs or links & seen_links:
                log("ERROR: BPF programs %s / links %s of ours remain" % (
                    sorted(progs & seen_progs), sorted(links & seen_links)))
        except Exception as e:   # bpftool missing or broken: say so
            log("WARNING: could not verify cleanup: %s" % e)
    S = sizes(args)
    A = analyse(results)
    meta["all_tracing"] = all(A[n]["types"] == {BPF_PROG_TYPE_TRACING}
                              for n in CFG if CFG[n][1])
    text, ok = report(A, S, meta, args)
    print(text)
    for name in ("floor-sw", "floor-all"):
        for tp, ns in A[name]["per_run"].items():
            if ns is not None and not 20 <= ns <= 300:
                log("WARNING: %s %s costs %.0f ns per run: outside the "
                    "expected 20-300 ns, numbers suspect" % (name, tp, ns))
    if not meta["all_tracing"]:
        log("WARNING: not every program is tp_btf: %s" % {
            n: A[n]["types"] for n in CFG if CFG[n][1]})
    if not args.no_write:
        write_doc(text)
        log("wrote %s" % os.path.relpath(DOC, ROOT))
    log("bench took %.0f s; targets: %s" % (
        time.monotonic() - t_start, "all PASS" if ok else "some MISS"))
    return 0


if __name__ == "__main__":
    run_main(main, "bench/schedlat.py", "tools stopped, bpf_stats restored")
