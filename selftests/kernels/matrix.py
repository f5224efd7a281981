#!/usr/bin/python3
"""The kernel matrix: boot each kernel under qemu (vm.py), run the
selftests inside against real workloads, and write docs/portability.md.

    matrix.py [--full] [--doc PATH] [--timeout S] [KERNEL...]

Without --full, the guest runs the tests that hold under emulation (QUICK:
counts and bounds against ground truth, every tool, every attach method,
bad inputs); --full runs the whole suite. Prints the runner's lines as
they come, prefixed with the kernel, then the table; exits 1 if a test
failed or a kernel did not run.
"""
import argparse
import datetime
import io
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import kernels  # noqa: E402
import vm  # noqa: E402

DEFAULT = ["5.10", "6.1", "6.1-cloud", "6.12"]

# Tests (name prefixes) that hold under emulation: ground-truth counts and
# bounds, no microsecond tolerances. run.py -k takes substrings.
# A tool's tests are all quick unless listed here (the Makefile's TOOLS
# name the tools: a new one is in the matrix without an edit here).
COMMON_QUICK = ["kernel/", "unit/", "cli/", "output/json",
                "filters/pid-threads"]
TOOL_QUICK = {
    "schedlat": [],                     # its areas are the common ones
    "pgquerylat": ["pgquerylat/bad-"],
    "jitlat": ["jitlat/count"],
    "jvmpauselat": ["jvmpauselat/pid-labels"],
}

sys.path.insert(0, os.path.join(ROOT, "selftests"))
from lib import project  # noqa: E402

TOOLS = project.tools()
QUICK = COMMON_QUICK + [p for t in TOOLS for p in TOOL_QUICK.get(
    t, [t + "/"])]
# Tests left out on a kernel (run.py -x) where the peer they compare with
# cannot run: listed in the doc's notes.
PEER_BROKEN = {
    "5.10": {"biolat/vs-biolatency": "libbpf-tools' biolatency does not "
             "load (the verifier refuses its block_rq_issue program)"},
}
# Test areas that exercise schedlat (the first tool, whose CLI and report
# the common tests use).
SCHEDLAT_AREAS = ("kernel", "accuracy", "filters", "output", "cli")


def tool_of(name):
    area, rest = (name.split("/", 1) + [""])[:2]
    if area in TOOLS:
        return area
    for t in TOOLS:
        if area == "kernel" and rest.startswith(t):
            return t
    if name == "kernel/every-process":
        return "every process"
    return "schedlat" if area in SCHEDLAT_AREAS else "other"


class Prefixed(io.RawIOBase):
    """The guest's output, line by line, prefixed and kept for parsing."""

    def __init__(self, prefix):
        self.prefix, self.buf, self.lines = prefix, b"", []

    def writable(self):
        return True

    def write(self, data):
        self.buf += data
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            text = line.decode("utf-8", "replace")
            self.lines.append(text)
            print("%-9s %s" % (self.prefix, text), flush=True)
        return len(data)

    def flush(self):
        pass


class Result:
    def __init__(self, name):
        self.name, self.kernel, self.rc = name, None, None
        self.tools = {}         # tool: [passed, failed, [failure lines]]
        self.features = ""
        self.verdicts = ""      # howlong's, each held to a real run
        self.boot = self.run = None
        self.summary = "did not run"
        self.notes = []

    def said(self, name, line):
        """What an ok line of a test that describes the kernel says."""
        if not line.startswith("ok"):
            return
        text = re.sub(r"\s*\[[0-9.]+s\]$", "", line)
        if name == "howlong/verdicts-vs-runs":
            self.verdicts = text.split(": ", 2)[-1]
        if name == "kernel/features":
            self.features = text.split(": ", 1)[-1]

    def take(self, lines):
        for line in lines:
            if line.startswith(("ok   ", "FAIL ")):
                name = line[5:].split(":" if line.startswith("FAIL")
                                  else " ", 1)[0].strip()
                t = self.tools.setdefault(tool_of(name), [0, 0, []])
                if line.startswith("ok"):
                    t[0] += 1
                else:
                    t[1] += 1
                    t[2].append(line)
                self.said(name, line)
            elif line.endswith(" failed") and " passed, " in line:
                self.summary = line

    @property
    def ok(self):
        return self.rc == 0 and all(not t[1] for t in self.tools.values())


