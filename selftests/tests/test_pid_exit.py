"""When the process -p names exits, every tool prints its final report,
says on stderr that the process has exited (within EXIT_S seconds of the
exit) and exits 1, instead of tracing nothing until Ctrl-C. Detaching
takes its time after that (the kernel unregisters each uprobe in ~0.1 s)."""
import json
import subprocess
import time

from lib import jvm, pairs, pg, tool
from lib.harness import check, test
from lib.procs import die_with_parent

EXIT_S = 2


def ends_with_target(name, args, pid, end):
    """Start name with args (-p pid among them), end() the process, and
    check how the tool ends. Returns the seconds it took."""
    tool.need(name)
    said = "process %d has exited" % pid
    with tool.Tracer(args, name=name) as t:
        end()
        gone = time.monotonic()
        while True:
            line = t.stderr.readline(EXIT_S + 1)
            if line is None or said in line.decode(errors="replace"):
                break
        took = time.monotonic() - gone
        r = t.wait_exit(15)
    r.expect_rc(1)
    check(said in r.err, "%s: stderr does not say %r: %r" % (
        r.cmd(), said, r.err[-200:]))
    last = r.out.strip().splitlines()[-1:] or [""]
    try:
        kind = json.loads(last[0]).get("type")
    except ValueError:
        kind = None
    # -M prints events as they come: it has no report to end with
    check(kind in ("hist", "top") or "-M" in args,
          "%s: no final report, last line %r" % (r.cmd(), last[0][:80]))
    check(took <= EXIT_S, "%s: said so %.1fs after its process exited" % (
        r.cmd(), took))
    return took


def sleeper():
    return subprocess.Popen(["sleep", "60"], preexec_fn=die_with_parent)


def end_popen(p):
    def end():
        p.kill()
        p.wait()
    return end


@test("pid-exit/schedlat")
def schedlat():
    p = sleeper()
    took = ends_with_target("schedlat", ["-j", "-p", p.pid, "5"], p.pid,
                            end_popen(p))
    return "said so %.2fs after the process, exit 1" % took


@test("pid-exit/syslat")
def syslat():
    p = sleeper()
    took = ends_with_target("syslat", ["-j", "-p", p.pid], p.pid,
                            end_popen(p))
    return "said so %.2fs after the process, exit 1" % took


def pairs_case(name, extra, target):
    with pairs.Pairs("threads", 1, 1, 1) as p:
        def end():
            p.__exit__(None, None, None)
        args = ["-j"] + extra + ["-p", p.pid] + target
        return ends_with_target(name, args, p.pid, end)


@test("pid-exit/usdtlat")
def usdtlat():
    a = pairs_case("usdtlat", [], [pairs.PATH, "hltest:req__start",
                                   "hltest:req__done"])
    b = pairs_case("usdtlat", ["-M", "0"], [pairs.PATH,
                                            "hltest:req__start",
                                            "hltest:req__done"])
    return "histogram and -t: said so %.2fs, %.2fs after, exit 1" % (a, b)


@test("pid-exit/funclat")
def funclat():
    took = pairs_case("funclat", [], [pairs.PATH + ":work_a"])
    return "said so %.2fs after the process, exit 1" % took


@test("pid-exit/pgquerylat")
def pgquerylat():
    """-p BACKEND: the session ends, its backend exits."""
    with pg.Cluster() as c:
        s = c.connect()
        s.__enter__()
        pid = s.pid
        took = ends_with_target("pgquerylat", ["-j", "-p", pid], pid,
                                lambda: s.__exit__(None, None, None))
    return "backend gone: said so %.2fs after, exit 1" % took


@test("pid-exit/pgquerylat-server")
def pgquerylat_server():
    """--server POSTMASTER: the server stops."""
    tool.need("pgquerylat")
    with pg.Cluster() as c:
        pid = c.postmaster_pid
        tool.one_process_only("pgquerylat", [["-j", "--server", pid]],
                              lambda args: True, "backend")
        took = ends_with_target("pgquerylat", ["-j", "--server", pid], pid,
                                c.stop)
    return "server stopped: said so %.2fs after, exit 1" % took


@test("pid-exit/jvm-tools")
def jvm_tools():
    took = []
    for name in ("jitlat", "jvmpauselat"):
        j = jvm.Jvm()
        j.__enter__()
        took.append(ends_with_target(name, ["-j", "-p", j.pid], j.pid,
                                     lambda: j.__exit__(None, None, None)))
    return "jitlat, jvmpauselat: said so %.2fs, %.2fs after the JVM, exit 1" % tuple(
        took)
