"""The Debian package, built as a distro would build it and used as an
operator would use it.

A copy of the source tree (git ls-files, or the tree less bin/ build/
skel/ when it is no checkout or git is missing) in a temporary directory
is built with `dpkg-buildpackage -us -uc -b` in a clean environment,
once per run: the test that needs the package first builds it, the
others reuse it (or its failure). Then: lintian,
the package's files against the Makefile's tools, the one version
(VERSION = debian/changelog = the package = man pages = -V), and the
package installed with dpkg, its tools run from /usr/sbin, removed again.
Nothing is skipped: no dpkg-buildpackage, debhelper or lintian fails with
the hint to run make deps. The temporary directory goes when the runner
exits; the package is purged even when a check fails.
"""
import atexit
import gzip
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile

from lib import debpkg, tool
from lib.harness import check, fail, note_failure, test
from lib.project import tools, version

ROOT = tool.ROOT
DPKG_TIMEOUT = 120
# Hardening flags the user-space compiler gets from dpkg-buildflags (they
# must reach every object) and that must never reach clang -target bpf.
USER_FLAGS = ("-D_FORTIFY_SOURCE=2", "-fstack-protector-strong")
HARDENING = ("-D_FORTIFY_SOURCE", "-fstack-protector", "-fcf-protection",
             "-fPIE", "-pie", "-Wl,")
NEEDS = {"dpkg-buildpackage": "dpkg-dev", "dh": "debhelper",
         "lintian": "lintian", "dpkg-parsechangelog": "dpkg-dev"}

_state = {}


def need(cmd):
    if not shutil.which(cmd):
        fail("%s not found: install %s (run: make deps)" % (cmd, NEEDS[cmd]))


def package():
    """The built package: {"dir", "deb", "changes", "log", "secs"}; built
    on first use. A failed build fails every test that asks for it."""
    if "error" in _state:
        fail("the package did not build: " + _state["error"])
    if "deb" not in _state:
        try:
            _build()
        except Exception as e:
            _state["error"] = str(e)
            raise
    return _state


def _build():
    for cmd in ("dpkg-buildpackage", "dh"):
        need(cmd)
    p = debpkg.build()
    atexit.register(shutil.rmtree, p["dir"], True)
    _state.update(p)
    check(os.path.isfile(p["deb"]), "dpkg-buildpackage made no %s (made: "
          "%s)" % (os.path.basename(p["deb"]),
                   ", ".join(sorted(os.listdir(p["dir"])))))
    check(os.path.isfile(p["changes"]), "no " +
          os.path.basename(p["changes"]))


def contents():
    """{path: (mode, owner)} of the package's files, from dpkg-deb -c."""
    if "contents" not in _state:
        r = subprocess.run(["dpkg-deb", "-c", package()["deb"]],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "dpkg-deb -c: " + r.stderr.strip())
        found = {}
        for line in r.stdout.splitlines():
            f = line.split(None, 5)
            found[f[5].split(" -> ")[0].lstrip(".")] = (f[0], f[1])
        _state["contents"] = found
    return _state["contents"]


def package_file(path):
    """The bytes of one file of the package."""
    if "tar" not in _state:
        r = subprocess.run(["dpkg-deb", "--fsys-tarfile", package()["deb"]],
                           capture_output=True, timeout=60)
        check(r.returncode == 0, "dpkg-deb --fsys-tarfile failed")
        _state["tar"] = r.stdout
    with tarfile.open(fileobj=io.BytesIO(_state["tar"])) as tar:
        return tar.extractfile("." + path).read()