# What a stopped guest's kernel said last: an oops or panic line if there
# is one (quiet consoles still print those), else its last line.
OOPS = re.compile(r"(BUG:|Oops|Kernel panic|WARNING:|watchdog:|RIP:|"
                  r"rcu_.*stall|hung_task|blocked for more than)")


def report_console(res, tail):
    lines = [l.strip() for l in tail.splitlines() if l.strip()]
    for l in lines:
        print("%s console| %s" % (res.name, l), flush=True)
    said = [l for l in lines if OOPS.search(l)] or lines[-1:]
    if said:
        res.notes.append("the guest's console, last: " + said[0][:200])


def last_test(lines):
    """The name of the last test the runner reported, or None."""
    names = [l[5:].split(":" if l.startswith("FAIL") else " ", 1)[0].strip()
             for l in lines if l.startswith(("ok   ", "FAIL "))]
    return names[-1] if names else None


def run_kernel(name, full, timeout):
    res = Result(name)
    try:
        res.kernel = kernels.get(name)
    except kernels.KernelError as e:
        res.summary = "cannot fetch: %s" % e
        return res
    argv = [os.environ.get("PYTHON", "/usr/bin/python3"),
            "selftests/run.py"]
    if not full:
        for k in QUICK:
            argv += ["-k", k]
    for x in PEER_BROKEN.get(name, {}):
        argv += ["-x", x]
    out = Prefixed(name)
    r = vm.Run(res.kernel, argv, cwd=ROOT, timeout=timeout, out=out)
    res.rc = r.run()
    res.boot, res.run = r.boot_time, r.run_time
    res.take(out.lines)
    last = last_test(out.lines)
    if res.rc in (vm.TIMEOUT_RC, vm.BOOT_FAIL_RC) and r.boot_time and last:
        # The rest, from the test that was running, in a new boot; the
        # stop is said in the doc and at the end of the log either way.
        report_console(res, r.console_tail)
        res.notes.append("the guest %s after %s; the tests from the next "
                         "on ran in a new boot" % (
                             "timed out" if res.rc == vm.TIMEOUT_RC
                             else "stopped", last))
        out = Prefixed(name + "+")
        r = vm.Run(res.kernel, argv + ["--after", last], cwd=ROOT,
                   timeout=timeout, out=out)
        res.rc = r.run()
        res.run = (res.run or 0) + (r.run_time or 0)
        res.take(out.lines)
    if res.rc in (vm.TIMEOUT_RC, vm.BOOT_FAIL_RC):
        # a guest that ends without an exit status may have booted
        res.summary = "timed out" if res.rc == vm.TIMEOUT_RC else \
            "the guest stopped during the tests" if r.boot_time else \
            "did not boot"
        report_console(res, r.console_tail)
    else:
        rerun_jvm_crashes(res, argv[:2], timeout)
    return res


# HotSpot's JIT-compiled code crashes now and then under qemu's emulation,
# with no tracer attached too (seen on 5.10: 1 run in 6, SIGSEGV in C1
# code; on 6.1 once in a CI run; twice in a row on 5.10 and on
# 6.1-cloud once each): not the
# tool's doing. A test whose JVM died ("java NAME: exited", or javac's
# JVM compiling the workloads: "javac DIR: exited") is run again, in a new
# boot, up to JVM_RERUNS times, and the doc says so; the host's suite runs
# the same tests natively.
JVM_CRASH = re.compile(r"^FAIL (\S+): javac? \S+: exited ")
JVM_RERUNS = 3


def passes_again(res, runner, name, timeout):
    for attempt in range(JVM_RERUNS):
        out = Prefixed(res.name + "*")
        vm.Run(res.kernel, runner + ["-k", name], cwd=ROOT,
               timeout=timeout, out=out).run()
        ok = [l for l in out.lines if l.startswith("ok   %s " % name)]
        if ok:
            res.said(name, ok[0])
            return attempt + 1
        if not any(JVM_CRASH.match(l) for l in out.lines):
            return 0    # failed for another reason: that stands
    return 0


