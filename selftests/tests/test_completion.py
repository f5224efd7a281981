"""bash completion (build/completion/howlong.bash) run by bash itself.

Each case is one `bash --norc --noprofile` that sources the script, sets
COMP_WORDS, COMP_CWORD, COMP_LINE and COMP_POINT as readline would for the
line (words split at COMP_WORDBREAKS, so "hltest:req" is three words and
"--attach=" two), calls the function `complete -p TOOL` names with the
arguments bash passes, and prints COMPREPLY. Every case runs twice: on
plain bash, and with bash-completion's bash_completion sourced first
(_init_completion, _filedir); it must not write to stderr either way.

The ground truth is the tools' own: the options of `TOOL --help` (for every
tool of the Makefile), the markers `usdtlist -j` lists for the test
program build/test-progs/pairs (provider hltest) or for every file a
running pairs maps, the functions nm finds in it, a cgroup the test
creates, files it creates, the processes of /proc.
"""
import os
import re
import shlex
import subprocess
import tempfile

from lib import clihelp, pairs, project, report, tool, workload
from lib.harness import check, test
from lib.procs import LineReader, die_with_parent

SCRIPT = os.path.join(clihelp.ROOT, "build", "completion", "howlong.bash")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"
# bash's default, set explicitly so that the split below is the one bash
# would make.
WORDBREAKS = " \t\n\"'@><=;|&(:"
_WORD = re.compile(r"[^\s\"'@><=;|&(:]+|[\"'@><=;|&(:]+")
MODES = ("plain", "helpers")
METHODS = {"tp_btf", "raw_tp", "tracepoint"}


def comp_words(line):
    """COMP_WORDS and COMP_CWORD as readline makes them for line."""
    words = _WORD.findall(line)
    if not words or line[-1].isspace():
        words.append("")
    return words, len(words) - 1


def need_script(mode):
    check(os.path.exists(SCRIPT), "%s not built (run: make)" % SCRIPT)
    if mode == "helpers":
        check(os.path.exists(BASH_COMPLETION), "%s missing (package "
              "bash-completion; run: make deps)" % BASH_COMPLETION)


def bash(mode, body, env=None, source=True):
    """Run body after sourcing bash-completion (in helpers mode) and the
    script (unless not source); returns stdout. Fails on stderr output
    or a non-zero exit."""
    need_script(mode)
    pre = ["source %s" % shlex.quote(BASH_COMPLETION)] \
        if mode == "helpers" else []
    if source:
        pre.append("source %s" % shlex.quote(SCRIPT))
    r = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", "\n".join(pre + [body])],
        capture_output=True, text=True, timeout=60, preexec_fn=die_with_parent,
        env=dict(os.environ, PATH=os.path.join(clihelp.ROOT, "bin") + ":" +
                 os.environ.get("PATH", "/usr/bin:/bin"), **(env or {})))
    check(r.returncode == 0 and not r.stderr, "bash (%s) exited %d: %s" % (
        mode, r.returncode, r.stderr.strip()[:300]))
    return r.stdout


def complete(line, mode, words_only=False):
    """What completing at the end of line offers: COMPREPLY, a list.
    words_only: set COMP_WORDS and COMP_CWORD alone, as some callers do
    (test_package's check of the installed file)."""
    words, cword = comp_words(line)
    cmd = words[0]
    body = "COMP_WORDBREAKS=%s\n" % shlex.quote(WORDBREAKS)
    body += "COMP_LINE=%s\nCOMP_POINT=${#COMP_LINE}\n" % shlex.quote(
        line) if not words_only else "unset COMP_LINE COMP_POINT\n"
    args = "" if words_only else '%s "${COMP_WORDS[COMP_CWORD]}" ' \
        '"${COMP_WORDS[COMP_CWORD-1]}"' % shlex.quote(cmd)
    body += """
COMP_WORDS=(%s)
COMP_CWORD=%d
COMP_TYPE=9 COMP_KEY=9
# as bash looks a compspec up: the command word, then its basename
spec=$(complete -p -- %s 2>/dev/null || complete -p -- %s)
[[ $spec =~ -F\\ ([^ ]+) ]] || { echo "no -F function: $spec" >&2; exit 1; }
COMPREPLY=()
"${BASH_REMATCH[1]}" %s
if ((${#COMPREPLY[@]})); then printf '%%s\\0' "${COMPREPLY[@]}"; fi
""" % (" ".join(shlex.quote(w) for w in words), cword, shlex.quote(cmd),
       shlex.quote(os.path.basename(cmd)), args)
    return [w for w in bash(mode, body).split("\0")[:-1]]


