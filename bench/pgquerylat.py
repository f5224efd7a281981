#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""
bench/pgquerylat.py: what does pgquerylat cost a busy PostgreSQL server?

Starts a throwaway cluster (initdb/pg_ctl as user postgres in a temporary
directory, unix socket there, a free 127.0.0.1 port), `pgbench -i -s 1`,
then one run, rounds interleaved (each round runs every configuration once,
the order rotated from round to round), configurations:

  untraced        nothing attached
  floor           empty USDT programs on postgresql:statement__status,
                  postgresql:transaction__abort and
                  postgresql:query__execute__start (pgquerylat's markers),
                  attached the same way (libbpf USDT, by binary path)
  pgquerylat      bin/pgquerylat -p POSTMASTER (histogram mode)
  pgquerylat-top  bin/pgquerylat -p POSTMASTER --top 10 (event mode:
                  sleepable programs, ring buffer, text normalization)

For each configuration and round: a short pgbench window with
kernel.bpf_stats_enabled=1, reading run_time_ns/run_cnt of the tool's own
programs (found through its /proc/PID/fd and fdinfo); then the measured
window, `pgbench -S -T 5 -c 2 -j 2 -n` over the unix socket with bpf_stats
off: TPS, and the CPU time of the backends (the postmaster's cutime/cstime),
of pgbench and of the tool. Then SIGINT, the tool's own statement count,
and a check that none of its programs or links remain.
Prints a Markdown report and puts it in docs/benchmarks.md as the
"## pgquerylat" section (the rest of the file is kept). Needs root.
"""
import argparse
import datetime
import hashlib
import os
import pwd
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import schedlat as sl   # noqa: E402  (Tool, bpf_objects, prog_stats, ...)
from schedlat import BenchError, log, med, rng, fmt, fmt_rng  # noqa: E402

ROOT = sl.ROOT
BUILD = sl.BUILD
PGFLOOR_BIN = os.path.join(BUILD, "pgfloor")
PGFLOOR_OBJ = os.path.join(BUILD, "pgfloor.bpf.o")
PGQUERYLAT_SRC = os.path.join(ROOT, "bin", "pgquerylat")
# The binary measured: a copy of bin/pgquerylat taken when the run starts.
PGQUERYLAT = os.path.join(BUILD, "pgquerylat")
DOC = sl.DOC
SECTION = "## pgquerylat"
PG_USER = "postgres"
PROVIDER = "postgresql"
MARKERS = ("statement__status", "transaction__abort", "query__execute__start")
TARGET = 1.05           # pgquerylat's slowdown / the floor's

# BPF program name -> the marker it is attached to
PROG_MARKER = {
    "floor_status": "statement__status", "floor_abort": "transaction__abort",
    "status_hist": "statement__status", "status_ev": "statement__status",
    "xact_abort": "transaction__abort",
    "floor_exec": "query__execute__start",
    "exec_start": "query__execute__start",
}
PROG_TYPES = {2: "kprobe (uprobe)"}

# name -> (argv builder, ready marker); argv gets (postgres binary, pm pid)
CONFIGS = {
    "untraced": (None, None),
    "floor": (lambda pgbin, pm: [
        PGFLOOR_BIN, PGFLOOR_OBJ, pgbin,
        "floor_status=%s:statement__status" % PROVIDER,
        "floor_abort=%s:transaction__abort" % PROVIDER,
        "floor_exec=%s:query__execute__start" % PROVIDER], b"ready"),
    "pgquerylat": (lambda pgbin, pm: [PGQUERYLAT, "--server", str(pm)],
                   b"Tracing"),
    "pgquerylat-top": (lambda pgbin, pm: [PGQUERYLAT, "--server", str(pm),
                                          "--top", "10"], b"Tracing"),
}
LABEL = {"untraced": "untraced", "floor": "floor",
         "pgquerylat": "pgquerylat", "pgquerylat-top": "pgquerylat --top 10"}
TOOLS = ("pgquerylat", "pgquerylat-top")
CLIENT_RE = re.compile(rb"^postgres: .* (\[local\]|[0-9.]+\(\d+\))")
CLK_TCK = os.sysconf("SC_CLK_TCK")
TRACEFS = "/sys/kernel/tracing"
RUNUSER = shutil.which("runuser", path="/usr/sbin:/sbin:/usr/bin:/bin") or \
    "/usr/sbin/runuser"


# ---------------------------------------------------------------- build

def build_pgfloor():
    """bench/pgfloor.bpf.c -> build/bench/pgfloor.bpf.o, bench/pgfloor.c ->
    build/bench/pgfloor, when out of date."""
    os.makedirs(BUILD, exist_ok=True)
    arch = os.uname().machine
    karch = {"x86_64": "x86", "aarch64": "arm64"}.get(arch, arch)
    multiarch = sl.run(["cc", "-dumpmachine"]).stdout.strip()
    steps = [
        (PGFLOOR_OBJ, os.path.join(ROOT, "bench", "pgfloor.bpf.c"),
         ["clang", "-g", "-O2", "-target", "bpf",
          "-D__TARGET_ARCH_%s" % karch, "-Wall", "-Werror",
          "-I" + os.path.join(ROOT, "vmlinux", karch),
          "-I/usr/include/" + multiarch, "-c"], []),
        (PGFLOOR_BIN, os.path.join(ROOT, "bench", "pgfloor.c"),
         ["cc", "-O2", "-g", "-Wall", "-Wextra", "-Werror"],
         ["-lbpf", "-lelf", "-lz"]),
    ]
    for out, src, cmd, libs in steps:
        if (os.path.exists(out) and
                os.path.getmtime(out) >= os.path.getmtime(src)):
            continue
        log("  BUILD    " + os.path.relpath(out, ROOT))
        try:
            sl.run(cmd + [src, "-o", out] + libs)
        except subprocess.CalledProcessError as e:
            raise BenchError("building %s failed:\n%s" % (out, e.stderr))


def snapshot(meta):
    tmp = PGQUERYLAT + ".tmp"
    shutil.copy2(PGQUERYLAT_SRC, tmp)
    os.replace(tmp, PGQUERYLAT)
    with open(PGQUERYLAT, "rb") as f:
        meta["sha"] = hashlib.sha256(f.read()).hexdigest()[:12]
    meta["built"] = datetime.datetime.fromtimestamp(
        os.path.getmtime(PGQUERYLAT)).astimezone().strftime(
            "%Y-%m-%d %H:%M:%S")


# ---------------------------------------------------------------- processes

def proc_stat(pid):
    """/proc/PID/stat fields after the command name (index 0 = state)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def alive(pid):
    st = proc_stat(pid)
    return st is not None and st[0] != "Z"


def children_of(ppid, zombies=False):
    out = set()
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st and int(st[1]) == ppid and (zombies or st[0] != "Z"):
                out.add(int(d))
    return out


def cpu_self(pid):
    """utime + stime of a live process, seconds."""
    st = proc_stat(pid)
    return (int(st[11]) + int(st[12])) / CLK_TCK if st else None


def cpu_reaped(pid):
    """cutime + cstime: CPU of the children pid has waited for, seconds."""
    st = proc_stat(pid)
    return (int(st[13]) + int(st[14])) / CLK_TCK if st else None


def cpu_system():
    """(busy, idle) CPU seconds of the whole machine so far, /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = v
    return ((user + nice + system + irq + softirq + steal) / CLK_TCK,
            (idle + iowait) / CLK_TCK)


def cpu_my_children():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


# ---------------------------------------------------------------- cluster

def pg_bindir():
    for d in [os.environ.get("HOWLONG_PG_BINDIR")] + sorted(
            (os.path.join("/usr/lib/postgresql", v, "bin")
             for v in (os.listdir("/usr/lib/postgresql")
                       if os.path.isdir("/usr/lib/postgresql") else [])
             if v.isdigit()), key=lambda p: -int(p.split("/")[-2])):
        if d and os.access(os.path.join(d, "initdb"), os.X_OK):
            return d
    raise BenchError("PostgreSQL server programs not found (no initdb in "
                     "/usr/lib/postgresql/*/bin; sudo make deps)")


class Cluster:
    """A throwaway server: initdb and pg_ctl as user postgres (runuser) in a
    temporary directory, unix socket there and a free loopback port."""

    SETTINGS = {
        "listen_addresses": "127.0.0.1", "shared_buffers": "32MB",
        "max_connections": "10", "fsync": "off", "synchronous_commit": "off",
        "full_page_writes": "off", "autovacuum": "off", "jit": "off",
        "wal_level": "minimal", "max_wal_senders": "0",
        "logging_collector": "off", "log_min_messages": "warning",
    }

    def __init__(self):
        self.bindir = pg_bindir()
        self.dir = None
        self.pm = None
        self.bg = None

    def _env(self):
        return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
                "LC_ALL": "C.UTF-8", "HOME": self.dir or "/"}

    def argv(self, prog, *args):
        return ([RUNUSER, "-u", PG_USER, "--",
                 os.path.join(self.bindir, prog)] + [str(a) for a in args])

    def run(self, prog, *args, timeout=60):
        try:
            r = subprocess.run(self.argv(prog, *args), cwd=self.dir,
                               env=self._env(), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BenchError("%s did not finish within %ds" % (prog, timeout))
        if r.returncode:
            raise BenchError("%s failed (exit %d): %s" % (
                prog, r.returncode, " ".join(r.stderr.split())[-300:]))
        return r

    def start(self):
        pw = pwd.getpwnam(PG_USER)
        self.dir = tempfile.mkdtemp(prefix="howlong-bench-pg.")
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o700)
        self.data = os.path.join(self.dir, "data")
        self.run("initdb", "-D", self.data, "-A", "trust", "-U", PG_USER,
                 "-E", "UTF8", "--locale=C", "--no-sync",
                 "--no-instructions")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\n# bench/pgquerylat.py\n")
            for k, v in self.SETTINGS.items():
                f.write("%s = '%s'\n" % (k, v))
            f.write("unix_socket_directories = '%s'\n" % self.dir)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.run("pg_ctl", "start", "-w", "-t", "30", "-D", self.data,
                 "-l", os.path.join(self.dir, "server.log"),
                 "-o", "-p %d" % self.port)
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            self.pm = int(f.readline())
        self.exe = os.path.realpath("/proc/%d/exe" % self.pm)
        self.version = self.run("postgres", "--version").stdout.strip()

    def backends(self):
        """Pids of the client backends (process title "postgres: USER DB
        [local] ..." over the unix socket, "... 127.0.0.1(PORT) ..." over
        TCP)."""
        out = set()
        for pid in children_of(self.pm):
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    title = f.read()
            except OSError:
                continue
            if CLIENT_RE.search(title):
                out.add(pid)
        return out

    def settle(self):
        """Wait until the postmaster has reaped every client backend (no
        zombie left either), so that its cutime/cstime include them. The
        first call learns the server's own processes (checkpointer, ...)."""
        deadline = time.monotonic() + 10
        while True:
            if self.bg is None:
                if not self.backends():
                    self.bg = children_of(self.pm)
            elif not children_of(self.pm, zombies=True) - self.bg:
                return
            if time.monotonic() > deadline:
                raise BenchError("client backends still there 10 s after "
                                 "pgbench exited")
            time.sleep(0.01)

    def pgbench(self, *args, timeout=60):
        """Run pgbench over the unix socket; returns (stdout, CPU seconds
        of runuser+pgbench). Own process group, killed on the way out."""
        argv = self.argv("pgbench", *args) + ["-h", self.dir, "-p",
                                               self.port, "postgres"]
        argv = [str(a) for a in argv]
        c0 = cpu_my_children()
        p = subprocess.Popen(argv, cwd=self.dir, env=self._env(),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
        try:
            out, err = p.communicate(timeout=timeout)
        finally:
            if p.returncode is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        if p.returncode:
            raise BenchError("pgbench %s failed (exit %d): %s" % (
                " ".join(map(str, args)), p.returncode,
                " ".join(err.split())[-300:]))
        return out, cpu_my_children() - c0

    def stop(self):
        if self.dir is None:
            return
        try:
            if self.pm and alive(self.pm):
                try:
                    self.run("pg_ctl", "stop", "-w", "-t", "20", "-m",
                             "fast", "-D", self.data, timeout=30)
                except BenchError as e:
                    log("WARNING: %s; killing the server" % e)
                if alive(self.pm):
                    for pid in [self.pm] + sorted(children_of(self.pm)):
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                    deadline = time.monotonic() + 5
                    while alive(self.pm) and time.monotonic() < deadline:
                        time.sleep(0.02)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.removed = self.dir
            self.dir = None


def pgbench_result(out):
    tps = re.search(r"^tps = ([0-9.]+) \(without initial", out, re.M)
    n = re.search(r"^number of transactions actually processed: (\d+)",
                  out, re.M)
    failed = re.search(r"^number of failed transactions: (\d+)", out, re.M)
    if not tps or not n:
        raise BenchError("unexpected pgbench output: %r" % out[-500:])
    if failed and int(failed.group(1)):
        raise BenchError("pgbench: %s failed transactions" % failed.group(1))
    return float(tps.group(1)), int(n.group(1))


# ---------------------------------------------------------------- BPF

def usdt_links(pid):
    """{prog_id: [(offset, ref_ctr_offset)]} of a process's uprobe links,
    from their fdinfo."""
    out = {}
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) != \
                    "anon_inode:bpf_link":
                continue
        except OSError:
            continue
        info = sl.fdinfo(pid, fd)
        if info.get("event_type") == "uprobe":
            out.setdefault(int(info["prog_id"]), []).append(
                (info.get("name"), int(info.get("offset", "0"), 16),
                 int(info.get("ref_ctr_offset", "0"), 16)))
    return out


def foreign_uprobes(path, mine):
    """{pid: comm} of the processes, other than mine, holding a uprobe link
    on the file path (by inode, whatever path they attached by): their
    programs run in our server's backends too."""
    try:
        st = os.stat(path)
    except OSError:
        return {}
    key = (st.st_dev, st.st_ino)
    found = {}
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) in mine:
            continue
        try:
            fds = os.listdir("/proc/%s/fd" % d)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink("/proc/%s/fd/%s" % (d, fd)) != \
                        "anon_inode:bpf_link":
                    continue
            except OSError:
                continue
            info = sl.fdinfo(int(d), fd)
            if info.get("event_type") != "uprobe":
                continue
            try:
                s = os.stat(info.get("name", ""))
            except OSError:
                continue
            if (s.st_dev, s.st_ino) == key:
                try:
                    with open("/proc/%s/comm" % d) as f:
                        found[int(d)] = f.read().strip()
                except OSError:
                    found[int(d)] = "?"
                break
    # uprobe events defined in tracefs and enabled
    try:
        with open(os.path.join(TRACEFS, "uprobe_events")) as f:
            events = f.read().splitlines()
    except OSError:
        events = []
    for line in events:
        m = re.match(r"^[pr]:(\S+) (\S+):0x", line)
        if not m:
            continue
        try:
            s = os.stat(m.group(2))
            with open(os.path.join(TRACEFS, "events", m.group(1),
                                   "enable")) as f:
                on = f.read().strip() != "0"
        except OSError:
            continue
        if on and (s.st_dev, s.st_ino) == key:
            found["tracefs:" + m.group(1)] = "enabled"
    return found


def wait_quiet(cl, args):
    """Wait (up to --quiet-wait seconds) until no other tracer has a uprobe
    on the server's binary; returns those still there."""
    deadline = time.monotonic() + args.quiet_wait
    said = False
    while True:
        f = foreign_uprobes(cl.exe, set(sl.children))
        if not f or time.monotonic() >= deadline:
            return f
        if not said:
            log("  waiting for other tracers on %s to go: %s" % (
                cl.exe, ", ".join("%s[%s]" % (c, p) for p, c in f.items())))
            said = True
        time.sleep(0.2)


def prog_names(ids):
    return {i: sl.bpftool_json("prog", "show", "id", str(i)).get("name", "?")
            for i in ids}


def semaphore(pid, path, file_off):
    """The 2-byte USDT semaphore at file offset file_off of path, as mapped
    in pid (the kernel raises it while a uprobe with that ref_ctr_offset is
    attached)."""
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 6 or parts[5] != path:
                continue
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            off = int(parts[2], 16)
            if off <= file_off < off + hi - lo:
                with open("/proc/%d/mem" % pid, "rb") as m:
                    m.seek(lo + file_off - off)
                    return int.from_bytes(m.read(2), "little")
    return None


# ---------------------------------------------------------------- one run

def tool_count(name, out):
    """Statements the tool itself counted, from its report at SIGINT."""
    text = out.decode(errors="replace")
    if name == "pgquerylat":
        m = re.search(r"^count (\d+)", text, re.M)
        return int(m.group(1)) if m else None
    rows = re.findall(r"^\s*(\d+)\s+\S+\s+\S+\s+\S+\s+\S+\s+\d+\s+\S",
                      text, re.M)
    return sum(int(r) for r in rows) if rows else None


def run_config(name, cl, args, state):
    build, marker = CONFIGS[name]
    res = {}
    fu = wait_quiet(cl, args)
    progs, links = {}, set()
    tool = sl.Tool(name, build(cl.exe, cl.pm), marker) if build else None
    try:
        if tool:
            res["ready_ms"] = tool.ready_ms
            progs, links = sl.bpf_objects(tool.pid)
            names = prog_names(progs)
            res["progs"] = {i: (names[i], PROG_MARKER.get(names[i], "?"),
                                progs[i]["type"]) for i in progs}
            sites = usdt_links(tool.pid)
            res["sites"] = {PROG_MARKER.get(names.get(i), "?"): sorted(s)
                            for i, s in sites.items()}
            if state.get("sem_off"):
                res["sem"] = semaphore(cl.pm, cl.exe, state["sem_off"])
        # window 1: BPF cost, bpf_stats on
        sl.write_sysctl(1)
        all0 = sl.all_prog_stats()
        before = sl.prog_stats(tool.pid, progs) if tool else {}
        out, _ = cl.pgbench("-S", "-T", args.stats_seconds, "-c",
                            args.clients, "-j", args.clients, "-n")
        after = sl.prog_stats(tool.pid, progs) if tool else {}
        all1 = sl.all_prog_stats()
        if sl.read_sysctl() != "1":
            raise BenchError("kernel.bpf_stats_enabled was changed by "
                             "someone else during the window")
        sl.write_sysctl(0)
        _, res["stats_txns"] = pgbench_result(out)
        cl.settle()
        res["stats"] = {}
        for prog_id in progs:
            mk = res["progs"][prog_id][1]
            t, c = res["stats"].get(mk, (0, 0))
            res["stats"][mk] = (
                t + after[prog_id][0] - before[prog_id][0],
                c + after[prog_id][1] - before[prog_id][1])
        res["foreign"] = {}
        for i, (nm, ty, t, c) in all1.items():
            if i in progs or i not in all0 or c <= all0[i][3]:
                continue
            res["foreign"][(i, nm, ty)] = (t - all0[i][2], c - all0[i][3])
        # window 2: measured, bpf_stats off
        srv0 = cpu_reaped(cl.pm)
        tool0 = cpu_self(tool.pid) if tool else 0
        sys0 = cpu_system()
        t0 = time.monotonic()
        out, res["pgbench_cpu"] = cl.pgbench(
            "-S", "-T", args.seconds, "-c", args.clients, "-j",
            args.clients, "-n")
        wall = time.monotonic() - t0
        sys1 = cpu_system()
        tool1 = cpu_self(tool.pid) if tool else 0
        res["tps"], res["txns"] = pgbench_result(out)
        cl.settle()
        res["server_cpu"] = cpu_reaped(cl.pm) - srv0
        res["tool_cpu"] = tool1 - tool0
        # everything else on the machine meanwhile, in CPUs (1.0 = one
        # CPU busy for the whole window), and the idle CPUs
        res["other_cpus"] = max(0.0, (sys1[0] - sys0[0]) - res["server_cpu"]
                                - res["pgbench_cpu"] - res["tool_cpu"]) / wall
        res["idle_cpus"] = (sys1[1] - sys0[1]) / wall
        fu.update(foreign_uprobes(cl.exe, set(sl.children)))
        res["foreign_uprobes"] = fu
    finally:
        if tool:
            rc = tool.stop()
            if rc != 0:
                raise BenchError("%s exited %d: %s" % (
                    name, rc, tool.out.decode(errors="replace")))
            sl.check_gone(set(progs), links, name)
    if tool:
        res["count"] = tool_count(name, tool.out)
        res["output"] = tool.out
    return res


# ---------------------------------------------------------------- report

def analyse(results):
    A = {}
    u = results["untraced"]
    for name in CONFIGS:
        rs = results[name]
        a = A[name] = {}
        a["tps"] = med(r["tps"] for r in rs)
        a["tps_rng"] = rng(r["tps"] for r in rs)
        a["slow"] = [ur["tps"] / r["tps"] for r, ur in zip(rs, u)]
        a["slowdown"] = med(a["slow"])
        a["slowdown_rng"] = rng(a["slow"])
        a["cpu_us"] = med(r["server_cpu"] / r["txns"] * 1e6 for r in rs)
        a["cpu_rng"] = rng(r["server_cpu"] / r["txns"] * 1e6 for r in rs)
        a["pgbench_us"] = med(r["pgbench_cpu"] / r["txns"] * 1e6 for r in rs)
        a["idle"] = med(r["idle_cpus"] for r in rs)
        a["idle_rng"] = rng(r["idle_cpus"] for r in rs)
        a["other"] = med(r["other_cpus"] for r in rs)
        a["other_max"] = max(r["other_cpus"] for r in rs)
        if name == "untraced":
            continue
        a["ready_ms"] = med(r["ready_ms"] for r in rs)
        a["tool_us"] = med(r["tool_cpu"] / r["txns"] * 1e6 for r in rs)
        a["types"] = sorted({p[2] for r in rs for p in r["progs"].values()})
        a["sites"] = rs[0]["sites"]
        a["same_sites"] = all(r["sites"] == a["sites"] for r in rs)
        a["sem"] = [r.get("sem") for r in rs]
        a["per_run"], a["runs"], a["hits_per_txn"] = {}, {}, {}
        for mk in MARKERS:
            a["per_run"][mk] = med(r["stats"][mk][0] / r["stats"][mk][1]
                                   if r["stats"].get(mk, (0, 0))[1] else None
                                   for r in rs)
            a["per_run_rng"] = a.get("per_run_rng", {})
            a["per_run_rng"][mk] = rng(
                r["stats"][mk][0] / r["stats"][mk][1]
                if r["stats"].get(mk, (0, 0))[1] else None for r in rs)
            a["runs"][mk] = med(r["stats"].get(mk, (0, 0))[1] for r in rs)
            a["hits_per_txn"][mk] = med(r["stats"].get(mk, (0, 0))[1] /
                                        r["stats_txns"] for r in rs)
        a["bpf_per_stmt"] = med(sum(t for t, _ in r["stats"].values()) /
                                r["stats_txns"] for r in rs)
        hits = sum(a["hits_per_txn"][mk] for mk in MARKERS)
        a["hits"] = hits
        # paired per round: extra backend CPU per statement over untraced,
        # spread over the marker hits of one statement
        a["extra_cpu_us"] = med(
            (r["server_cpu"] / r["txns"] - ur["server_cpu"] / ur["txns"]) *
            1e6 for r, ur in zip(rs, u))
        a["per_hit_ns"] = (a["extra_cpu_us"] * 1e3 / hits if hits else None)
        if name in TOOLS:
            a["count_ratio"] = med(
                r["count"] / (r["stats_txns"] + r["txns"])
                if r["count"] is not None else None for r in rs)
    f = A["floor"]
    for name in TOOLS:
        a = A[name]
        a["ratio_all"] = [s / fs for s, fs in zip(a["slow"], f["slow"])]
        a["ratio"] = med(a["ratio_all"])
        a["ratio_rng"] = rng(a["ratio_all"])
        a["ok"] = a["ratio"] <= TARGET
        a["net_ns"] = (a["per_run"]["statement__status"] -
                       f["per_run"]["statement__status"])
    fg = {}
    for name in CONFIGS:
        for r in results[name]:
            for k, v in r["foreign"].items():
                fg.setdefault(k, []).append(v)
    A["_foreign"] = {k: (len(v), sum(t for t, _ in v), sum(c for _, c in v))
                     for k, v in fg.items()}
    A["_windows"] = sum(len(results[n]) for n in CONFIGS)
    A["_contaminated"] = [(n, i + 1, r["foreign_uprobes"])
                          for n in CONFIGS
                          for i, r in enumerate(results[n])
                          if r["foreign_uprobes"]]
    return A


def reading(A):
    """The figures above, read: where the cost per statement is."""
    f, d, t = A["floor"], A["pgquerylat"], A["pgquerylat-top"]
    mk = "statement__status"
    hits = f["hits_per_txn"][mk]
    ns_f, ns_d, ns_t = (A[n]["per_run"][mk] for n in
                        ("floor", "pgquerylat", "pgquerylat-top"))
    ab = f["hits_per_txn"]["transaction__abort"]
    parts = ["**Reading.** Each statement hits statement__status %.2f times "
             "and transaction__abort %s." % (
                 hits, "never (nothing aborts)" if not ab else
                 "%.2f times" % ab)]
    ph = f["per_hit_ns"]
    if ph and ph > ns_f:
        parts.append(
            "A hit of the floor costs the backend about %.0f ns of CPU in "
            "all, of which the empty program is %.0f ns (bpf_stats): the "
            "uprobe itself — int3 trap, uprobe lookup, the return to user "
            "space — is about %.0f%% of it, and floor and pgquerylat pay it "
            "alike." % (ph, ns_f, 100 * (1 - ns_f / ph)))
    else:
        parts.append("The CPU-based cost per hit of the floor (%s) is too "
                     "noisy in this run to split into trap and program." %
                     fmt(ph, ".0f", " ns"))
    parts.append(
        "pgquerylat's histogram program costs %.0f ns per hit, %+.0f ns "
        "over the empty one: %.2f µs per statement, %.1f%% of an untraced "
        "statement's %.1f µs of backend CPU; its slowdown is %.3f× the "
        "floor's (target ≤ %.2f×)." % (
            ns_d, ns_d - ns_f, (ns_d - ns_f) * hits / 1e3,
            100 * (ns_d - ns_f) * hits / 1e3 / A["untraced"]["cpu_us"],
            A["untraced"]["cpu_us"], d["ratio"], TARGET))
    parts.append(
        "With `--top` the event programs run %.0f ns per hit (%.1f µs per "
        "statement in BPF, %.0f× the histogram program) and the tool "
        "itself uses %.1f µs of CPU per statement in user space (ring "
        "buffer consumer, normalization, aggregation) on the same %d CPUs "
        "as server and client: that is the %.2f× slowdown (%.3f× the "
        "floor's)." % (
            ns_t, ns_t * hits / 1e3, ns_t / ns_d, t["tool_us"],
            os.cpu_count(), t["slowdown"], t["ratio"]))
    return " ".join(parts)


def report(A, meta, args):
    L = []
    w = L.append
    f = A["floor"]
    w(SECTION)
    w("")
    w("What pgquerylat costs a busy PostgreSQL server, next to the floor: "
      "empty BPF programs on the same three markers, attached the same "
      "way. "
      "Produced by `%s` (run as root) on %s, in %.0f s." % (
          meta["command"], meta["date"], meta["elapsed"]))
    w("")
    w("Machine: Linux %s, %s, %d CPUs; libbpf %s; %s (`%s`); "
      "%s, bin/pgquerylat built %s, sha256 %s… (copied to "
      "build/bench/pgquerylat when the run started). Load average before / "
      "after the run: %s / %s." % (
          meta["kernel"], meta["machine"], meta["ncpu"], meta["libbpf"],
          meta["pg_version"], meta["pg_bin"], meta["version"], meta["built"],
          meta["sha"], meta["load0"], meta["load1"]))
    w("")
    w("Workload: `%s`, %d rounds." % (meta["pgbench"], args.rounds))
    w("")
    w("### Targets")
    w("")
    w("| pgquerylat mode | floor's slowdown | pgquerylat's slowdown | ratio "
      "(pgquerylat / floor) | goal | result |")
    w("|---|---|---|---|---|---|")
    for name in TOOLS:
        a = A[name]
        w("| `%s` | %.3f× | %.3f× | %.3f×%s | ≤ %.2f× | **%s** |" % (
            LABEL[name], f["slowdown"], a["slowdown"], a["ratio"],
            fmt_rng(a["ratio_rng"], ".3f"), TARGET,
            "PASS" if a["ok"] else "MISS"))
    w("")
    w("Slowdown = untraced TPS / the configuration's TPS, paired with the "
      "untraced window of the same round; the ratio is computed per round "
      "too (= floor TPS / pgquerylat TPS of that round). Medians over "
      "rounds, range in parentheses.")
    w("")
    w("### All configurations (medians over rounds, range in parentheses)")
    w("")
    w("Throughput, measured windows (bpf_stats off):")
    w("")
    w("| configuration | TPS = statements/s | slowdown vs untraced | "
      "÷ floor's slowdown | CPUs idle | CPUs used by other processes |")
    w("|---|---|---|---|---|---|")
    for name in CONFIGS:
        a = A[name]
        w("| `%s` | %.0f%s | %s | %s | %.2f%s | %.2f (max %.2f) |" % (
            LABEL[name], a["tps"], fmt_rng(a["tps_rng"]),
            "—" if name == "untraced" else "%.3f×%s" % (
                a["slowdown"], fmt_rng(a["slowdown_rng"], ".3f")),
            "%.3f×%s" % (a["ratio"], fmt_rng(a["ratio_rng"], ".3f"))
            if name in TOOLS else "—",
            a["idle"], fmt_rng(a["idle_rng"], ".2f"), a["other"],
            a["other_max"]))
    w("")
    w("Cost per statement (one statement per transaction):")
    w("")
    w("| configuration | BPF ns per run on statement__status | net of "
      "floor | BPF ns per statement | backend CPU per statement | extra "
      "over untraced | = per marker hit | tool's own CPU per statement | "
      "exec → ready |")
    w("|---|---|---|---|---|---|---|---|---|")
    mk = "statement__status"
    for name in CONFIGS:
        a = A[name]
        cpu = "%.2f µs%s" % (a["cpu_us"], fmt_rng(a["cpu_rng"], ".2f"))
        if name == "untraced":
            w("| `untraced` | — | — | — | %s | — | — | — | — |" % cpu)
            continue
        w("| `%s` | %.0f%s | %s | %.0f ns | %s | %+.2f µs | %s | %.2f µs "
          "| %.1f ms |" % (
              LABEL[name], a["per_run"][mk], fmt_rng(a["per_run_rng"][mk]),
              "(is the floor)" if name == "floor" else
              "%+.0f ns" % a["net_ns"], a["bpf_per_stmt"], cpu,
              a["extra_cpu_us"], fmt(a["per_hit_ns"], ".0f", " ns"),
              a["tool_us"], a["ready_ms"]))
    w("")
    hs = f["hits_per_txn"]
    w(reading(A))
    w("")
    w("Marker hits per statement (floor, bpf_stats window): "
      "statement__status %.2f (active with the text, idle with NULL), "
      "query__execute__start %.2f (a portal runs), "
      "transaction__abort %.2f (select-only: nothing aborts, so its "
      "programs never ran and have no per-run cost). pgbench's own CPU: "
      "%.2f µs per transaction untraced." % (
          hs["statement__status"], hs["query__execute__start"],
          hs["transaction__abort"], A["untraced"]["pgbench_us"]))
    w("")
    w("Statements counted by pgquerylat / transactions pgbench reported "
      "over both windows (one statement per transaction): default %.4f, "
      "`--top` %.4f." % (A["pgquerylat"]["count_ratio"],
                         A["pgquerylat-top"]["count_ratio"]))
    w("")
    sites = f["sites"]
    same = all(A[n]["sites"] == sites and A[n]["same_sites"]
               for n in ("floor",) + TOOLS)
    w("Attach points: %s. %s" % (
        "; ".join("%s at 0x%x (semaphore 0x%x)" % ((mk,) + s[0][1:])
                  if len(s) == 1 else "%s at %d sites" % (mk, len(s))
                  for mk, s in sorted(sites.items())),
        "Floor and both pgquerylat modes attached exactly these uprobes "
        "(offset and ref_ctr_offset read from each link's fdinfo, every "
        "round)." if same else "**The attach points differ between "
        "configurations: %s**" % {n: A[n]["sites"] for n in
                                   ("floor",) + TOOLS}))
    w("BPF program types: %s." % "; ".join(
        "%s %s" % (LABEL[n], "/".join(PROG_TYPES.get(t, str(t))
                                      for t in A[n]["types"]))
        for n in ("floor",) + TOOLS))
    w("")
    if A["_contaminated"]:
        w("**Other tracers on the same binary:** in %d of %d "
          "configuration runs another process held a uprobe on `%s` "
          "(its programs then run in this server's backends too and slow "
          "whichever configuration was running): %s." % (
              len(A["_contaminated"]), A["_windows"], meta["pg_bin"],
              "; ".join("%s round %d: %s" % (
                  LABEL[n], i, ", ".join("%s[%s]" % (c, p)
                                         for p, c in sorted(
                                             f.items(), key=str)))
                  for n, i, f in A["_contaminated"])))
    else:
        w("No other process held a uprobe on `%s` during the run "
          "(checked before and after each configuration run)." %
          meta["pg_bin"])
    w("")
    if A["_foreign"]:
        w("**Background:** BPF programs that are not this bench's ran "
          "during the bpf_stats windows (loaded by something else on the "
          "machine); they cost every configuration alike:")
        w("")
        for (i, nm, ty), (n, t, c) in sorted(A["_foreign"].items()):
            w("- id %d `%s` (%s): in %d of %d windows, %d runs, %.1f ms "
              "in total" % (i, nm, ty, n, A["_windows"], c, t / 1e6))
    else:
        w("No other BPF program ran during the bpf_stats windows.")
    w("")
    w("Cleanup: %s" % meta["cleanup"])
    w("")
    w("### How measured")
    w("")
    w("- **Server**: a throwaway cluster for the run (`initdb` and `pg_ctl` "
      "as user postgres via `runuser`, in a temporary directory, unix "
      "socket there, a free 127.0.0.1 port; shared_buffers 32MB, fsync, "
      "synchronous_commit, full_page_writes, autovacuum and jit off), "
      "`pgbench -i -s 1`, stopped and removed at the end. The server runs "
      "the packaged binary, with no configuration change for tracing.")
    w("- **One run, rounds interleaved.** Each round runs every "
      "configuration once, the order rotated by one each round; a "
      "warm-up pgbench window and one start of each traced configuration "
      "come first and are not counted. *floor*: `bench/pgfloor.bpf.c`, "
      "`SEC(\"usdt\") int BPF_USDT(f) { return 0; }` on "
      "`postgresql:statement__status`, `postgresql:transaction__abort` "
      "and `postgresql:query__execute__start`, "
      "loaded by `bench/pgfloor.c` with `bpf_program__attach_usdt(prog, -1, "
      "binary, \"postgresql\", marker, NULL)` — by path, every process, "
      "as pgquerylat does. *pgquerylat*: `bin/pgquerylat -p POSTMASTER` "
      "(histogram; filters to the server's backends inside BPF). "
      "*pgquerylat --top 10*: the same plus `--top 10` (sleepable "
      "programs that copy the text, a ring buffer event per statement, "
      "normalization in user space). Each tool is started on a pty and "
      "counted as ready at its \"Tracing\" (\"ready\") line.")
    w("- **Per configuration and round**: first a %d s pgbench window with "
      "kernel.bpf_stats_enabled=1 (put back to its previous value, %s, at "
      "the end, also on failure), reading `run_time_ns`/`run_cnt` of the "
      "tool's own programs through its `/proc/PID/fd` and `fdinfo` (the "
      "links' fdinfo give the uprobe offsets); *BPF ns per run* = Δrun_time"
      "_ns / Δrun_cnt of the program on statement__status, including "
      "bpf_stats' own two clock reads, excluding the uprobe trap. Then the "
      "measured window `%s` with bpf_stats off: TPS is pgbench's \"without "
      "initial connection time\" figure; *backend CPU per statement* is "
      "the growth of the postmaster's cutime+cstime (the backends are "
      "reaped before it is read) over the transactions; *extra over "
      "untraced* subtracts the same round's untraced figure, and *per "
      "marker hit* divides that by the marker hits per statement: the "
      "whole in-kernel cost of a hit, trap and program together. *Tool's "
      "own CPU* is its utime+stime over the window. Then SIGINT, the "
      "tool's report (its statement count), and a check with `bpftool` "
      "that none of its programs or links remain." % (
          args.stats_seconds, meta["stats_prev"], meta["pgbench"]))
    w("- The statement__status semaphore (at the links' "
      "`ref_ctr_offset`, read from the postmaster's memory; the kernel "
      "raises it while a uprobe on the marker is registered) was %s." %
      meta["sem"])
    w("- pgbench's TPS on 2 CPUs with 2 clients and 2 pgbench threads is "
      "CPU-bound: client and server share the CPUs, so a cost added to "
      "the backends shows up in TPS, and so does anything else running on "
      "the machine (hence interleaved rounds, medians and ranges).")
    return "\n".join(L) + "\n"


# ---------------------------------------------------------------- main

def meta_info():
    def out(argv):
        try:
            return sl.run(argv).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "?"
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return {
        "command": " ".join(["/usr/bin/python3", "bench/pgquerylat.py"] +
                            sys.argv[1:]),
        "date": datetime.datetime.now().astimezone().strftime(
            "%Y-%m-%d %H:%M %Z"),
        "kernel": os.uname().release, "machine": os.uname().machine,
        "ncpu": os.cpu_count(),
        "libbpf": out(["pkg-config", "--modversion", "libbpf"]),
        "version": out([PGQUERYLAT, "-V"]).split("\n")[0],
        "load0": load,
    }


def leftovers(cl, my_children_before):
    """What of ours is still there: a list of strings, empty if nothing."""
    bad = []
    if sl.children:
        bad.append("tools %s" % sorted(sl.children))
    try:
        progs, links = sl.alive_ids()
        if progs & sl.seen_progs or links & sl.seen_links:
            bad.append("BPF programs %s / links %s" % (
                sorted(progs & sl.seen_progs), sorted(links & sl.seen_links)))
    except Exception as e:
        bad.append("cannot verify BPF cleanup: %s" % e)
    if cl.pm and alive(cl.pm):
        bad.append("postmaster %d" % cl.pm)
    stray = children_of(os.getpid()) - my_children_before
    if stray:
        bad.append("child processes %s" % sorted(stray))
    if getattr(cl, "removed", None):
        needle = cl.removed.encode()
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    if needle in f.read():
                        bad.append("process %s runs in %s" % (d, cl.removed))
            except OSError:
                pass
        if os.path.exists(cl.removed):
            bad.append("directory %s" % cl.removed)
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=9,
                    help="interleaved rounds (default 9: with 5 the "
                    "median moved by 5%% between runs)")
    ap.add_argument("--seconds", type=int, default=5,
                    help="pgbench -T of the measured window (default 5)")
    ap.add_argument("--stats-seconds", type=int, default=2,
                    help="pgbench -T of the bpf_stats window (default 2)")
    ap.add_argument("--clients", type=int, default=2,
                    help="pgbench -c and -j (default 2)")
    ap.add_argument("--quiet-wait", type=float, default=20,
                    help="before each configuration, wait up to this many "
                    "seconds for other tracers' uprobes on the postgres "
                    "binary to go (default 20)")
    ap.add_argument("--no-write", action="store_true",
                    help="print only, leave docs/benchmarks.md alone")
    args = ap.parse_args()
    if args.rounds < 1 or args.seconds < 1 or args.stats_seconds < 1 or \
            args.clients < 1:
        ap.error("need --rounds, --seconds, --stats-seconds, --clients >= 1")
    if os.geteuid() != 0:
        sys.exit("bench/pgquerylat.py: must run as root")
    if not os.access(PGQUERYLAT_SRC, os.X_OK):
        sys.exit("bench/pgquerylat.py: %s missing (make)" % PGQUERYLAT_SRC)
    for tool in ("bpftool", "clang", RUNUSER):
        if not shutil.which(tool):
            sys.exit("bench/pgquerylat.py: %s not found (sudo make deps)"
                     % tool)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, sl.on_term)
    signal.signal(signal.SIGHUP, sl.on_term)

    t_start = time.monotonic()
    build_pgfloor()
    meta = {}
    snapshot(meta)
    meta.update(meta_info())
    meta["pgbench"] = "pgbench -S -T %d -c %d -j %d -n" % (
        args.seconds, args.clients, args.clients)
    stats_prev = sl.read_sysctl()
    meta["stats_prev"] = stats_prev
    results = {name: [] for name in CONFIGS}
    my_children = children_of(os.getpid())
    cl = Cluster()
    failed = None
    state = {}
    try:
        log("starting a throwaway cluster")
        cl.start()
        cl.run("pgbench", "-i", "-s", "1", "-q", "-h", cl.dir, "-p", cl.port,
               "postgres")
        cl.settle()
        meta["pg_version"] = cl.version
        meta["pg_bin"] = cl.exe
        log("warm-up (one pgbench window, each traced configuration once; "
            "not counted)")
        cl.pgbench("-S", "-T", args.stats_seconds, "-c", args.clients,
                   "-j", args.clients, "-n")
        cl.settle()
        for name, (build, marker) in CONFIGS.items():
            if not build:
                continue
            t = sl.Tool(name, build(cl.exe, cl.pm), marker)
            progs, links = sl.bpf_objects(t.pid)
            if name == "floor":
                for s in usdt_links(t.pid).values():
                    for _, _, ref in s:
                        if ref and "sem_off" not in state:
                            state["sem_off"] = ref
            if t.stop() != 0:
                raise BenchError("%s failed: %s" % (
                    name, t.out.decode(errors="replace")))
            sl.check_gone(set(progs), links, name)
            if name == "floor":
                # nothing of ours attached now: the baseline (0 unless
                # another tracer holds the marker, or leaked a count)
                state["sem0"] = semaphore(cl.pm, cl.exe, state["sem_off"])
        names = list(CONFIGS)
        for rnd in range(args.rounds):
            order = names[rnd % len(names):] + names[:rnd % len(names)]
            log("round %d/%d: %s" % (rnd + 1, args.rounds, " ".join(order)))
            for name in order:
                results[name].append(run_config(name, cl, args, state))
        sem0 = state["sem0"]
        sems = [r.get("sem") for n in CONFIGS if CONFIGS[n][0]
                for r in results[n]]
        s_end = semaphore(cl.pm, cl.exe, state["sem_off"])
        fu = foreign_uprobes(cl.exe, set())
        meta["sem"] = (
            "%d before any tracer of this bench was attached%s; %s while "
            "one was attached; %s after the last one stopped" % (
                sem0, "" if sem0 == 0 else
                " (raised by something outside this bench)",
                "%s (baseline + 1) every time" % (sem0 + 1)
                if all(x == sem0 + 1 for x in sems) else
                "**%s**" % ", ".join(map(str, sems)),
                "%d, the baseline again" % s_end if s_end == sem0 else
                "**%s, not the baseline**%s" % (
                    s_end, " (other tracers on the binary at that moment: "
                    "%s)" % ", ".join("%s[%s]" % (c, p) for p, c in
                                      sorted(fu.items(), key=str))
                    if fu else "")))
    except BaseException as e:
        failed = e
    finally:
        for t in list(sl.children.values()):
            t.kill()
        try:
            sl.write_sysctl(stats_prev)
        except OSError as e:
            log("WARNING: could not restore kernel.bpf_stats_enabled=%s: %s"
                % (stats_prev, e))
        try:
            cl.stop()
        except Exception as e:
            log("WARNING: stopping the cluster: %s" % e)
        bad = leftovers(cl, my_children)
        if bad:
            log("ERROR: left behind: %s" % "; ".join(bad))
        if sl.read_sysctl() != stats_prev:
            bad.append("kernel.bpf_stats_enabled is %s, was %s" % (
                sl.read_sysctl(), stats_prev))
    if failed is not None:
        raise failed
    meta["elapsed"] = time.monotonic() - t_start
    with open("/proc/loadavg") as f:
        meta["load1"] = " ".join(f.read().split()[:3])
    meta["cleanup"] = (
        "after the run no BPF program or link of the floor or of pgquerylat "
        "was loaded (`bpftool prog show` / `bpftool link show`), no tool, "
        "pgbench or server process of the run was left, the cluster "
        "directory was removed and kernel.bpf_stats_enabled was %s again."
        % stats_prev if not bad else "**left behind: %s**" % "; ".join(bad))
    A = analyse(results)
    text = report(A, meta, args)
    print(text)
    for name in ("floor",) + TOOLS:
        ns = A[name]["per_run"]["statement__status"]
        if name == "floor" and ns is not None and not 10 <= ns <= 300:
            log("WARNING: floor statement__status costs %.0f ns per run: "
                "outside the expected 10-300 ns, numbers suspect" % ns)
    if not args.no_write:
        sl.write_section(SECTION, text)
        log("wrote %s (section %s)" % (os.path.relpath(DOC, ROOT), SECTION))
    log("bench took %.0f s; targets: %s" % (
        time.monotonic() - t_start,
        ", ".join("%s %s" % (LABEL[n], "PASS" if A[n]["ok"] else "MISS")
                  for n in TOOLS)))
    return 1 if bad else 0


if __name__ == "__main__":
    sl.run_main(main, "bench/pgquerylat.py",
                "tools stopped, server removed, bpf_stats restored")
