#!/usr/bin/python3
"""make check-arm64: the static arm64 tools (make ARCH=arm64 STATIC=1) on
Debian's arm64 kernel, booted under qemu-system-aarch64 (emulation), each
against truth that does not share its mechanism, as on x86:

- syslat: the test program's own count of each call it makes (pairs.c
  "syscalls"), each call inside the program's own span, nanosleep at
  least what it slept, openat failing every time;
- schedlat: the victim thread's context switches (/proc status: another
  layer than the scheduler hooks), 1% or 2 apart at most;
- usdtlat, funclat: the program's own record of each marked interval or
  call, inside [slept, its own span];
- irqlat: /proc/interrupts and /proc/softirqs read inside and outside
  the tool's window: the inner deltas <= the tool's counts <= the outer
  (arm64's IPIs, IRQs named "IPI" whose rows /proc names IPI0...,
  together);
- biolat: /sys/block/loopN/stat (reads completed) the same way;
- usdtlist: the markers that aarch64-linux-gnu-readelf finds in the
  program's notes.

And the arm64 package: dpkg-buildpackage -a arm64 from a clean copy of
the tree, every tool in it an AArch64 executable, lintian without
errors or warnings.

The guest cannot run the host's programs. First it runs one busybox sh
script (written here) that prints each scenario's raw output between
"=== NAME" lines, all checked here, on the host. Then it boots again
into an arm64 Debian root (selftests/arm64/root.py: Python, PostgreSQL,
a JVM) with this tree laid over it, and runs the suite's own tests of
SUITE there with the arm64 tools and test programs: the JVM's
compilations and pauses against its own logs, PostgreSQL's statements,
TCP connects against the client's own, srtt against ss, mmap_lock's
waits against perf lock's, a memory cgroup's reclaims against its own
counters, and howlong's verdict for every tool against a run of it.
(The suite's tightest timing bounds do not hold under emulation; these
tests check counts.)
Prints "ok"/"FAIL" per check and "N passed, N failed"; exits 1 on a
failure or if the guest did not run.

    check.py [--timeout S] [--kernel-log FILE] [--doc PATH]

--doc puts the results in PATH's "## arm64" section (docs/portability.md,
whose kernel matrix keeps it).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "selftests", "kernels"))
sys.path.insert(0, os.path.join(ROOT, "selftests"))
sys.path.insert(0, HERE)

import kernels  # noqa: E402
import root  # noqa: E402
import vm  # noqa: E402
from lib import debpkg, project  # noqa: E402
from lib.harness import Failure  # noqa: E402

KERNEL = "6.1-arm64"
SUITE = ["jitlat/count", "jvmpauselat/pid-labels",
         "pgquerylat/rollback-not-error", "usdtlat/by", "connlat/endpoints",
         "rttlat/vs-ss", "locklat/vs-perf-rwsem", "reclaimlat/memcg",
         "howlong/verdicts-vs-runs"]
BIN = "bin/arm64"
PROGS = "build/arm64/test-progs"
N, MS = 10, 3           # pairs syscalls/funcs: N calls of each, MS ms
CALLS = ("nanosleep", "readv", "openat", "getppid")
READELF = "aarch64-linux-gnu-readelf"

GUEST = r'''
B=%(bin)s
T=%(progs)s
say() { echo "=== $1"; }
show() { echo "--- $1"; cat "$2"; }
# pairs MODE ARGS: the test program, blocked on its stdin (a fifo) until
# go; sets PID.
pairs() {
	rm -f /tmp/in /tmp/pairs.out
	mkfifo /tmp/in
	"$T/pairs" "$@" </tmp/in >/tmp/pairs.out 2>&1 &
	PID=$!
	exec 4>/tmp/in
	until grep -q '^ready' /tmp/pairs.out; do sleep 0.1; done
}
blocked() {
	until grep -q '^State:.*S (sleeping)' /proc/$PID/task/$PID/status; do
		sleep 0.05
	done
}
go() {
	echo go >&4
	until grep -q '^done' /tmp/pairs.out; do sleep 0.1; done
	blocked
}
pairs_end() { exec 4>&-; wait $PID; }
# tool N CMD...: a tool in the background, once it says it traces.
tool() {
	n=$1; shift
	"$B/$@" >/tmp/t$n.out 2>/tmp/t$n.err &
	eval P$n=$!
	until grep -q -e Tracing -e Listing /tmp/t$n.err; do
		kill -0 $(eval echo \$P$n) 2>/dev/null || break
		sleep 0.1
	done
}
tool_end() { kill -INT $(eval echo \$P$1); wait $(eval echo \$P$1); echo "rc $?" >>/tmp/t$1.err; }
switches() { grep ctxt_switches /proc/$PID/task/$PID/status; }

say syscalls
pairs syscalls %(n)d %(ms)d
tool 1 syslat -j -e -p $PID -s %(calls)s
tool 2 schedlat -j -t $PID
blocked
switches >/tmp/s0
go
switches >/tmp/s1
tool_end 1; tool_end 2; pairs_end
show pairs /tmp/pairs.out; show syslat /tmp/t1.out; show syslat.err /tmp/t1.err
show schedlat /tmp/t2.out; show schedlat.err /tmp/t2.err
show s0 /tmp/s0; show s1 /tmp/s1

say usdt
pairs threads 2 3 1
tool 1 usdtlat -j -p $PID $T/pairs hltest:req__start hltest:req__done
tool 2 usdtlat -j -p $PID --by 1 $T/pairs hltest:req__start hltest:req__done
go
tool_end 1; tool_end 2; pairs_end
show pairs /tmp/pairs.out; show usdtlat /tmp/t1.out; show usdtlat.err /tmp/t1.err
show by /tmp/t2.out; show by.err /tmp/t2.err

say funcs
pairs funcs %(n)d %(ms)d
tool 1 funclat -j -p $PID "$T/pairs:work_*"
go
tool_end 1; pairs_end
show pairs /tmp/pairs.out; show funclat /tmp/t1.out; show funclat.err /tmp/t1.err

say irq
cat /proc/interrupts >/tmp/o0i; cat /proc/softirqs >/tmp/o0s
tool 1 irqlat -j
tool 2 irqlat -j -S
cat /proc/interrupts >/tmp/i0i; cat /proc/softirqs >/tmp/i0s
dd if=/dev/zero of=/tmp/z bs=1M count=8 2>/dev/null; sleep 2; sync
cat /proc/interrupts >/tmp/i1i; cat /proc/softirqs >/tmp/i1s
tool_end 1; tool_end 2
cat /proc/interrupts >/tmp/o1i; cat /proc/softirqs >/tmp/o1s
show hard /tmp/t1.out; show hard.err /tmp/t1.err
show soft /tmp/t2.out; show soft.err /tmp/t2.err
for f in o0i o0s i0i i0s i1i i1s o1i o1s; do show $f /tmp/$f; done

say block
dd if=/dev/urandom of=/tmp/disk bs=1M count=16 2>/dev/null
LOOP=$(losetup -f)
losetup $LOOP /tmp/disk
D=${LOOP#/dev/}
echo 3 >/proc/sys/vm/drop_caches
cat /sys/block/$D/stat >/tmp/o0
tool 1 biolat -j -F -d $D
cat /sys/block/$D/stat >/tmp/i0
dd if=$LOOP of=/dev/null bs=64k 2>/dev/null
cat /sys/block/$D/stat >/tmp/i1
tool_end 1
cat /sys/block/$D/stat >/tmp/o1
losetup -d $LOOP
show biolat /tmp/t1.out; show biolat.err /tmp/t1.err
for f in o0 i0 i1 o1; do show $f /tmp/$f; done

say usdtlist
$B/usdtlist $T/pairs >/tmp/t1.out 2>&1; echo "rc $?" >>/tmp/t1.out
show usdtlist /tmp/t1.out
'''


class Results:
    def __init__(self):
        self.passed = self.failed = 0
        self.rows = []

    def check(self, name, ok, detail):
        print("%s %s  %s" % ("ok  " if ok else "FAIL", name, detail),
              flush=True)
        self.rows.append((name, ok, detail))
        if ok:
            self.passed += 1
        else:
            self.failed += 1


def sections(text):
    """{scenario: {part: text}} from the guest's === and --- lines."""
    out, scen, part = {}, None, None
    for line in text.splitlines():
        if line.startswith("=== "):
            scen, part = line[4:], None
            out[scen] = {}
        elif line.startswith("--- ") and scen:
            part = line[4:]
            out[scen][part] = []
        elif scen and part:
            out[scen][part].append(line)
    return {s: {p: "\n".join(ls) for p, ls in d.items()}
            for s, d in out.items()}


