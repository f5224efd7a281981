"""A throwaway PostgreSQL cluster for the tests of PostgreSQL tools.

    with pg.Cluster() as c:
        c.psql("SELECT pg_sleep(0.05);")
        with c.connect() as s:          # one long-lived session (backend)
            s.pid                       # its backend's pid
            s.query("SELECT 1;")

Cluster() makes a data directory as user postgres (initdb, trust
authentication) in a fresh directory /tmp/howlong-pg-<runner pid>-XXXX:
the first cluster of a run runs initdb into a template that later ones
copy (cp -a: 0.3 s instead of 0.5-1 s; Cluster(fresh=True) runs initdb
itself; the template goes at exit). It starts the server with pg_ctl
on a unix socket in that directory and on a free loopback port (127.0.0.1
only), with pg_stat_statements preloaded (track=all) and created in the
database "postgres", and waits until pg_isready says yes. On the way out,
also after an exception or a failed check, it stops the server
(pg_ctl stop -m immediate; SIGKILL as the last resort) and removes the
directory. Clusters left by a runner that was killed are removed by the
next Cluster(). An atexit hook stops whatever is still running when the
runner exits. Start plus stop takes about 0.6 s here once the template
exists (c.timing), so every test gets its own cluster: no statement of
one test reaches another's, and nothing needs resetting between tests.

Settings are chosen to start fast and to keep the server quiet while a
test counts statements: small shared_buffers and max_connections, no fsync,
and no autovacuum (an autovacuum worker is a child of the postmaster that
reports activity too; tests that want one can pass settings).

All commands run as user postgres through setpriv (sudo is not installed;
setpriv execs, so the pid of a Popen is the pid of the program itself).
Every command line is built by hand, never through a shell.
"""
import atexit
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from lib import kernel
from lib.harness import Failure
from lib.procs import LineReader, Service, die_with_parent

USER = "postgres"
DIR_PREFIX = "howlong-pg-"
DEFAULT_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "all",
    "shared_buffers": "16MB",
    "max_connections": "20",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "autovacuum": "off",
    "max_wal_senders": "0",
    "wal_level": "minimal",
    "logging_collector": "off",
    "log_min_messages": "warning",
    "jit": "off",
}

_live = []          # clusters started and not yet stopped (for atexit)
_template = []      # [directory] holding the run's template data/


def bindir():
    """Directory of the PostgreSQL programs: $HOWLONG_PG_BINDIR, else
    `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin."""
    env = os.environ.get("HOWLONG_PG_BINDIR")
    if env:
        return env
    found = []
    try:
        r = subprocess.run(["pg_config", "--bindir"], capture_output=True,
                           timeout=10)
        if r.returncode == 0:
            found.append(r.stdout.decode().strip())
    except (OSError, subprocess.TimeoutExpired):
        pass
    found += sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                    key=lambda p: int(p.split("/")[-2])
                    if p.split("/")[-2].isdigit() else 0, reverse=True)
    for d in found:
        if os.access(os.path.join(d, "initdb"), os.X_OK):
            return d
    raise Failure("PostgreSQL server programs not found (no initdb in "
                  "pg_config --bindir or /usr/lib/postgresql/*/bin; "
                  "run: make deps)")


def _postgres_ids():
    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        raise Failure("no user %r (install postgresql: make deps)" % USER)
    return pw.pw_uid, pw.pw_gid


def as_postgres(argv):
    """argv run as user postgres (setpriv execs it: same pid)."""
    return ["setpriv", "--reuid=" + USER, "--regid=" + USER,
            "--init-groups", "--"] + [str(a) for a in argv]


