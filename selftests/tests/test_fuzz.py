"""The USDT note reader and the exporter's HTTP request parser on hostile
input.

build/fuzz/usdt_notes and build/fuzz/http_request are libFuzzer targets
(selftests/fuzz/usdt_notes.c, http_request.c) with tools/lib/usdt.c and
tools/lib/httpd.c built in under ASan and UBSan. Each one's seed corpus
(selftests/fuzz/corpus: the cases of lib/elfnotes.py and notes cut out of
real binaries; selftests/fuzz/http-corpus: scrapes as curl and Prometheus
send them, and broken ones) is replayed as a regression, then the fuzzer
runs for HL_FUZZ_SECONDS (default 30) from it; any sanitizer report,
crash, leak or timeout fails, naming the input it kept. And usdtlist
itself must read every generated case as the case declares it: the sites
of a valid one, "corrupt or truncated" for a damaged one, never a
crash."""
import glob
import os
import re
import shutil
import subprocess
import tempfile

from lib import elfnotes, markers, report, tool
from lib.harness import check, fail, test

FUZZ_DIR = os.path.join(tool.ROOT, "selftests", "fuzz")
CORPUS = os.path.join(FUZZ_DIR, "corpus")
SECONDS = int(os.environ.get("HL_FUZZ_SECONDS", "30"))
REPORT = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer|"
                    r"UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|"
                    r"deadly signal|Test unit written to (\S+)")