def final_report(text, what):
    reps = [json.loads(l) for l in text.splitlines() if l.startswith("{")]
    if not reps or reps[-1].get("type") != "hist":
        raise ValueError("%s printed no report" % what)
    return reps[-1]


def recs(text):
    """The test program's records: [(what, slept_ns, span_ns, kind)]."""
    out = []
    for line in text.splitlines():
        w = line.split()
        if w and w[0] == "rec":
            out.append((w[1], int(w[6]), int(w[5]) - int(w[4]), int(w[3])))
    return out


def within(h, rs):
    """h's count, min, max and sum inside the program's own bounds."""
    return (h["count"] == len(rs) and
            h["min_ns"] >= min(r[1] for r in rs) and
            h["max_ns"] <= max(r[2] for r in rs) and
            sum(r[1] for r in rs) <= h["sum_ns"] <= sum(r[2] for r in rs))


def check_syscalls(res, s):
    rs = recs(s["pairs"])
    hists = {(h["key"]["syscall"], h["key"]["result"]): h
             for h in final_report(s["syslat"], "syslat")["hists"]}
    want = {("nanosleep", "ok"), ("readv", "ok"), ("openat", "error"),
            ("getppid", "ok")}
    res.check("syslat/calls", set(hists) == want and all(
        within(hists[k], [r for r in rs if r[0] == k[0]]) for k in want),
        "%s; the program: %d of each" % (
            {"%s %s" % k: h["count"] for k, h in hists.items()}, N))
    sw = [sum(int(l.split()[1]) for l in s[k].splitlines())
          for k in ("s0", "s1")]
    switches = sw[1] - sw[0]
    h = final_report(s["schedlat"], "schedlat")["hists"][0]
    slack = max(2, switches // 100)
    res.check("schedlat/switches", switches > 10 and
              abs(h["count"] - switches) <= slack,
              "%d waits, the thread was switched in %d times" % (
                  h["count"], switches))


def check_usdt(res, s):
    rs = recs(s["pairs"])
    h = final_report(s["usdtlat"], "usdtlat")["hists"][0]
    res.check("usdtlat/pairs", rs and within(h, rs),
              "%d intervals, the program timed %d, each in [slept, span]" %
              (h["count"], len(rs)))
    # --by 1 reads an argument through arm64's USDT argument specs
    by = {h["key"]["arg1"]: h
          for h in final_report(s["by"], "usdtlat --by")["hists"]}
    kinds = sorted({r[3] for r in rs})
    res.check("usdtlat/by-argument", sorted(by) == kinds and all(
        within(by[k], [r for r in rs if r[3] == k]) for k in kinds),
        "kinds %s, the program's %s; counts %s" % (
            sorted(by), kinds, {k: h["count"] for k, h in by.items()}))


def check_funcs(res, s):
    rs = recs(s["pairs"])
    hists = {h["key"]["function"]: h
             for h in final_report(s["funclat"], "funclat")["hists"]}
    ok = all(within(hists.get(f, {"count": -1}),
                    [r for r in rs if r[0] == f])
             for f in ("work_a", "work_b", "work_c"))
    res.check("funclat/calls", ok, "%s; the program: %s" % (
        {f: h["count"] for f, h in sorted(hists.items())},
        {f: sum(r[0] == f for r in rs)
         for f in ("work_a", "work_b", "work_c")}))


def proc_counts(text):
    """{row name: total over CPUs} of /proc/interrupts or /proc/softirqs;
    arm64's inter-processor interrupts together as "IPI" (rows IPI0,
    IPI1...: IRQs of their own, whose numbers /proc does not show)."""
    lines = text.splitlines()
    ncpu = len(lines[0].split())
    out = {}
    for line in lines[1:]:
        name, _, rest = line.partition(":")
        vals = rest.split()[:ncpu]
        if vals and all(v.isdigit() for v in vals):
            name = "IPI" if name.strip().startswith("IPI") else name.strip()
            out[name] = out.get(name, 0) + sum(int(v) for v in vals)
    return out


def between(tool, inner, outer, what):
    """Names whose tool count is outside [inner delta, outer delta]."""
    bad = []
    for name, n in tool.items():
        lo = inner[1].get(name, 0) - inner[0].get(name, 0)
        hi = outer[1].get(name, 0) - outer[0].get(name, 0)
        if not lo <= n <= hi:
            bad.append("%s %s %d not in [%d, %d]" % (what, name, n, lo, hi))
    return bad


def check_irq(res, s):
    pc = {k: proc_counts(s[k]) for k in
          ("o0i", "o0s", "i0i", "i0s", "i1i", "i1s", "o1i", "o1s")}
    hard = {}
    for h in final_report(s["hard"], "irqlat")["hists"]:
        irq = "IPI" if h["key"]["name"] == "IPI" else str(h["key"]["irq"])
        hard[irq] = hard.get(irq, 0) + h["count"]
    soft = {h["key"]["vector"].upper(): h["count"]
            for h in final_report(s["soft"], "irqlat -S")["hists"]}
    bad = between(hard, (pc["i0i"], pc["i1i"]), (pc["o0i"], pc["o1i"]),
                  "IRQ")
    res.check("irqlat/hard", hard and not bad, "; ".join(bad) or
              "%d IRQs, each inside the /proc/interrupts windows: %s" % (
                  len(hard), hard))
    bad = between(soft, (pc["i0s"], pc["i1s"]), (pc["o0s"], pc["o1s"]),
                  "vector")
    res.check("irqlat/soft", soft and not bad, "; ".join(bad) or
              "%d vectors, each inside the /proc/softirqs windows: %s" % (
                  len(soft), soft))


def check_block(res, s):
    reads = {k: int(s[k].split()[0]) for k in ("o0", "i0", "i1", "o1")}
    hists = final_report(s["biolat"], "biolat")["hists"]
    n = sum(h["count"] for h in hists if h["key"].get("op") == "read")
    lo, hi = reads["i1"] - reads["i0"], reads["o1"] - reads["o0"]
    res.check("biolat/reads", lo > 0 and lo <= n <= hi,
              "%d reads, /sys/block stat: %d inside the window, %d around "
              "it" % (n, lo, hi))


def check_usdtlist(res, s, progs):
    notes = subprocess.run([READELF, "-n", os.path.join(progs, "pairs")],
                           capture_output=True, text=True).stdout
    want = sorted(set("%s:%s" % m for m in re.findall(
        r"Provider: (\S+)\s+Name: (\S+)", notes)))
    got = sorted(set(re.findall(r"^\s*(\w+:\w+):", s["usdtlist"], re.M)))
    res.check("usdtlist/markers", want and got == want,
              "usdtlist %s, readelf %s" % (got, want))


def machine(data):
    """e_machine of an ELF file's bytes (183: AArch64)."""
    return int.from_bytes(data[18:20], "little") if data[:4] == \
        b"\x7fELF" else None


def check_package(res):
    try:
        p = debpkg.build("arm64")
    except Failure as e:
        res.check("package/arm64", False, str(e))
        return
    try:
        x = os.path.join(p["dir"], "x")
        subprocess.run(["dpkg-deb", "-x", p["deb"], x], check=True)
        sbin = os.path.join(x, "usr", "sbin")
        found = {t: machine(open(os.path.join(sbin, t), "rb").read(64))
                 for t in sorted(os.listdir(sbin))}
        arch = subprocess.run(["dpkg-deb", "-f", p["deb"], "Architecture"],
                              capture_output=True, text=True).stdout.strip()
        lint = subprocess.run(["lintian", "--fail-on", "error,warning",
                               p["changes"]], capture_output=True,
                              text=True)
        ok = (arch == "arm64" and set(found) == set(project.tools()) and
              set(found.values()) == {183} and lint.returncode == 0)
        res.check("package/arm64", ok, "%s, %s in %.0f s: %d tools, "
                  "machines %s; lintian %s" % (
                      os.path.basename(p["deb"]), arch, p["secs"],
                      len(found), sorted(set(found.values())),
                      "clean" if lint.returncode == 0 else
                      lint.stdout.strip()[-300:]))
    finally:
        subprocess.run(["rm", "-rf", p["dir"]])


CHECKS = {"syscalls": check_syscalls, "usdt": check_usdt,
          "funcs": check_funcs, "irq": check_irq, "block": check_block}


class Collect:
    def __init__(self):
        self.data = bytearray()

    def write(self, b):
        self.data += b

    def flush(self):
        pass


def boot_suite(k, tests, timeout, kernel_log, r_root):
    """One boot running the selftests named in tests: (vm.Run, rc,
    output lines)."""
    argv = ["env", "HOWLONG_BIN=" + os.path.join(ROOT, BIN),
            "HOWLONG_TEST_PROGS=" + os.path.join(ROOT, PROGS),
            "python3", "selftests/run.py"]
    for t in tests:
        argv += ["-k", t]
    out = Collect()
    r = vm.Run(k, argv, cwd=ROOT, timeout=timeout, out=out,
               kernel_log=kernel_log, foreign_root=r_root)
    rc = r.run()
    return r, rc, out.data.decode(errors="replace").splitlines()


def run_suite(res, k, timeout, kernel_log):
    """SUITE's tests of the selftests in the arm64 root; each becomes a
    check here. A test whose JVM crashed (HotSpot under emulation, as the
    kernel matrix sees on x86 too) runs once more, in a new boot."""
    import matrix
    try:
        r_root = root.get()
    except root.RootError as e:
        res.check("suite/root", False, str(e))
        return None
    r, rc, lines = boot_suite(k, SUITE, timeout, kernel_log, r_root)
    crashed = [m.group(1) for m in map(matrix.JVM_CRASH.match, lines) if m]
    again = {}
    if crashed:
        _, _, more = boot_suite(k, crashed, timeout, kernel_log, r_root)
        again = {l.split()[1].rstrip(":"): l for l in more
                 if re.match(r"^(ok|FAIL) ", l)}
    ran = 0
    for line in lines:
        m = re.match(r"^(ok|FAIL) +(\S+?):? +(.*)$", line)
        if m:
            ran += 1
            if m.group(2) in again:
                print("arm64 root: %s's JVM crashed; run again" %
                      m.group(2))
                m = re.match(r"^(ok|FAIL) +(\S+?):? +(.*)$",
                             again[m.group(2)])
            res.check("suite/" + m.group(2), m.group(1) == "ok",
                      m.group(3)[:500])
    res.check("suite/ran", rc in (0, 1) and ran >= len(SUITE) and lines and
              re.match(r"^\d+ passed, \d+ failed$", lines[-1]),
              "exit %s, %d tests, last line %r" % (
                  rc, ran, lines[-1] if lines else ""))
    return r


def write_doc(path, k, run, res):
    import datetime
    import matrix
    now = datetime.datetime.now(datetime.timezone.utc)
    body = [matrix.ARM64_SECTION, "",
            "Written by `make check-arm64` on %s, at commit %s: the static "
            "arm64 tools (`make ARCH=arm64 STATIC=1`, cross-built on x86-64) "
            "on Debian's %s (%s), booted under qemu-system-aarch64 "
            "(emulation) in %.0f s; the checks ran in %.0f s, in busybox "
            "(the guest runs none of the host's programs), each against "
            "truth of another layer (selftests/arm64/check.py); then, "
            "booted into an arm64 Debian root (Python, PostgreSQL, a JVM: "
            "selftests/arm64/root.py), the suite's own tests of "
            "pgquerylat, jitlat, jvmpauselat, usdtlat, connlat, rttlat "
            "and locklat (mmap_lock's waits per thread, per process and "
            "per kind against perf lock's) and reclaimlat (a memory "
            "cgroup's reclaims against its memory.events and PSI), and "
            "howlong's verdict for every tool against a run of it, with "
            "the arm64 tools (the suite/ rows). Sizes: "
            "docs/benchmarks.md#binary-sizes." % (
                now.strftime("%Y-%m-%d %H:%M UTC"), matrix.commit(),
                k.version, k.pkg_version, run.boot_time or 0,
                run.run_time or 0), "",
            "| check | result |", "|---|---|"]
    body += ["| %s | %s%s |" % (n, "ok: " if ok else "**FAIL**: ",
                                d.replace("|", "/")) for n, ok, d in res.rows]
    matrix.replace_section(path, matrix.ARM64_SECTION,
                           "\n".join(body) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--kernel-log")
    ap.add_argument("--doc")
    args = ap.parse_args()
    k = kernels.get(KERNEL)
    script = GUEST % {"bin": BIN, "progs": PROGS, "n": N, "ms": MS,
                      "calls": ",".join(CALLS)}
    with tempfile.NamedTemporaryFile("w", dir="/var/tmp", suffix=".sh",
                                     prefix="howlong-arm64-") as f:
        f.write(script)
        f.flush()

        class Out:
            data = bytearray()

            def write(self, b):
                self.data += b

            def flush(self):
                pass
        out = Out()
        r = vm.Run(k, ["sh", "/lower" + f.name], cwd=ROOT,
                   timeout=args.timeout, out=out, kernel_log=args.kernel_log)
        rc = r.run()
    text = out.data.decode(errors="replace")
    res = Results()
    print("arm64: %s, booted in %s s, ran %s s" % (
        k, "%.0f" % r.boot_time if r.boot_time else "-",
        "%.0f" % r.run_time if r.run_time else "-"), flush=True)
    res.check("guest/ran", rc == 0, "exit %s" % rc)
    got = sections(text)
    for name, fn in CHECKS.items():
        try:
            fn(res, got[name])
        except (KeyError, ValueError, IndexError) as e:
            res.check(name, False, "no usable output (%s: %s); guest said: "
                      "%s" % (type(e).__name__, e, " ".join(
                          got.get(name, {}).get(p, "")[-300:]
                          for p in got.get(name, {}) if p.endswith(".err"))))
    try:
        check_usdtlist(res, got["usdtlist"], os.path.join(ROOT, PROGS))
    except KeyError as e:
        res.check("usdtlist/markers", False, "no output (%s)" % e)
    check_package(res)
    suite = run_suite(res, k, args.timeout, args.kernel_log)
    if suite and suite.run_time:
        print("arm64 root: the suite's tests ran %.0f s" % suite.run_time)
    if args.doc:
        write_doc(args.doc, k, r, res)
    print("%d passed, %d failed" % (res.passed, res.failed))
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