def rerun_jvm_crashes(res, runner, timeout):
    reran = 0
    for t in list(res.tools.values()):
        for line in list(t[2]):
            m = JVM_CRASH.match(line)
            if not m:
                continue
            runs = passes_again(res, runner, m.group(1), timeout)
            if runs:
                t[0] += 1
                t[1] -= 1
                t[2].remove(line)
                reran += 1
                res.notes.append("%s: the JVM crashed under emulation; "
                                 "passed when run again (%d more run%s)" % (
                                     m.group(1), runs, "s" * (runs > 1)))
    if res.rc == 1 and not any(t[1] for t in res.tools.values()):
        res.rc = 0
        res.summary += " (%d rerun)" % reran


def cell(res, tool):
    if res.rc is None:
        return res.summary
    t = res.tools.get(tool)
    if not t:
        return "not run"
    passed, failed, _ = t
    return ("**FAIL** %d of %d" % (failed, passed + failed) if failed
            else "ok, %d/%d tests" % (passed, passed))


def ways(res):
    """The ways the tools take on this kernel, from what it has."""
    f = res.features
    if not f:
        return "-"
    return "; ".join([
        "per-thread state in " + ("task storage" if "task storage yes" in f
                                  else "a tid hash"),
        "probes told apart by " + ("attach cookie" if "cookies yes" in f
                                   else "address (-p for a PIE)"),
        "SQL text by " + ("bpf_copy_from_user_str" if "user_str yes" in f
                          else "bpf_probe_read_user_str")])


def secs(v):
    return "%.0f s" % v if v is not None else "-"


def commit():
    r = subprocess.run(["git", "-C", ROOT, "describe", "--always",
                        "--dirty"], capture_output=True, text=True)
    return r.stdout.strip() or "unknown"


def write_doc(path, results, full):
    now = datetime.datetime.now(datetime.timezone.utc)
    lines = [
        "# Portability: the tools on the kernels users run",
        "",
        "Written by `make check-kernels%s` on %s, at commit %s (tools "
        "built on Linux %s)." % (" FULL=1" if full else "",
                                 now.strftime("%Y-%m-%d %H:%M UTC"),
                                 commit(), os.uname().release),
        "Each kernel is Debian's own package, booted under qemu "
        "(emulation) with",
        "the build host's root as a read-only overlay; inside, the "
        "selftests run the",
        "tools against real workloads and check counts and bounds "
        "against ground",
        "truth (selftests/kernels/README.md). A cell counts the tests "
        "of that tool;",
        "`kernel/*` tests are written for any kernel, the others are "
        "the suite's own.",
        "schedlat is run on each of its attach methods (tp_btf, raw_tp, "
        "tracepoint)",
        "with both algorithms, its counts held to the victim's context "
        "switches;",
        "the user-space tools attach uprobes and USDT probes with libbpf.",
        "",
        "| tool | " + " | ".join(
            "%s (%s)" % (r.name, r.kernel.pkg_version if r.kernel else "?")
            for r in results) + " |",
        "|---|" + "---|" * len(results),
    ]
    for tool in TOOLS + ["every process", "other"]:
        lines.append("| %s | %s |" % (
            tool if tool != "other" else "other tests", " | ".join(
            cell(r, tool) for r in results)))
    lines += [
        "| what the kernel has | %s |" % " | ".join(
            r.features or "-" for r in results),
        "| ways taken | %s |" % " | ".join(ways(r) for r in results),
        "| boot / tests | %s |" % " | ".join(
            "%s / %s" % (secs(r.boot), secs(r.run)) for r in results),
        "| result | %s |" % " | ".join(r.summary for r in results),
        "",
        "Where the kernel lacks something, the tools take another way, "
        "decided at",
        "start-up (-v says which): per-thread state in a hash by thread "
        "id without",
        "task storage (5.11); functions and markers found by address "
        "without attach",
        "cookies (5.15), which needs -p PID for a position-independent "
        "binary or a",
        "shared library (the tool says so in one line); statement text "
        "read with",
        "bpf_probe_read_user_str without bpf_copy_from_user_str (6.12).",
    ]
    left = [(r.name, t, why) for r in results
            for t, why in PEER_BROKEN.get(r.name, {}).items()]
    if left:
        lines += ["", "## Left out", ""]
        lines += ["- %s: %s, because %s." % (k, t, why)
                  for k, t, why in left]
    said = [(r.name, r.verdicts) for r in results if r.verdicts]
    if said:
        lines += ["", "## What howlong says", "",
                  "Its verdict on each tool, and the samples of the tool's "
                  "real run",
                  "against a workload (howlong/verdicts-vs-runs: works and "
                  "fallback",
                  "mean exit 0 with samples, cannot a one-line failure; a "
                  "fallback that",
                  "needs -p is run both ways, and the default run must "
                  "fail):", ""]
        lines += ["- %s: %s" % (k, v) for k, v in said]
    notes = [(r.name, n) for r in results for n in r.notes]
    if notes:
        lines += ["", "## Run again", ""]
        lines += ["- %s: %s" % (k, n) for k, n in notes]
    fails = [(r.name, l) for r in results for t in r.tools.values()
             for l in t[2]]
    if fails:
        lines += ["", "## Failures", ""]
        lines += ["- %s: `%s`" % (k, l) for k, l in fails]
    kept = kept_section(path, ARM64_SECTION)
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n" + ("\n" + kept if kept else ""))
    os.replace(path + ".tmp", path)