def expect_set(line, mode, want, what, words_only=False):
    got = complete(line, mode, words_only)
    check(set(got) == set(want), "%s: completing %r (%s) offered %s, "
          "expected %s%s" % (what, line, mode, sorted(got)[:12],
                             sorted(want)[:12], _diff(got, want)))
    return got


def _diff(got, want):
    missing, extra = set(want) - set(got), set(got) - set(want)
    return " (missing %s, extra %s)" % (sorted(missing)[:8],
                                         sorted(extra)[:8])


def help_opts(name):
    return clihelp.help_options(clihelp.help_text(name))


def markers(args):
    """PROVIDER:NAME of usdtlist -j ARGS."""
    r = tool.run(["-j"] + list(args), name="usdtlist")
    r.expect_rc(0)
    return {"%s:%s" % (m["provider"], m["name"])
            for m in report.parse_lines(r.out_bytes, r.cmd())}


def need_pairs():
    check(os.access(pairs.PATH, os.X_OK), "%s not built (run: make "
          "build/test-progs/pairs)" % pairs.PATH)
    return pairs.PATH


@test("completion/options")
def options():
    """TOOL - offers exactly the options TOOL --help lists, every tool."""
    n = 0
    for name in project.tools():
        want = {o for o, _ in help_opts(name)}
        for mode in MODES:
            expect_set(name + " -", mode, want, name)
            expect_set(name + " --", mode, {o for o in want
                                            if o.startswith("--")},
                       name + " without COMP_LINE", words_only=True)
        n += len(want)
    # a tool named by its path completes the same
    expect_set("bin/usdtlist -", "plain", {o for o, _ in
                                           help_opts("usdtlist")}, "path")
    return "%d tools, %d options" % (len(project.tools()), n)


@test("completion/attach")
def attach():
    """--attach VALUE and --attach=VALUE offer the three methods."""
    tools = [t for t in project.tools()
             if "--attach" in {o for o, _ in help_opts(t)}]
    check(tools, "no tool lists --attach")
    for name in tools:
        for mode in MODES:
            expect_set(name + " --attach ", mode, METHODS, name)
            expect_set(name + " -m --attach=", mode, METHODS, name)
            expect_set(name + " --attach r", mode, {"raw_tp"}, name)
    return "%d tools" % len(tools)


@test("completion/usdtlat-markers")
def usdtlat_markers():
    """START and END offer exactly the markers usdtlist lists for the
    binary, wherever options put them; the interval offers nothing."""
    path = need_pairs()
    want = markers([path])
    check(want and all(m.startswith(pairs.PROVIDER + ":") for m in want),
          "usdtlist lists %s for %s" % (sorted(want), path))
    me = os.getpid()
    for mode in MODES:
        for line in ("usdtlat %s " % path,
                     "usdtlat %s hltest:req__start " % path,
                     "usdtlat -p %d --by 0 -mT %s " % (me, path),
                     "usdtlat --key=0 -t 5 %s hltest:job__queued " % path,
                     "usdtlat -jp %d -- %s hltest:req__start " % (me, path)):
            expect_set(line, mode, want, "usdtlat")
        # after the colon, readline replaces only what follows it
        part = {m.split(":", 1)[1] for m in want
                if m.startswith("hltest:req")}
        expect_set("usdtlat %s hltest:req" % path, mode, part, "usdtlat")
        expect_set("usdtlat %s hltest:req__start hltest:req__done " % path,
                   mode, [], "usdtlat interval")
    return "%d markers of %s" % (len(want), os.path.basename(path))


