"""Prometheus, node_exporter and promtool for the tests of the exporter
mode (docs/metrics.md), and our own reading of what an exporter serves.

    with prom.Prometheus(["127.0.0.1:39210"]) as p:    # scrapes every 1 s
        t = time.time()
        ... work ...
        p.wait_scraped("127.0.0.1:39210", after=t)     # a scrape began
                                                       # after t, target up
        p.value('howlong_schedlat_seconds_count')      # one float
        p.query('rate(x[1m])')                         # [(labels, float)]

    with prom.NodeExporter(textfile_dir) as n:
        text = n.metrics()

    status, headers, body = prom.scrape(url, accept=prom.ACCEPT_OM)
    samples = prom.parse(body.decode(), openmetrics=True)
    problems, excused = prom.promtool_check(text, openmetrics=False)

Ports: every server here listens on 127.0.0.1 on a port of PORTS
(39200-39299, this suite's range; other suites on this machine use
others), handed out by port() once per process run and checked free with
a bind() at that moment. A server that loses the race for its port (the
log says "address already in use") is started again on another.

Prometheus and node_exporter run from /usr/bin (Debian's prometheus and
prometheus-node-exporter; `make deps` installs them), each with its own
temporary directory /tmp/howlong-prom-<runner pid>-XXXX (configuration,
TSDB, log). Leaving the `with` block stops the server (SIGTERM, SIGKILL
after 10 s) and removes the directory, also after an exception or a
failed check; an atexit hook does the same for anything still running
when the runner exits, and directories of runners that were killed are
removed by the next start.

promtool: see promtool_check() for which of its messages count.
"""
import atexit
import calendar
import contextlib
import glob
import http.client
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse

from lib.harness import Failure, check, fail
from lib.procs import Service, die_with_parent

PROMETHEUS = "/usr/bin/prometheus"
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
PROMTOOL = "/usr/bin/promtool"
PORTS = range(39200, 39300)
DIR_PREFIX = "howlong-prom-"

# What Prometheus 2.42 itself sends (scrape/scrape.go), and a plain one.
ACCEPT_PROMETHEUS_SERVER = (
    "application/openmetrics-text;version=1.0.0,application/"
    "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;"
    "q=0.5,*/*;q=0.1")
ACCEPT_OM = "application/openmetrics-text; version=1.0.0"
ACCEPT_TEXT = "text/plain; version=0.0.4"
CTYPE_OM = "application/openmetrics-text"
CTYPE_TEXT = "text/plain"

_handed_out = set()
_live = []


# ---- ports ----

def _bindable(p):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            return False
    return True


def port():
    """A port of PORTS nobody listens on right now and that this run has
    not handed out before (TIME_WAIT sockets of an earlier user do not
    stop a server that sets SO_REUSEADDR, as Go's and ours do)."""
    candidates = [p for p in PORTS if p not in _handed_out]
    random.shuffle(candidates)
    for p in candidates:
        if _bindable(p):
            _handed_out.add(p)
            return p
    if len(_handed_out) > len(PORTS) // 2:
        _handed_out.clear()         # a long run: start over
        return port()
    fail("no free TCP port in %d-%d" % (PORTS[0], PORTS[-1]))


def listening(p, host="127.0.0.1"):
    """True if something accepts TCP connections on host:p."""
    try:
        with socket.create_connection((host, p), timeout=1):
            return True
    except OSError:
        return False


# ---- a scrape client ----

