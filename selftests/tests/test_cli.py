"""The command line: help, version, and bad input. A usage error exits 2
with exactly one line on stderr naming the bad value, prints nothing on
stdout and loads nothing (the leak check runs after every tool run)."""
import os

from lib import tool
from lib.harness import test, check
from lib.procs import free_pid


def check_help(flag):
    r = tool.run([flag])
    r.expect_rc(0)
    check("EXAMPLES" in r.out, "%s output has no EXAMPLES section" % flag)
    check("--own-timestamps" in r.out and "--attach" in r.out,
          "%s does not list every option" % flag)
    check(not r.err, "%s wrote to stderr: %r" % (flag, r.err[:80]))
    return "%d lines" % len(r.out.splitlines())


test("cli/help-short")(lambda: check_help("-h"))
test("cli/help-long")(lambda: check_help("--help"))


@test("cli/version")
def version():
    r = tool.run(["-V"])
    r.expect_rc(0)
    check(r.out.strip(), "-V printed nothing on stdout")
    return r.out.strip()


def usage_error(args, names):
    """Assert the usage-error contract; names: what the line must say."""
    r = tool.run(args)
    r.expect_rc(2)
    check(not r.out, "%s wrote to stdout: %r" % (r.cmd(), r.out[:80]))
    lines = r.err_lines
    check(len(lines) == 1, "%s: %d stderr lines, expected 1: %r" % (
        r.cmd(), len(lines), r.err[:200]))
    for n in names:
        check(n in lines[0], "%s: error does not name %r: %r" % (
            r.cmd(), n, lines[0]))
    return lines[0]


def missing_pid():
    return str(free_pid())


# name: (argv or a function returning it, strings the error line must
# name; None: the last argument itself).
BAD = {
    "interval-0": (["0"], None),
    "interval-negative": (["--", "-1"], None),
    "interval-dash-1": (["-1"], ["'1'"]),     # argp: invalid option -- '1'
    "interval-abc": (["abc"], None),
    "interval-fraction": (["1.5"], None),
    "interval-huge": (["99999999"], None),
    "count-0": (["1", "0"], None),
    "count-x": (["1", "x"], None),
    "extra-positional": (["1", "2", "3"], None),
    "pid-0": (["-p", "0"], None),
    "pid-abc": (["-p", "abc"], None),
    "pid-missing": (lambda: ["-p", missing_pid()], None),
    "pid-no-value": (["-p"], ["'p'"]),
    "tid-0": (["-t", "0"], None),
    "tid-missing": (lambda: ["-t", missing_pid()], None),
    "cgroup-missing": (["-c", "/nonexistent"], None),
    "cgroup-not-cgroup2": (["-c", "/tmp"], None),
    "comm-empty": (["--comm", ""], ["''"]),
    "comm-too-long": (["--comm", "a" * 16], None),
    "attach-unknown": (["--attach", "foo"], None),
    "btf-missing": (["--btf", "/nonexistent"], None),
    "per-process-and-thread": (["-P", "-L"], ["-P", "-L"]),
    "per-thread-and-cgroup": (["-L", "--per-cgroup"], ["-L", "--per-cgroup"]),
    "unknown-option": (["--bogus"], None),
}


def register_bad(name, args, names):
    def run():
        argv = args() if callable(args) else args
        return usage_error(argv, names if names is not None else [argv[-1]])
    test("cli/bad-" + name)(run)


for _name, (_args, _names) in BAD.items():
    register_bad(_name, _args, _names)


@test("cli/good-values")
def good_values():
    """Values at the edge that must be accepted: this very process as -p
    and -t, a 15-character --comm."""
    me = str(os.getpid())
    cases = [["-p", me, "-j", "1", "1"], ["-t", me, "--comm", "a" * 15,
                                          "-j", "1", "1"]]
    for args in cases:
        r = tool.run(args)
        r.expect_rc(0)
        check(r.out.count("\n") == 1, "%s: %d lines, expected 1" % (
            r.cmd(), r.out.count("\n")))
    return "%d runs" % len(cases)