@test("package/build")
def build():
    """dpkg-buildpackage from a clean copy of the tree; its log (the
    rules build with V=1) shows that every user-space object got the
    hardening flags dpkg-buildflags hands out and that no BPF object
    got any of them."""
    p = package()
    bpf, user = [], []
    for line in p["log"].splitlines():
        if "-target bpf" in line:
            bpf.append(line)
        elif re.search(r"\s-c\s+tools/\S+\.c\b", line):
            user.append(line)
    progs = {t for t in tools()
             if os.path.exists(os.path.join(ROOT, "progs", t + ".bpf.c"))}
    built = {m.group(1) for m in (re.search(r"progs/(\S+)\.bpf\.c", l)
                                  for l in bpf) if m}
    check(built == progs, "BPF programs compiled (V=1 log): %s, expected "
          "%s" % (sorted(built), sorted(progs)))
    polluted = [l for l in bpf if any(f in l for f in HARDENING)]
    if polluted:
        fail("BPF compile got user-space flags: " + polluted[0])
    check(user, "no user-space compile line in the build log")
    bare = [l for l in user if not all(f in l for f in USER_FLAGS)]
    if bare:
        fail("compiled without %s: %s" % (" ".join(USER_FLAGS), bare[0]))
    return "%s, %d KiB, built in %.1fs; %d BPF objects clean, %d " \
        "user objects hardened" % (os.path.basename(p["deb"]),
                                   os.path.getsize(p["deb"]) // 1024,
                                   p["secs"], len(bpf), len(user))


@test("package/lintian")
def lintian():
    """lintian (with info tags) on the .changes: no error, no hardening
    tag, no missing manual page."""
    need("lintian")
    p = package()
    r = subprocess.run(["lintian", "-I", p["changes"]], capture_output=True,
                       text=True, timeout=180)
    tags = []
    for line in r.stdout.splitlines():
        m = re.match(r"^([EWIPX]): \S+(?: \w+)?: (\S+)", line)
        if m:
            tags.append((m.group(1), m.group(2), line))
    check(r.returncode in (0, 2) and (r.returncode == 0 or tags),
          "lintian exit %d: %s" % (r.returncode, (r.stderr.strip() or
                                                  "?").splitlines()[-1]))
    bad = [t for t in tags if t[0] == "E" or t[1].startswith("hardening-")
           or t[1] in ("no-manual-page", "binary-without-manpage")]
    check(not bad, "lintian: %d problem(s): %s" % (
        len(bad), "; ".join(t[2] for t in bad[:5])))
    count = {s: sum(1 for t in tags if t[0] == s) for s in "EWI"}
    return "0 E, %d W, %d I%s" % (count["W"], count["I"], (
        " (" + ", ".join(sorted({t[1] for t in tags})) + ")") if tags else "")


@test("package/contents")
def package_contents():
    """Every tool of the Makefile in /usr/sbin (root, 0755), its man page
    gzipped in section 8 carrying VERSION, a completion file that
    completes it; the copyright file; nothing else in /usr/sbin."""
    files = contents()
    want = []
    for t in tools():
        sbin = "/usr/sbin/" + t
        check(sbin in files, "no %s in the package" % sbin)
        check(files[sbin] == ("-rwxr-xr-x", "root/root"),
              "%s is %s %s" % ((sbin,) + files[sbin]))
        want += [sbin, "/usr/share/man/man8/%s.8.gz" % t,
                 "/usr/share/bash-completion/completions/" + t]
    want.append("/usr/share/doc/howlong/copyright")
    missing = [w for w in want if w not in files]
    check(not missing, "not in the package: %s" % ", ".join(missing))
    extra = sorted(f for f in files if f.startswith("/usr/sbin/") and
                   files[f][0][0] != "d" and f not in want)
    check(not extra, "unexpected in /usr/sbin: %s" % ", ".join(extra))
    for t in tools():
        man = gzip.decompress(package_file(
            "/usr/share/man/man8/%s.8.gz" % t)).decode(errors="replace")
        th = man.split("\n", 1)[0]
        check(th.startswith(".TH") and "howlong " + version() in th,
              "%s.8: .TH line %r lacks howlong %s" % (t, th, version()))
        comp = package_file("/usr/share/bash-completion/completions/" +
                            t).decode(errors="replace")
        check(re.search(r"^complete .*\b%s\b" % re.escape(t), comp, re.M),
              "the completion file %s does not complete %s" % (t, t))
    return "%d tools, man pages and completions; %d files" % (
        len(tools()), sum(1 for m in files.values() if m[0][0] != "d"))


UNIT = "/lib/systemd/system/howlong-exporter@.service"
UNIT_INSTANCE = "howlong-exporter@schedlat.service"