# Written by make check-arm64 (selftests/arm64/check.py --doc): kept.
ARM64_SECTION = "## arm64"


def kept_section(path, title):
    """The section TITLE of the doc at path (to its end, or the next
    section), or ""."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return ""
    start = text.find("\n" + title + "\n")
    if start < 0:
        return ""
    end = text.find("\n## ", start + 1)
    return text[start + 1:end + 1 if end >= 0 else len(text)]


def replace_section(path, title, body):
    """Put body (starting with the line TITLE) in place of the doc's
    section TITLE, or at its end."""
    with open(path) as f:
        text = f.read()
    old = kept_section(path, title)
    text = text.replace(old, body) if old else text.rstrip("\n") + \
        "\n\n" + body
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--doc", help="where the table goes (default: "
                    "docs/portability.md for every kernel of the matrix, "
                    "build/portability.md for some)")
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("kernels", nargs="*", default=DEFAULT)
    args = ap.parse_args()
    results = []
    for name in args.kernels:
        t0 = time.monotonic()
        res = run_kernel(name, args.full, args.timeout)
        results.append(res)
        print("%-9s %s: %s in %.0f s" % (
            name, res.kernel.version if res.kernel else "?", res.summary,
            time.monotonic() - t0), flush=True)
    doc = args.doc or os.path.join(
        ROOT, *(("docs",) if sorted(args.kernels) == sorted(DEFAULT)
                else ("build",)), "portability.md")
    write_doc(doc, results, args.full)
    print("wrote %s" % os.path.relpath(doc, ROOT))
    bad = [r.name for r in results if not r.ok]
    # A CI log is often read from its tail: what went wrong, again.
    for r in results:
        for note in r.notes:
            print("%-9s note: %s" % (r.name, note))
        for t in r.tools.values():
            for line in t[2]:
                print("%-9s %s" % (r.name, line[:300]))
        if r.rc in (None, vm.TIMEOUT_RC, vm.BOOT_FAIL_RC):
            print("%-9s %s" % (r.name, r.summary))
    print("kernel matrix: %d kernels, %s" % (
        len(results), "failed on " + ", ".join(bad) if bad else "all passed"))
    # the runner's last line, summed over the kernels; a kernel that did
    # not run counts as one failure
    passed = sum(t[0] for r in results for t in r.tools.values())
    failed = sum(t[1] for r in results for t in r.tools.values()) + sum(
        1 for r in results if r.rc in (None, vm.TIMEOUT_RC, vm.BOOT_FAIL_RC))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