@test("completion/usdtlist-markers")
def usdtlist_markers():
    """The pattern offers the markers of the file, or with -p those of
    every file the process maps (a pairs process of our own)."""
    path = need_pairs()
    want = markers([path])
    proc = subprocess.Popen([path, "threads", "1", "1", "1"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            preexec_fn=die_with_parent)
    try:
        line = LineReader(proc.stdout.fileno()).readline(10)
        check(line and line.startswith(b"ready "), "pairs said %r" % line)
        mapped = markers(["-p", str(proc.pid)])
        check(want <= mapped, "usdtlist -p lists %s for pairs" % sorted(
            mapped))
        for mode in MODES:
            expect_set("usdtlist %s " % path, mode, want, "usdtlist")
            expect_set("usdtlist -j %s " % path, mode, want, "usdtlist")
            expect_set("usdtlist -p %d " % proc.pid, mode, mapped,
                       "usdtlist -p")
            expect_set("usdtlist %s hltest:j" % path, mode,
                       {m.split(":", 1)[1] for m in want
                        if m.startswith("hltest:j")}, "usdtlist")
    finally:
        proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()
    return "%d markers of the file, %d of the process" % (
        len(want), len(mapped))


@test("completion/funclat-functions")
def funclat_functions():
    """After BINARY: the functions of the binary."""
    path = need_pairs()
    r = subprocess.run(["nm", "--defined-only", "-P", path],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "nm %s: %s" % (path, r.stderr.strip()))
    funcs = {l.split()[0] for l in r.stdout.splitlines()
             if l.split()[1] in ("T", "t", "W", "w")}
    check({"work_a", "work_b", "work_c", "recurse"} <= funcs,
          "nm finds no work_a/b/c, recurse in %s" % path)
    for mode in MODES:
        got = set(complete("funclat %s:" % path, mode))
        check(got <= funcs and {"work_a", "recurse"} <= got,
              "funclat %s: offered %s" % (path, sorted(got)[:12]))
        expect_set("funclat -p 1 %s:work_" % path, mode,
                   {"work_a", "work_b", "work_c"}, "funclat")
    return "%d functions" % len(got)


@test("completion/pid")
def pid():
    """-p / --pid offer running PIDs (ours, unless only JVMs are)."""
    me, n = str(os.getpid()), 0
    for name in project.tools():
        opts = {o for o, _ in help_opts(name)}
        if "--pid" not in opts:
            continue
        for mode in MODES:
            for line in ("%s -p " % name, "%s --pid=" % name):
                got = complete(line, mode)
                check(got and all(p.isdigit() for p in got), "%r (%s) "
                      "offered %s" % (line, mode, got[:10]))
                check(any(os.path.exists("/proc/" + p) for p in got),
                      "%r offered no running process: %s" % (line, got[:10]))
                if "--jvm" not in opts:
                    check(me in got, "%r (%s) did not offer %s, a running "
                          "process" % (line, mode, me))
        n += 1
    return "%d tools" % n


@test("completion/cgroup")
def cgroup():
    """-c offers the directories of the cgroup2 mount, as the tools take
    them: relative to it."""
    with workload.Cgroup() as cg:
        for mode in MODES:
            got = complete("schedlat -c ", mode)
            check(cg.name + "/" in got, "schedlat -c (%s) offered %s, not "
                  "%s/" % (mode, got[:10], cg.name))
            check(all(d.endswith("/") and "/" not in d[:-1] for d in got),
                  "schedlat -c offered %s, not directory names" % got[:10])
            expect_set("jitlat --cgroup=" + cg.name, mode,
                       [cg.name + "/"], "jitlat")
        return "%s under %s" % (cg.name, cg.root)


@test("completion/buckets")
def buckets():
    """--buckets offers its two named schemes (a list is typed)."""
    n = 0
    for name in project.tools():
        if "--buckets" not in {o for o, _ in help_opts(name)}:
            continue
        for mode in MODES:
            expect_set("%s --buckets " % name, mode, ["log2", "fine"], name)
            expect_set("%s --buckets=f" % name, mode, ["fine"], name)
        n += 1
    check(n >= 7, "only %d tools have --buckets" % n)
    return "%d tools" % n


@test("completion/files")
def files():
    """Options that take a PATH or FILE (--jvm, --bin, --btf...) offer
    files."""
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "libjvm.so")
        open(target, "w").close()
        for name in project.tools():
            for o, arg in help_opts(name):
                if not o.startswith("--") or arg not in ("PATH", "FILE") \
                        or o == "--cgroup":
                    continue
                for mode in MODES:
                    expect_set("%s %s=%s/li" % (name, o, tmp), mode,
                               [target], name)
                    expect_set("%s %s %s/li" % (name, o, tmp), mode,
                               [target], name)
                n += 1
    check(n, "no option takes a PATH or FILE")
    return "%d options" % n


@test("completion/loads-by-name")
def loads_by_name():
    """Installed under each tool's name, bash-completion's loader finds
    the script when that tool is first completed."""
    tools = project.tools()
    with tempfile.TemporaryDirectory() as tmp:
        os.mkdir(os.path.join(tmp, "completions"))
        for name in tools:
            with open(SCRIPT) as src, \
                    open(os.path.join(tmp, "completions", name), "w") as dst:
                dst.write(src.read())
        # each in a fresh shell: the first tool's file registers them all
        out = "".join(bash("helpers", "__load_completion %s && complete -p "
                           "%s" % (name, name), source=False,
                           env={"BASH_COMPLETION_USER_DIR": tmp})
                      for name in tools)
    got = {l.split()[-1] for l in out.splitlines() if " -F _howlong " in l}
    check(got == set(tools), "loaded for %s, expected %s" % (
        sorted(got), sorted(tools)))
    return "%d tools" % len(tools)