class Target:
    """A libFuzzer binary with its seed corpus and dictionary."""

    def __init__(self, name, corpus, dictionary):
        self.path = os.path.join(tool.ROOT, "build", "fuzz", name)
        self.corpus = os.path.join(FUZZ_DIR, corpus)
        self.dict = os.path.join(FUZZ_DIR, dictionary)

    def binary(self):
        if not os.access(self.path, os.X_OK):
            fail("%s not built (run: make check)" % os.path.relpath(
                self.path, tool.ROOT))
        return self.path

    def corpus_files(self):
        files = sorted(glob.glob(os.path.join(self.corpus, "*")))
        check(files, "no seed corpus in %s" % self.corpus)
        return files

    def fuzz(self, args, timeout):
        """Run the fuzzer; (stderr text, first sanitizer/crash line or
        None, the input it saved for that, if any)."""
        try:
            r = subprocess.run([self.binary()] + args, capture_output=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            fail("%s did not finish within %ds" % (self.path, timeout))
        err = r.stderr.decode(errors="replace")
        bad = saved = running = None
        for line in err.splitlines():
            m = REPORT.search(line)
            if line.startswith("Running: "):    # replaying files one by one
                running = line[len("Running: "):]
            elif m and m.group(2):
                saved = m.group(2)
            elif m and bad is None:
                bad = line.strip()
                saved = running
        if r.returncode and bad is None:
            bad = "exit status %d: %s" % (
                r.returncode, (err.strip().splitlines() or [""])[-1])
        return err, bad, saved


USDT = Target("usdt_notes", "corpus", "usdt.dict")
HTTP = Target("http_request", "http-corpus", "http.dict")


def corpus_replay(target):
    """Every seed once, as a regression: no sanitizer report."""
    files = target.corpus_files()
    err, bad, saved = target.fuzz(files, timeout=120)
    check(bad is None, "%s%s" % (bad, " (input %s)" % saved if saved
                                 else ""))
    ran = len(re.findall(r"^Executed ", err, re.M))
    check(ran == len(files), "executed %d of %d seeds" % (ran, len(files)))
    return "%d seeds, clean" % ran


def fuzz_run(target):
    """HL_FUZZ_SECONDS of coverage-guided fuzzing from the corpus; what
    it finds goes to a temporary directory, never into the corpus."""
    target.corpus_files()
    work = tempfile.mkdtemp(prefix="hl-fuzz-")
    new = os.path.join(work, "new")
    os.mkdir(new)
    keep = False
    try:
        err, bad, saved = target.fuzz(
            ["-max_total_time=%d" % SECONDS, "-timeout=10",
             "-rss_limit_mb=2048", "-print_final_stats=1",
             "-dict=" + target.dict, "-artifact_prefix=%s/" % work, new,
             target.corpus],
            timeout=SECONDS + 120)
        keep = bad is not None
        check(bad is None, "%s%s" % (bad, " (input kept: %s)" % saved
                                     if saved else ""))
        execs = re.search(r"stat::number_of_executed_units:\s*(\d+)", err)
        cov = re.findall(r"\bcov: (\d+) ft: (\d+)", err)
        check(execs and int(execs.group(1)) > 0, "no executions reported")
        return "%s executions in %ds, coverage %s edges, %d new inputs" % (
            execs.group(1), SECONDS, cov[-1][0] if cov else "?",
            len(os.listdir(new)))
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


# The USDT tests keep their first names: "fuzz/corpus-replay", "fuzz/run".
for _prefix, _target in (("", USDT), ("http-", HTTP)):
    test("fuzz/%scorpus-replay" % _prefix)(
        lambda t=_target: corpus_replay(t))
    test("fuzz/%srun" % _prefix)(lambda t=_target: fuzz_run(t))


@test("fuzz/corpus-current")
def corpus_current():
    """The generated seeds in the corpus are what lib/elfnotes.py makes
    (regenerate: python3 selftests/lib/elfnotes.py selftests/fuzz/corpus),
    and the real ones are there."""
    stale = []
    for name, data, _ in elfnotes.cases():
        path = os.path.join(CORPUS, name)
        if not os.path.exists(path) or open(path, "rb").read() != data:
            stale.append(name)
    check(not stale, "corpus out of date: %s" % stale)
    real = [n for n, _ in elfnotes.real_seeds(tool.ROOT)
            if not os.path.exists(os.path.join(CORPUS, "real-" + n))]
    check(not real, "real seeds missing: %s" % real)
    return "%d generated, %d real" % (len(elfnotes.cases()),
                                      len(elfnotes.real_seeds(tool.ROOT)))


def usdtlist_case(name, data, expect):
    fd, path = tempfile.mkstemp(prefix="hl-elfnotes-")
    os.write(fd, data)
    os.close(fd)
    try:
        r = tool.run(["-j", path], name="usdtlist")
    finally:
        os.unlink(path)
    what = "case %s (%s)" % (name, r.cmd())
    rc = 1 if expect in (elfnotes.CORRUPT, elfnotes.NOT_ELF) else 0
    check(r.rc == rc, "%s: exit %s, expected %d (%s)" % (
        what, r.rc, rc, r.err.strip() or "no stderr"))
    if rc:
        say = ("corrupt or truncated ELF file" if expect == elfnotes.CORRUPT
               else "is not an ELF file")
        check(not r.out and len(r.err_lines) == 1 and say in r.err,
              "%s: out %r, err %r, expected one line saying %r" % (
                  what, r.out[:80], r.err, say))
        return expect
    if not expect:
        check(not r.out and len(r.err_lines) == 1 and
              "has no USDT markers" in r.err, "%s: out %r err %r" % (
                  what, r.out[:80], r.err))
        return "none"
    check(not r.err, "%s: stderr %r" % (what, r.err[:200]))
    lines = report.parse_lines(r.out_bytes, what)
    x86_64 = data[4] == 2 and data[5] == 1 and data[18] == elfnotes.EM_X86_64
    sites = [markers.Site(*s) for s in expect]
    try:
        markers.check_object(lines, sites, judge=x86_64)
    except Exception as e:
        fail("%s: %s" % (name, e))
    return "%d sites" % len(sites)


@test("fuzz/usdtlist-cases")
def usdtlist_cases():
    """usdtlist on every generated case: 32/64-bit, both byte orders,
    prelinked, damaged in each way the generator knows."""
    seen = {}
    for name, data, expect in elfnotes.cases():
        seen[name] = usdtlist_case(name, data, expect)
    return "; ".join("%s %s" % kv for kv in seen.items())