def maintainer_scripts():
    """{name: text} of the package's maintainer scripts (dpkg-deb -e)."""
    d = tempfile.mkdtemp(prefix="howlong-debctl-")
    try:
        r = subprocess.run(["dpkg-deb", "-e", package()["deb"], d],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "dpkg-deb -e: " + r.stderr.strip())
        found = {}
        for name in ("preinst", "postinst", "prerm", "postrm"):
            path = os.path.join(d, name)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    found[name] = f.read()
        return found
    finally:
        shutil.rmtree(d, ignore_errors=True)


@test("package/exporter-unit")
def exporter_unit():
    """The exporter's template unit (docs/metrics.md, "As a service") is
    in the package at /lib/systemd/system, root 0644, as written in
    debian/; a template, so no maintainer script enables or starts it
    (dh_installsystemd --no-enable --no-start); it runs /usr/sbin/%i
    with $HOWLONG_OPTS, defaulting to --listen 9100 (Environment= before
    the optional EnvironmentFile=). systemd-analyze verify of an
    instance is in package/install, where /usr/sbin/schedlat and its
    man page exist (verify checks both)."""
    files = contents()
    check(UNIT in files, "no %s in the package" % UNIT)
    check(files[UNIT] == ("-rw-r--r--", "root/root"),
          "%s is %s %s" % ((UNIT,) + files[UNIT]))
    text = package_file(UNIT).decode()
    with open(os.path.join(ROOT, "debian",
                           "howlong.howlong-exporter@.service")) as f:
        check(text == f.read(), "%s differs from debian/howlong."
              "howlong-exporter@.service" % UNIT)
    lines = [l.strip() for l in text.splitlines()]
    for want in ("ExecStart=/usr/sbin/%i $HOWLONG_OPTS",
                 'Environment="HOWLONG_OPTS=--listen 9100"',
                 "EnvironmentFile=-/etc/default/howlong-exporter-%i",
                 "Restart=on-failure"):
        check(want in lines, "%s lacks the line %r" % (UNIT, want))
    check(lines.index('Environment="HOWLONG_OPTS=--listen 9100"') <
          lines.index("EnvironmentFile=-/etc/default/howlong-exporter-%i"),
          "%s: Environment= after EnvironmentFile= would override the "
          "file" % UNIT)
    for name, script in maintainer_scripts().items():
        for verb in ("enable", "start"):
            check(not re.search(r"deb-systemd-(helper|invoke)\s+(\S+\s+)*"
                                + verb + r"\b.*howlong-exporter", script),
                  "%s %ss howlong-exporter@: a template must not be" % (
                      name, verb))
    return "%s, 0644, not enabled or started by the package" % UNIT


def verify_unit():
    """systemd-analyze verify of an instance of the installed template:
    every message counts (an unknown key or a bad value is only a
    warning, exit 0, to systemd-analyze). Its man check runs `man` for
    every page Documentation= names."""
    if not shutil.which("systemd-analyze"):
        fail("systemd-analyze not found: install systemd (run: make deps)")
    r = subprocess.run(["systemd-analyze", "verify", UNIT_INSTANCE],
                       capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    said = [l for l in (r.stdout + r.stderr).splitlines() if l.strip()]
    check(r.returncode == 0 and not said, "systemd-analyze verify %s: "
          "exit %d: %s" % (UNIT_INSTANCE, r.returncode,
                           "; ".join(said[:3]) or "no message"))


@test("package/one-version")
def one_version():
    """debian/changelog's version is VERSION, and so is the built
    package's; the package is native (no Debian revision)."""
    need("dpkg-parsechangelog")
    v = version()
    r = subprocess.run(["dpkg-parsechangelog", "-l",
                        os.path.join(ROOT, "debian", "changelog"),
                        "-S", "Version"], capture_output=True, text=True,
                       timeout=30)
    check(r.returncode == 0, "dpkg-parsechangelog: " + r.stderr.strip())
    check(r.stdout.strip() == v, "debian/changelog says %s, VERSION says %s"
          " (add a debian/changelog entry for it)" % (r.stdout.strip(), v))
    with open(os.path.join(ROOT, "debian", "source", "format")) as f:
        fmt = f.read().strip()
    check(fmt == "3.0 (native)" and "-" not in v,
          "a native package needs format 3.0 (native) and a version "
          "without '-': %r, %s" % (fmt, v))
    r = subprocess.run(["dpkg-deb", "-f", package()["deb"], "Version"],
                       capture_output=True, text=True, timeout=30)
    check(r.stdout.strip() == v, "the package's version is %r, VERSION "
          "says %s" % (r.stdout.strip(), v))
    return "VERSION = debian/changelog = package = " + v


def status():
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Status}", "howlong"],
                       capture_output=True, text=True, timeout=30)
    return r.stdout.strip() if r.returncode == 0 else "not-installed"