def _env(extra=None):
    env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8",
           "LC_ALL": "C.UTF-8", "HOME": "/var/lib/postgresql",
           "PGUSER": USER}
    env.update(extra or {})
    return env


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def running(pid):
    """True if process pid exists and is not a zombie (an orphaned
    postmaster's parent, pid 1, may take a while to reap it)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _wait_gone(pids, timeout):
    deadline = time.monotonic() + timeout
    while any(running(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _read_pidfile(datadir):
    try:
        with open(os.path.join(datadir, "postmaster.pid")) as f:
            return int(f.readline().strip())
    except (OSError, ValueError):
        return None


def children_of(ppid):
    """{pid: process title} of the live children of ppid."""
    found = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d, errors="replace") as f:
                rest = f.read().rsplit(")", 1)[1].split()
            if int(rest[1]) != ppid or rest[0] == "Z":
                continue
            with open("/proc/%s/cmdline" % d, "rb") as f:
                title = f.read().replace(b"\0", b" ").decode(
                    errors="replace").strip()
        except (OSError, IndexError, ValueError):
            continue
        found[int(d)] = title
    return found


# "postgres: USER DB HOST STATE" (Debian's backends, update_process_title)
CLIENT_TITLE_RE = re.compile(
    r"^postgres: (?:\S+: )?\S+ \S+ (\[local\]|[0-9.:a-f]+\(\d+\))")


def host_pid(parent, nspid):
    """The pid, as the host sees it, of the child of parent whose pid in
    its own pid namespace is nspid (the last NSpid of its status)."""
    for pid in children_of(parent):
        try:
            with open("/proc/%d/status" % pid) as f:
                ns = [l.split()[-1] for l in f if l.startswith("NSpid:")]
        except OSError:
            continue
        if ns and int(ns[0]) == nspid:
            return pid
    raise Failure("no child of %d has the pid %d in its namespace" % (
        parent, nspid))


def _kill_tree(postmaster):
    """SIGKILL a postmaster and its children (last resort)."""
    pids = [postmaster] + list(children_of(postmaster))
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _wait_gone(pids, 5)


def remove_stale():
    """Remove clusters of runners that are gone (killed before cleanup)."""
    for path in glob.glob(os.path.join(tempfile.gettempdir(),
                                       DIR_PREFIX + "*")):
        owner = os.path.basename(path)[len(DIR_PREFIX):].split("-")[0]
        if not owner.isdigit() or running(int(owner)):
            continue
        pm = _read_pidfile(os.path.join(path, "data"))
        if pm and running(pm) and _is_postgres(pm):
            _kill_tree(pm)
        shutil.rmtree(path, ignore_errors=True)


def _is_postgres(pid):
    try:
        return os.path.basename(os.readlink("/proc/%d/exe" % pid)).startswith(
            "postgres")
    except OSError:
        return False


class Cluster(Service):
    """A throwaway PostgreSQL server; see the module docstring.

    c.bin            the postgres binary (as the postmaster runs it)
    c.bindir         directory of initdb, psql, pgbench, ...
    c.dir, c.socket_dir, c.port, c.postmaster_pid
    c.timing         {"initdb": s (when this one ran it), "copy": s
                     (copying the template), "start": s, "stop": s}
    """

    def __init__(self, settings=None, timeout=None, fresh=False,
                 container=None):
        """container: a lib.container.Container to run the server in,
        as its main process, with its own copy of the postgres binary
        (give it own=[Cluster.binary()]) and this cluster's directory
        bound in."""
        self.fresh = fresh
        self.container = container
        self.proc = None
        self.settings = dict(DEFAULT_SETTINGS)
        self.settings.update(settings or {})
        # initdb of a cold root under arm64's emulation took over 60 s
        self.timeout = timeout or (240 if kernel.emulated() else 60)
        self.bindir = bindir()
        self.bin = os.path.join(self.bindir, "postgres")
        self.dir = None
        self.postmaster_pid = None
        self.port = None
        self.timing = {}
        self._sessions = []

    # ---- lifecycle ----

    def start(self):
        remove_stale()
        uid, gid = _postgres_ids()
        self.dir = tempfile.mkdtemp(prefix="%s%d-" % (DIR_PREFIX,
                                                      os.getpid()))
        _live.append(self)
        os.chown(self.dir, uid, gid)
        os.chmod(self.dir, 0o700)
        self.socket_dir = self.dir
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "server.log")

        if self.fresh:
            self._initdb(self.data)
        else:
            if not _template:
                tmpl = tempfile.mkdtemp(prefix="%s%d-template-" % (
                    DIR_PREFIX, os.getpid()))
                try:
                    os.chown(tmpl, uid, gid)
                    self._initdb(os.path.join(tmpl, "data"))
                except BaseException:
                    shutil.rmtree(tmpl, ignore_errors=True)
                    raise
                _template.append(tmpl)
            t0 = time.monotonic()
            r = subprocess.run(["cp", "-a", os.path.join(_template[0],
                                                         "data"), self.data],
                               capture_output=True, timeout=self.timeout)
            if r.returncode:
                raise Failure("copying the template cluster failed: %s" %
                              r.stderr.decode(errors="replace").strip())
            self.timing["copy"] = time.monotonic() - t0
        t1 = time.monotonic()
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\n# howlong selftests\n")
            for k, v in self.settings.items():
                f.write("%s = '%s'\n" % (k, str(v).replace("'", "''")))
            f.write("unix_socket_directories = '%s'\n" % self.socket_dir)

        if self.container:
            self._start_in_container()
        else:
            self._start_with_pg_ctl()
        self._wait_ready()
        self.psql("CREATE EXTENSION pg_stat_statements;")
        self.pgss_reset()
        self.timing["start"] = time.monotonic() - t1
        return self

    def _start_with_pg_ctl(self):
        for attempt in range(3):        # the free port may be taken meanwhile
            self.port = free_port()
            r = self._run_as(
                [os.path.join(self.bindir, "pg_ctl"), "start", "-w",
                 "-t", str(self.timeout), "-D", self.data, "-l", self.log,
                 "-o", "-p %d" % self.port], check=False, what="pg_ctl start")
            if r.returncode == 0:
                break
            self.postmaster_pid = _read_pidfile(self.data)
            if self.postmaster_pid and running(self.postmaster_pid):
                break       # started but slow to answer: pg_isready decides
            if "could not bind" not in self.server_log():
                raise Failure("pg_ctl start failed (exit %d): %s" % (
                    r.returncode, self._log_tail()))
        self.postmaster_pid = _read_pidfile(self.data)
        if not self.postmaster_pid:
            raise Failure("postgres did not start: %s" % self._log_tail())

    def _start_in_container(self):
        """The postmaster as the container's pid 1, as images run it (a
        daemon that pg_ctl started would die with pg_ctl there). Its
        postmaster.pid then says 1: never hand it to pg_ctl."""
        c = self.container
        c.bind(self.dir)
        self.port = free_port()
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                c.argv(as_postgres([self.bin, "-D", self.data, "-p",
                                    self.port])),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                env=_env(), cwd="/", preexec_fn=self._enter_container)
        self.postmaster_pid = c.host_pid(self.proc.pid)

    def _enter_container(self):
        die_with_parent()
        self.container.enter()

    def _stop_container(self, errors):
        try:
            os.kill(self.postmaster_pid, signal.SIGQUIT)  # immediate
            self.proc.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            errors.append("postmaster %d outlived SIGQUIT" %
                          self.postmaster_pid)
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def _wait_ready(self):
        deadline = time.monotonic() + self.timeout
        while True:
            r = self._run_as([os.path.join(self.bindir, "pg_isready"),
                              "-q", "-h", self.socket_dir, "-p", self.port,
                              "-d", "postgres"], check=False,
                             what="pg_isready")
            if r.returncode == 0:
                return
            if not running(self.postmaster_pid):
                raise Failure("postgres exited during startup: %s" %
                              self._log_tail())
            if time.monotonic() > deadline:
                raise Failure("postgres not ready within %ds: %s" % (
                    self.timeout, self._log_tail()))
            time.sleep(0.05)

    def stop(self):
        """Stop the server and remove its directory (idempotent)."""
        if self.dir is None:
            return
        t0 = time.monotonic()
        for s in list(self._sessions):
            s.close(timeout=2)
        errors = []
        pm = self.postmaster_pid or _read_pidfile(self.data)
        if self.proc:
            self._stop_container(errors)
        elif pm and running(pm):
            try:
                r = self._run_as([os.path.join(self.bindir, "pg_ctl"),
                                  "stop", "-w", "-t", "20", "-m", "immediate",
                                  "-D", self.data], check=False,
                                 what="pg_ctl stop", timeout=30)
                if r.returncode:
                    errors.append("pg_ctl stop: exit %d" % r.returncode)
            except Failure as e:
                errors.append(str(e))
            if not _wait_gone([pm], 5):
                errors.append("postmaster %d outlived pg_ctl stop" % pm)
                _kill_tree(pm)
        shutil.rmtree(self.dir, ignore_errors=True)
        if self in _live:
            _live.remove(self)
        self.dir = None
        self.timing["stop"] = time.monotonic() - t0
        if errors:
            raise Failure("stopping the test cluster: " + "; ".join(errors))

    def _initdb(self, datadir):
        t0 = time.monotonic()
        self._run_as([os.path.join(self.bindir, "initdb"), "-D", datadir,
                      "-A", "trust", "-U", USER, "-E", "UTF8",
                      "--locale=C", "--no-sync", "--no-instructions"],
                     what="initdb")
        self.timing["initdb"] = time.monotonic() - t0

    # ---- running things as postgres ----

    def _run_as(self, argv, check=True, what=None, timeout=None, input=None,
                env=None):
        what = what or os.path.basename(str(argv[0]))
        try:
            r = subprocess.run(as_postgres(argv), cwd=self.dir, env=_env(env),
                               input=input, capture_output=True,
                               timeout=timeout or self.timeout)
        except subprocess.TimeoutExpired:
            raise Failure("%s did not finish within %ds" % (
                what, timeout or self.timeout))
        r.out = r.stdout.decode(errors="replace")
        r.err = r.stderr.decode(errors="replace")
        if check and r.returncode:
            raise Failure("%s failed (exit %d): %s" % (
                what, r.returncode, " ".join(r.err.split())[:300]))
        return r

    def conn_args(self, db="postgres", tcp=False):
        return ["-h", "127.0.0.1" if tcp else self.socket_dir,
                "-p", str(self.port), "-U", USER, "-d", db]

    def psql(self, sql, db="postgres", on_error_stop=True, stderr=False,
             tcp=False, timeout=None, args=()):
        """Run sql (one or more statements, each sent on its own, as psql
        -f does) in one new session; returns psql's stdout (unaligned,
        tuples only), or (stdout, stderr) with stderr=True. With
        on_error_stop (the default) a failing statement fails the test;
        without it psql goes on and its error messages are in stderr."""
        argv = [os.path.join(self.bindir, "psql"), "-X", "-q", "-A", "-t",
                "-v", "ON_ERROR_STOP=%d" % bool(on_error_stop)]
        argv += self.conn_args(db, tcp) + list(args) + ["-f", "-"]
        r = self._run_as(argv, input=sql.encode(), check=False,
                         what="psql", timeout=timeout)
        if r.returncode:
            raise Failure("psql failed (exit %d): %s" % (
                r.returncode, " ".join(r.err.split())[:300]))
        return (r.out, r.err) if stderr else r.out

    def rows(self, sql, db="postgres"):
        """The result of one query as a list of rows (lists of strings)."""
        return [line.split("|") for line in self.psql(sql, db).splitlines()
                if line]

    def pgss_reset(self):
        """Empty pg_stat_statements (its own call is the only entry left,
        with 'pg_stat_statements' in its text)."""
        self.psql("SELECT pg_stat_statements_reset();")

    def pgss_totals(self):
        """(calls, total ns) of the top-level statements pg_stat_statements
        recorded, execution plus planning time, leaving out its own
        queries (the reset and this one)."""
        (calls, ms), = self.rows(
            "SELECT coalesce(sum(calls), 0), coalesce(sum(total_exec_time"
            " + total_plan_time), 0) FROM pg_stat_statements WHERE toplevel"
            " AND query NOT LIKE '%pg_stat_statements%';")
        return int(calls), int(round(float(ms) * 1e6))

    def pgss_statements(self):
        """{query: (calls, ns)} of the top-level statements, as
        pgss_totals() picks them, ns being planning plus execution. Runs of
        whitespace in the query become one space (as pgquerylat prints
        them; pg_stat_statements keeps the text's own), and the rows come
        as one column each: a query may hold any separator."""
        found = {}
        out = self.psql(
            "SELECT calls || ' ' || round((total_exec_time + total_plan_time)"
            " * 1e6)::bigint || ' ' || btrim(regexp_replace(query, '\\s+', "
            "' ', 'g')) FROM pg_stat_statements WHERE toplevel AND query NOT "
            "LIKE '%pg_stat_statements%';")
        for line in out.splitlines():
            calls, ns, query = line.split(" ", 2)
            if query in found:
                raise Failure("pg_stat_statements has two rows for %r"
                              % query)
            found[query] = (int(calls), int(ns))
        return found

    def write_file(self, name, text):
        """A file in the cluster's directory that postgres can read."""
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        uid, gid = _postgres_ids()
        os.chown(path, uid, gid)
        return path

    def pgbench(self, args, db="postgres", timeout=None):
        """Run pgbench with args against this cluster; returns its stdout
        and stderr together (it reports progress on stderr)."""
        argv = [os.path.join(self.bindir, "pgbench")] + [
            str(a) for a in args] + self.conn_args(db)[:-2] + [db]
        r = self._run_as(argv, what="pgbench " + " ".join(
            str(a) for a in args), timeout=timeout)
        return r.out + r.err

    def server_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def _log_tail(self):
        lines = [l for l in self.server_log().splitlines() if l.strip()]
        return " | ".join(lines[-3:]) or "empty server log"

    # ---- processes ----

    def children(self):
        """{pid: title} of the postmaster's live children."""
        return children_of(self.postmaster_pid)

    def backend_pids(self):
        """Pids of the client backends (one per connection), read from
        the process titles: no query, so nothing a tracer would see."""
        return sorted(p for p, t in self.children().items()
                      if CLIENT_TITLE_RE.match(t))

    def connect(self, db="postgres", tcp=False):
        """A long-lived psql session: see Session."""
        s = Session(self, db, tcp)
        self._sessions.append(s)
        return s


class Session:
    """One psql process fed statements on its stdin; one backend.

    s.pid            the backend's pid (asked once, at connect)
    s.query(sql)     run sql, wait for it to finish; returns psql's output
    s.send(sql)      run sql without waiting (s.wait() collects it)
    s.close()        \\q and wait until psql and the backend are gone;
                     also what leaving a `with` does
    """

    _seq = 0

    def __init__(self, cluster, db, tcp):
        self.cluster = cluster
        argv = [os.path.join(cluster.bindir, "psql"), "-X", "-q", "-A",
                "-t", "-v", "ON_ERROR_STOP=0"] + cluster.conn_args(db, tcp)
        self.proc = subprocess.Popen(
            as_postgres(argv), cwd=cluster.dir, env=_env(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        self.out = LineReader(self.proc.stdout.fileno())
        self.pending = None
        try:
            self.pid = int(self.query("SELECT pg_backend_pid();").strip())
            if cluster.container:       # that is its pid inside
                self.pid = host_pid(cluster.postmaster_pid, self.pid)
        except (ValueError, Failure) as e:
            self.close()
            raise Failure("psql session did not start: %s" % e)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def send(self, sql):
        """Send sql (psql splits it into statements); then \\echo a marker
        (a client-side command: the server sees nothing of it)."""
        if self.pending:
            raise Failure("psql session: send() while a query is pending")
        Session._seq += 1
        self.pending = "__howlong_done_%d_%d__" % (os.getpid(), Session._seq)
        self.proc.stdin.write(("%s\n\\echo %s\n" % (sql.rstrip(),
                                                   self.pending)).encode())
        self.proc.stdin.flush()

    def wait(self, timeout=60):
        """Output (stdout and error messages) of what send() sent."""
        lines = []
        while True:
            line = self.out.readline(timeout)
            if line is None:
                raise Failure("psql session (backend %s) did not finish "
                              "within %ds; output %r" % (
                                  getattr(self, "pid", "?"), timeout,
                                  b"\n".join(lines)[-200:]))
            line = line.decode(errors="replace")
            if line == self.pending:
                self.pending = None
                return "\n".join(lines) + ("\n" if lines else "")
            lines.append(line)

    def query(self, sql, timeout=60):
        self.send(sql)
        return self.wait(timeout)

    def close(self, timeout=10):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"\\q\n")
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if getattr(self, "pid", None):  # the backend exits after psql
                _wait_gone([self.pid], timeout)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        if self in self.cluster._sessions:
            self.cluster._sessions.remove(self)


@atexit.register
def _stop_all():
    for c in list(_live):
        try:
            c.stop()
        except Failure:
            pass
    for d in _template:
        shutil.rmtree(d, ignore_errors=True)