def scrape(url, accept=None, method="GET", timeout=10, headers=None):
    """One HTTP/1.1 request (Connection: close); returns (status,
    {lower-case header name: value}, body bytes). accept: the Accept
    header to send (None: none at all). Raises Failure when the server
    does not answer within timeout seconds or breaks the protocol."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80,
                                      timeout=timeout)
    hdrs = {"Connection": "close"}
    if accept is not None:
        hdrs["Accept"] = accept
    hdrs.update(headers or {})
    try:
        conn.request(method, (u.path or "/") + ("?" + u.query if u.query
                                                else ""), headers=hdrs)
        r = conn.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    except (OSError, http.client.HTTPException) as e:
        raise Failure("%s %s: %s: %s" % (method, url, type(e).__name__, e))
    finally:
        conn.close()


def get_text(url, accept=None, timeout=10):
    """GET url; it must answer 200: (content type, body as text)."""
    status, headers, body = scrape(url, accept, timeout=timeout)
    check(status == 200, "GET %s (Accept: %s): status %d: %r" % (
        url, accept, status, body[:100]))
    try:
        return headers.get("content-type", ""), body.decode("utf-8")
    except UnicodeDecodeError as e:
        fail("GET %s: body is not UTF-8: %s" % (url, e))


# ---- the exposition formats, read by us ----

TYPES_TEXT = {"counter", "gauge", "histogram", "summary", "untyped"}
TYPES_OM = {"counter", "gauge", "histogram", "gaugehistogram", "stateset",
            "info", "summary", "unknown"}
# The sample names each type of family has, as suffixes of its name.
SUFFIXES_TEXT = {"histogram": ("_bucket", "_sum", "_count"),
                 "summary": ("", "_sum", "_count")}
SUFFIXES_OM = {"counter": ("_total", "_created"),
               "histogram": ("_bucket", "_sum", "_count", "_created"),
               "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
               "summary": ("", "_sum", "_count", "_created"),
               "info": ("_info",)}
NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# A number as both formats write it (Go's ParseFloat takes more, e.g.
# hex; nothing of ours writes that).
NUMBER_RE = re.compile(r"[+-]?(?:Inf|NaN|(?:\d+\.?\d*|\.\d+)"
                       r"(?:[eE][+-]?\d+)?)")
INT_RE = re.compile(r"-?\d+")


class Exposition(dict):
    """{(name, frozenset(labels.items())): float} of one exposition, with
    what it declared about its families: types {family: type}, helps
    {family: text}, units (OpenMetrics) and family_of {sample name:
    family}."""

    def __init__(self):
        super().__init__()
        self.types, self.helps, self.units = {}, {}, {}
        self.family_of = {}

    def series(self, name, **labels):
        """The samples named name whose labels include labels:
        [(labels dict, value)]."""
        want = set((k, str(v)) for k, v in labels.items())
        return [(dict(k[1]), v) for k, v in self.items()
                if k[0] == name and want <= k[1]]

    def value(self, name, **labels):
        """The one sample named name with exactly these labels."""
        key = (name, frozenset((k, str(v)) for k, v in labels.items()))
        check(key in self, "no sample %s%s (have: %s)" % (
            name, labels or "", ", ".join(sorted({k[0] for k in self}))[:300]))
        return self[key]

    def families(self):
        return set(self.types)


def _unescape(s, where):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            nxt = s[i + 1:i + 2]
            if nxt not in ("\\", '"', "n"):
                raise Failure("%s: bad escape \\%s" % (where, nxt))
            out.append("\n" if nxt == "n" else nxt)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _labels(text, i, where, om):
    """Parses {a="b",...} starting at text[i] == "{"; returns (dict,
    index after "}")."""
    labels = {}
    i += 1
    while True:
        if text.startswith("}", i):
            return labels, i + 1
        m = LABEL_RE.match(text, i)
        if not m:
            raise Failure("%s: bad label name at %r" % (where, text[i:i + 20]))
        name = m.group(0)
        i = m.end()
        if not text.startswith('="', i):
            raise Failure("%s: label %s: no =\"" % (where, name))
        i += 2
        j = i
        while j < len(text) and text[j] != '"':
            j += 2 if text[j] == "\\" else 1
        if j >= len(text):
            raise Failure("%s: label %s: unterminated value" % (where, name))
        if name in labels:
            raise Failure("%s: label %s twice" % (where, name))
        labels[name] = _unescape(text[i:j], where)
        i = j + 1
        if text.startswith(",", i):
            i += 1
            if om and text.startswith("}", i):
                raise Failure("%s: trailing comma in labels (OpenMetrics "
                              "has none)" % where)
        elif not text.startswith("}", i):
            raise Failure("%s: expected , or } after label %s" % (
                where, name))


def _number(s, where):
    if not NUMBER_RE.fullmatch(s):
        raise Failure("%s: %r is not a number" % (where, s))
    return float(s)


def _family(name, types, om):
    """The declared family a sample name belongs to, or None."""
    table = SUFFIXES_OM if om else SUFFIXES_TEXT
    for fam, typ in types.items():
        if name == fam and typ not in table:
            return fam
        for suf in table.get(typ, ()):
            if name == fam + suf:
                return fam
    return None


def parse(text, openmetrics=False):
    """Reads one exposition, Prometheus text 0.0.4 or (openmetrics=True)
    OpenMetrics 1.0 text, and checks its structure: every line well
    formed; each family's TYPE (and HELP) at most once and before its
    samples, families not interleaved; every sample belongs to a family
    with a TYPE line (by the suffixes of its type); no series twice;
    counters not negative; each histogram's buckets cumulative (not
    decreasing with le), ending with le="+Inf", which equals _count, and
    _sum present; OpenMetrics: no blank line or other comment, the last
    line "# EOF". Returns an Exposition; a violation fails the test with
    the line number."""
    om = openmetrics
    ex = Exposition()
    done_families = set()
    current = None
    if om:
        check(text.endswith("# EOF\n") or text.endswith("# EOF"),
              "OpenMetrics text does not end with '# EOF': %r" % text[-40:])
    else:
        check(text == "" or text.endswith("\n"),
              "text format: last line not ended by a newline")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()

    def enter(fam, where):
        """A family's lines must be together: none after another's."""
        nonlocal current
        check(fam not in done_families, "%s: family %s continues after "
              "another family" % (where, fam))
        if current != fam:
            if current is not None:
                done_families.add(current)
            current = fam

    for n, line in enumerate(lines, 1):
        where = "line %d (%r)" % (n, line[:80])
        if om and line == "# EOF":
            check(n == len(lines), "%s: '# EOF' before the end" % where)
            break
        if line.strip() == "":
            check(not om, "%s: blank line in OpenMetrics" % where)
            continue
        if line.startswith("#"):
            w = line.split(" ", 3)
            if len(w) >= 3 and w[1] in ("HELP", "TYPE", "UNIT"):
                kind, fam = w[1], w[2]
                rest = w[3] if len(w) > 3 else ""
                check(NAME_RE.fullmatch(fam), "%s: bad name" % where)
                enter(fam, where)
                if kind == "TYPE":
                    check(fam not in ex.types, "%s: second TYPE" % where)
                    check(rest in (TYPES_OM if om else TYPES_TEXT),
                          "%s: unknown type %r" % (where, rest))
                    ex.types[fam] = rest
                elif kind == "HELP":
                    check(fam not in ex.helps, "%s: second HELP" % where)
                    ex.helps[fam] = rest
                else:
                    check(om, "%s: UNIT is OpenMetrics only" % where)
                    check(fam.endswith("_" + rest), "%s: a family with "
                          "UNIT %s must end in _%s" % (where, rest, rest))
                    ex.units[fam] = rest
            else:
                check(not om, "%s: OpenMetrics allows no other comment" %
                      where)
            continue
        m = NAME_RE.match(line)
        check(m, "%s: no metric name" % where)
        name, i = m.group(0), m.end()
        labels = {}
        if line.startswith("{", i):
            labels, i = _labels(line, i, where, om)
        rest = line[i:]
        if om:
            check(rest.startswith(" "), "%s: no space before value" % where)
            rest, _, exemplar = rest[1:].partition(" # ")
            check(not exemplar or exemplar.startswith("{"),
                  "%s: bad exemplar" % where)
            fields = rest.split(" ")
        else:
            fields = rest.split()
        check(1 <= len(fields) <= 2, "%s: expected value [timestamp]" %
              where)
        value = _number(fields[0], where)
        if len(fields) == 2:
            if om:
                _number(fields[1], where)
            else:
                check(INT_RE.fullmatch(fields[1]), "%s: timestamp %r is "
                      "not integer milliseconds" % (where, fields[1]))
        fam = _family(name, ex.types, om)
        check(fam is not None, "%s: sample %s has no TYPE line of its "
              "family" % (where, name))
        enter(fam, where)
        key = (name, frozenset(labels.items()))
        check(key not in ex, "%s: the same series twice" % where)
        ex[key] = value
        ex.family_of[name] = fam
        typ = ex.types[fam]
        if typ == "counter" and not name.endswith("_created"):
            check(value >= 0, "%s: negative counter" % where)
        if typ == "info":
            check(value == 1, "%s: info value is not 1" % where)
        if name.endswith("_bucket") and typ in ("histogram",
                                                "gaugehistogram"):
            check("le" in labels, "%s: bucket without le" % where)
            _number(labels["le"], where + " le")
    _check_histograms(ex, om)
    return ex


def histograms(ex, family):
    """{labels without le (frozenset): {"buckets": [(le, cumulative)]
    sorted by le, "sum", "count"}} of one histogram family."""
    out = {}
    for (name, labels), v in ex.items():
        if ex.family_of.get(name) != family:
            continue
        suf = name[len(family):]
        d = dict(labels)
        le = d.pop("le", None)
        h = out.setdefault(frozenset(d.items()), {"buckets": []})
        if suf == "_bucket":
            h["buckets"].append((float(le), v))
        elif suf in ("_sum", "_count", "_created"):
            h[suf[1:]] = v
    for h in out.values():
        h["buckets"].sort()
    return out


def _check_histograms(ex, om):
    for fam, typ in ex.types.items():
        if typ != "histogram":
            continue
        for labels, h in histograms(ex, fam).items():
            what = "%s%s" % (fam, dict(labels) or "")
            b = h["buckets"]
            check(b, "%s: no buckets" % what)
            check(b[-1][0] == math.inf, "%s: no le=\"+Inf\" bucket" % what)
            les = [le for le, _ in b]
            check(len(set(les)) == len(les), "%s: an le twice" % what)
            for (le0, c0), (le1, c1) in zip(b, b[1:]):
                check(c1 >= c0, "%s: bucket le=%g has %g, fewer than "
                      "le=%g's %g: not cumulative" % (what, le1, c1, le0, c0))
            check("count" in h, "%s: no _count" % what)
            check(h["count"] == b[-1][1], "%s: _count %g, +Inf bucket %g" %
                  (what, h["count"], b[-1][1]))
            check("sum" in h, "%s: no _sum" % what)


# ---- promtool ----

@contextlib.contextmanager
def textfile(prefix):
    """A path for a tool's --textfile (under /var/tmp), removed after the
    block."""
    fd, path = tempfile.mkstemp(prefix=prefix, suffix=".prom",
                                dir="/var/tmp")
    os.close(fd)
    try:
        yield path
    finally:
        os.unlink(path)


def checked(text):
    """text (Prometheus 0.0.4) past promtool, parsed."""
    problems, _ = promtool_check(text)
    check(not problems, "promtool: %s" % problems[:3])
    return parse(text)


def promtool_check(text, openmetrics=False, timeout=30):
    """`promtool check metrics` on text (it reads stdin). Returns
    (problems, excused): the messages that count as failures, and the
    ones that do not, with why.

    promtool prints "error while linting: ..." (exit 1) when its parser
    cannot read the text, else one line "NAME problem" per lint problem
    (exit 3: no HELP, a counter without _total, abbreviated units,
    camelCase, reserved suffixes on the wrong type, ...). Every one of
    them counts, for the 0.0.4 format: nothing in docs/metrics.md
    excuses any of them.

    promtool 2.42 reads the Prometheus 0.0.4 text format only, also when
    given OpenMetrics (no flag selects a format). Reading OpenMetrics
    with it: "# EOF" and "# UNIT" are comments to it; a counter family
    X is declared without its suffix and samples as X_total, and
    histograms and counters may have an X_created sample, which the
    0.0.4 parser takes for families of their own, untyped and without
    HELP: "X_total no help text" / "X_created no help text". Those two,
    and only when X is declared in the same text with a HELP line, are
    excused. Families of a type only OpenMetrics has (info, stateset,
    gaugehistogram, unknown) would make the whole text unreadable to it
    ("unknown metric type"), so nothing else would be linted: they are
    left out of what promtool reads (and listed as excused); parse()
    and Prometheus's own OpenMetrics parser (a scrape) read them.
    Every other message counts, parse errors included."""
    if not os.access(PROMTOOL, os.X_OK):
        fail("%s not found (install prometheus: make deps)" % PROMTOOL)
    excused = []
    if openmetrics:
        text, excused = _without_om_only_types(text)
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=timeout)
    out = (r.stdout + r.stderr).decode(errors="replace").splitlines()
    msgs = [l.strip() for l in out if l.strip()]
    if r.returncode == 0:
        check(not msgs or all("SUCCESS" in m for m in msgs),
              "promtool exit 0 but said: %s" % "; ".join(msgs[:3]))
        return [], excused
    check(r.returncode in (1, 3), "promtool check metrics: exit %d: %s" % (
        r.returncode, "; ".join(msgs[:3])))
    if r.returncode == 1:
        return msgs or ["exit 1 without a message"], excused
    problems = []
    declared = {}
    if openmetrics:
        for line in text.splitlines():
            w = line.split(" ", 3)
            if len(w) >= 3 and w[0] == "#" and w[1] == "HELP":
                declared[w[2]] = True
    for m in msgs:
        name, _, what = m.partition(" ")
        base = re.sub(r"_(total|created)$", "", name)
        if openmetrics and what == "no help text" and base != name and \
                base in declared:
            excused.append(m + " (OpenMetrics sample of family %s)" % base)
        else:
            problems.append(m)
    return problems, excused


def _without_om_only_types(text):
    """OpenMetrics text less the families of types the 0.0.4 format does
    not have: (text, ["FAMILY (type T): ..."])."""
    ex = parse(text, openmetrics=True)
    drop = {f: t for f, t in ex.types.items() if t not in TYPES_TEXT}
    if not drop:
        return text, []
    kept = []
    for line in text.splitlines(keepends=True):
        w = line.split(" ", 3)
        if line.startswith("# ") and len(w) >= 3 and w[2] in drop:
            continue
        name = NAME_RE.match(line)
        if name and ex.family_of.get(name.group(0)) in drop:
            continue
        kept.append(line)
    return "".join(kept), ["%s (type %s): not given to promtool, whose "
                           "0.0.4 parser knows no such type" % (f, t)
                           for f, t in sorted(drop.items())]


# ---- servers ----

def _remove_stale():
    for path in glob.glob(os.path.join(tempfile.gettempdir(),
                                       DIR_PREFIX + "*")):
        owner = os.path.basename(path)[len(DIR_PREFIX):].split("-")[0]
        if owner.isdigit() and not os.path.exists("/proc/" + owner):
            shutil.rmtree(path, ignore_errors=True)


class _Server(Service):
    """A server program in a temporary directory of its own, on a port
    of PORTS; stopped and removed on the way out (see the module doc)."""

    name = "server"
    program = None

    def __init__(self, timeout=30):
        self.timeout = timeout
        self.dir = None
        self.proc = None
        self.port = None

    def argv(self):
        raise NotImplementedError

    def prepare(self):
        pass

    def ready(self):
        raise NotImplementedError

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        if not os.access(self.program, os.X_OK):
            fail("%s not found (run: make deps)" % self.program)
        _remove_stale()
        self.dir = tempfile.mkdtemp(prefix="%s%d-%s-" % (
            DIR_PREFIX, os.getpid(), self.name))
        _live.append(self)
        self.log = os.path.join(self.dir, "log")
        for attempt in range(3):
            self.port = port()
            self.prepare()
            with open(self.log, "wb") as log:
                self.proc = subprocess.Popen(
                    self.argv(), stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, cwd=self.dir,
                    preexec_fn=die_with_parent)
            deadline = time.monotonic() + self.timeout
            while True:
                if self.proc.poll() is not None:
                    break
                if self.ready():
                    return self
                if time.monotonic() > deadline:
                    fail("%s not ready on port %d within %ds: %s" % (
                        self.name, self.port, self.timeout, self.log_tail()))
                time.sleep(0.1)
            if "address already in use" not in self.read_log():
                fail("%s exited during start-up (exit %s): %s" % (
                    self.name, self.proc.returncode, self.log_tail()))
        fail("%s: three ports taken meanwhile" % self.name)

    def stop(self):
        """Stop it and remove its directory (idempotent)."""
        problem = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                problem = "%s did not exit within 10 s of SIGTERM" % self.name
                self.proc.kill()
                self.proc.wait()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        if self in _live:
            _live.remove(self)
        if problem:
            raise Failure(problem)

    def read_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def log_tail(self, n=3):
        lines = [l for l in self.read_log().splitlines() if l.strip()]
        return " | ".join(lines[-n:]) or "empty log"

    def _get(self, path, timeout=5):
        try:
            return scrape(self.url + path, timeout=timeout)
        except Failure:
            return None, {}, b""


class Prometheus(_Server):
    """A Prometheus server scraping targets ("host:port", or (job,
    ["host:port", ...]) pairs for several jobs) every interval."""

    name = "prometheus"
    program = PROMETHEUS

    def __init__(self, targets, interval="1s", timeout=30):
        super().__init__(timeout)
        if targets and isinstance(targets[0], str):
            targets = [("howlong", list(targets))]
        self.jobs = targets
        self.interval = interval

    def prepare(self):
        self.config = os.path.join(self.dir, "prometheus.yml")
        self.data = os.path.join(self.dir, "data")
        shutil.rmtree(self.data, ignore_errors=True)
        lines = ["global:", "  scrape_interval: %s" % self.interval,
                 "  scrape_timeout: %s" % self.interval,
                 "  evaluation_interval: %s" % self.interval,
                 "scrape_configs:"]
        for job, targets in self.jobs:
            lines += ["  - job_name: %s" % json.dumps(job),
                      "    static_configs:",
                      "      - targets: %s" % json.dumps(list(targets))]
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    def argv(self):
        return [PROMETHEUS, "--config.file=" + self.config,
                "--storage.tsdb.path=" + self.data,
                "--storage.tsdb.retention.time=1d",
                "--web.listen-address=127.0.0.1:%d" % self.port,
                "--log.level=warn"]

    def ready(self):
        return self._get("/-/ready")[0] == 200

    def api(self, path, **params):
        """GET /api/v1/<path>; returns its "data" (status must be
        success)."""
        q = urllib.parse.urlencode(params)
        status, _, body = scrape(self.url + "/api/v1/" + path +
                                 ("?" + q if q else ""), timeout=15)
        try:
            doc = json.loads(body)
        except ValueError:
            fail("prometheus %s: status %d, not JSON: %r" % (
                path, status, body[:200]))
        check(status == 200 and doc.get("status") == "success",
              "prometheus %s %s: %s %s" % (path, params, doc.get(
                  "errorType"), doc.get("error")))
        return doc["data"]

    def query(self, expr, at=None):
        """An instant query: [(labels dict, float)] (a scalar: one entry
        with labels {})."""
        params = {"query": expr}
        if at is not None:
            params["time"] = "%.3f" % at
        data = self.api("query", **params)
        if data["resultType"] in ("scalar", "string"):
            return [({}, float(data["result"][1]))]
        check(data["resultType"] == "vector", "query %s: result type %s" %
              (expr, data["resultType"]))
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    def value(self, expr, at=None):
        """The value of a query that must give exactly one series."""
        res = self.query(expr, at)
        check(len(res) == 1, "query %s: %d series, expected one: %s" % (
            expr, len(res), [r[0] for r in res][:4]))
        return res[0][1]

    def targets(self):
        """The active targets: [{"scrapeUrl", "health", "lastScrape"
        (unix seconds, float, 0 before the first), "lastError", "labels",
        ...}]."""
        found = []
        for t in self.api("targets", state="active")["activeTargets"]:
            t = dict(t)
            t["lastScrape"] = rfc3339(t.get("lastScrape"))
            found.append(t)
        return found

    def target(self, instance):
        for t in self.targets():
            if t["labels"].get("instance") == instance:
                return t
        return None

    def wait_scraped(self, instance, after, timeout=30, scrapes=1):
        """Waits until scrapes scrapes of instance ("host:port") began
        after `after` (time.time()), the last of them healthy ("up", no
        error); returns the target. Prometheus takes up to 5 s to pick
        up its static targets after it started."""
        deadline = time.monotonic() + timeout
        seen, last, t = 0, after, None
        while True:
            t = self.target(instance)
            if t and t["lastScrape"] > last:
                seen += 1
                last = t["lastScrape"]
                if seen >= scrapes and t["health"] == "up":
                    return t
            if time.monotonic() > deadline:
                fail("prometheus: %s not scraped %d time(s) after %.3f "
                     "within %ds (%s)" % (
                         instance, scrapes, after, timeout,
                         "no such target" if t is None else
                         "health %s, last scrape %.3f, error %r" % (
                             t["health"], t["lastScrape"],
                             t.get("lastError"))))
            time.sleep(0.1)


def rfc3339(s):
    """Prometheus's time ("2026-12-06T09:17:54.078123456Z" or with an
    offset; "0001-01-01T00:00:00Z": never) as unix seconds."""
    m = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?"
                 r"(Z|[+-]\d\d:\d\d)$", s or "")
    if not m:
        fail("cannot read the time %r" % s)
    y, mo, d, h, mi, sec = (int(x) for x in m.groups()[:6])
    if y < 1970:
        return 0.0
    t = calendar.timegm((y, mo, d, h, mi, sec, 0, 0, 0))
    if m.group(7):
        t += int(m.group(7)) / 10 ** len(m.group(7))
    if m.group(8) != "Z":
        sign = 1 if m.group(8)[0] == "+" else -1
        t -= sign * (int(m.group(8)[1:3]) * 3600 + int(m.group(8)[4:]) * 60)
    return t


class NodeExporter(_Server):
    """prometheus-node-exporter with the textfile collector only, reading
    directory."""

    name = "node-exporter"
    program = NODE_EXPORTER

    def __init__(self, directory, timeout=30):
        super().__init__(timeout)
        self.directory = directory

    def argv(self):
        return [NODE_EXPORTER, "--collector.disable-defaults",
                "--collector.textfile",
                "--collector.textfile.directory=" + self.directory,
                "--web.listen-address=127.0.0.1:%d" % self.port]

    def ready(self):
        return self._get("/metrics")[0] == 200

    def metrics(self):
        """Its /metrics (0.0.4 text), parsed: an Exposition."""
        ctype, text = get_text(self.url + "/metrics", ACCEPT_TEXT)
        return parse(text), text


@atexit.register
def _stop_all():
    for s in list(_live):
        try:
            s.stop()
        except Failure:
            pass


def textfile_counts(path, family):
    """A tool's --textfile: parsed (parse()'s checks) and passed by
    promtool without a problem; returns {frozenset of labels: _count} of
    the histogram family."""
    with open(path) as f:
        text = f.read()
    ex = parse(text)
    problems, _ = promtool_check(text)
    check(not problems, "promtool: %s" % "; ".join(problems[:3]))
    return {k: h["count"] for k, h in histograms(ex, family).items()}