def dpkg(*args):
    r = subprocess.run(["dpkg"] + list(args), capture_output=True,
                       text=True, timeout=DPKG_TIMEOUT,
                       stdin=subprocess.DEVNULL,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    err = [l for l in r.stderr.splitlines() if l.strip()]
    return r.returncode, (err[-1] if err else "")


@test("package/install")
def install():
    """dpkg -i; every tool's -V from /usr/sbin; schedlat 1 1 prints its
    histogram; usdtlist lists python3.11's markers; man finds every page;
    the completion, sourced as bash-completion does, completes options
    from the installed tool's --help; systemd-analyze verify accepts
    howlong-exporter@schedlat.service. Then dpkg --purge (also on
    failure) and nothing of the package is left."""
    deb = package()["deb"]
    files = contents()
    before = status()
    check(before.endswith("not-installed") or before.startswith("unknown"),
          "howlong is already installed (%s): this test would replace it "
          "(remove it: dpkg --purge howlong)" % before)
    try:
        rc, err = dpkg("-i", deb)
        check(rc == 0, "dpkg -i %s: exit %d: %s" % (
            os.path.basename(deb), rc, err))
        check(status() == "install ok installed", "after dpkg -i: " +
              status())
        for t in tools():
            r = tool.run(["-V"], name=t, exe=["/usr/sbin/" + t])
            r.expect_rc(0)
            check(version() in r.out.split(),
                  "%s: %r, expected %s" % (r.cmd(), r.out, version()))
        r = tool.run(["1", "1"], name="schedlat", exe=["/usr/sbin/schedlat"])
        r.expect_rc(0)
        count = re.search(r"^count (\d+) ", r.out, re.M)
        check(count and "distribution" in r.out,
              "%s printed no histogram: %r" % (r.cmd(), r.out[:200]))
        verify_unit()
        r = tool.run(["/usr/bin/python3.11"], name="usdtlist",
                     exe=["/usr/sbin/usdtlist"])
        r.expect_rc(0)
        check(re.search(r"^  python:\S+: \d+ site", r.out, re.M),
              "%s listed no python marker: %r" % (r.cmd(), r.out[:200]))
        for t in tools():
            page = "/usr/share/man/man8/%s.8.gz" % t
            m = subprocess.run(["man", "-aw", t], capture_output=True,
                               text=True, timeout=30)
            check(page in m.stdout.split(),
                  "man -aw %s: %r, expected %s" % (t, m.stdout.strip(),
                                                   page))
            c = subprocess.run(
                ["bash", "-c", 'source "$1" && COMP_WORDS=("$2" --)'
                 ' COMP_CWORD=1 && "$(complete -p "$2" | '
                 'sed -n "s/.*-F \\([^ ]*\\) .*/\\1/p")" && '
                 'printf "%s\\n" "${COMPREPLY[@]}"', "bash",
                 "/usr/share/bash-completion/completions/" + t, t],
                capture_output=True, text=True, timeout=30,
                env=dict(os.environ, PATH="/usr/sbin:/usr/bin:/sbin:/bin"))
            opts = c.stdout.split()
            check(c.returncode == 0 and "--help" in opts,
                  "installed completion of %s offers %r for '--' (%s)" % (
                      t, opts[:8], c.stderr.strip()[:100]))
    finally:
        rc, err = dpkg("--purge", "howlong")
        if rc:
            note_failure("dpkg --purge howlong: exit %d: %s" % (rc, err))
        left = sorted(f for f, m in files.items() if m[0][0] != "d" and
                      os.path.lexists(f))
        if left:
            note_failure("left after dpkg --purge: %s" % ", ".join(left))
        if not status().endswith("not-installed") and \
                not status().startswith("unknown"):
            note_failure("after dpkg --purge: " + status())
    return "installed, %d tools -V %s, schedlat counted %s, man and " \
        "completion found, %s verified, purged" % (
            len(tools()), version(), count.group(1), UNIT_INSTANCE)
