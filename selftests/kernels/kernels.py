"""The kernels howlong is tested on, and fetching them from Debian.

A kernel is a Debian linux-image package, downloaded with apt-get and
unpacked with dpkg -x under CACHE/<name>/; it is never installed.  The
package name carries an ABI number that changes with every security
update, so the newest one is found with apt at fetch time; once a kernel
is cached, using it asks apt nothing (offline runs, no re-download).
"""

import json
import os
import re
import shutil
import subprocess
import time

CACHE = os.environ.get("HOWLONG_KERNELS", "/var/tmp/howlong-kernels")

# name -> (suite, package-name regex whose group 1 orders the candidates).
# suite None: the host's configured sources (bookworm).  Other suites get a
# private apt state, so the host's sources and lists are never touched.
KERNELS = {
    "5.10": ("bullseye", r"linux-image-5\.10\.0-(\d+)-amd64"),
    "6.1": (None, r"linux-image-6\.1\.0-(\d+)-amd64"),
    "6.1-cloud": (None, r"linux-image-6\.1\.0-(\d+)-cloud-amd64"),
    "6.12": (None, r"linux-image-6\.12\.(\d+)\+deb12-amd64"),
    # Another architecture's: its packages are listed once dpkg knows the
    # architecture (make deps-arm64 adds it).
    "6.1-arm64": (None, r"linux-image-6\.1\.0-(\d+)-arm64"),
}


def arch_of(name):
    """The Debian architecture of kernel NAME's package."""
    return "arm64" if name.endswith("-arm64") else "amd64"

# apt-get download writes into a root-owned directory that the _apt user
# cannot enter; run the download as root instead of warning about it.
APT_COMMON = ["-q", "-o", "APT::Sandbox::User=root"]


class KernelError(Exception):
    pass


class Kernel:
    """A cached, unpacked kernel package."""

    def __init__(self, name, info):
        self.name = name
        self.package = info["package"]
        self.pkg_version = info["pkg_version"]
        self.version = info["version"]  # uname -r
        self.root = os.path.join(CACHE, name, "root")
        self.vmlinuz = os.path.join(self.root, "boot",
                                    "vmlinuz-" + self.version)
        self.moddir = os.path.join(self.root, "lib", "modules",
                                   self.version)
        self.dir = os.path.join(CACHE, name)

    def __repr__(self):
        return "%s %s (%s %s)" % (self.name, self.version,
                                  self.package, self.pkg_version)


def _run(cmd, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, **kw)
    if p.returncode:
        raise KernelError("%s failed: %s" % (" ".join(cmd),
                                             p.stderr.strip()))
    return p.stdout


def _mirror():
    """The Debian mirror URL the host's deb822 sources name."""
    path = "/etc/apt/sources.list.d/debian.sources"
    try:
        with open(path) as f:
            for line in f:
                m = re.match(r"URIs:\s*(\S+)", line)
                if m and "security" not in m.group(1):
                    return m.group(1)
    except OSError:
        pass
    return "http://deb.debian.org/debian"


def _apt_opts(suite):
    """apt options for a private state of SUITE, updated at most daily."""
    if suite is None:
        return APT_COMMON
    d = os.path.join(CACHE, "apt-" + suite)
    lists = os.path.join(d, "lists")
    cache = os.path.join(d, "cache")
    os.makedirs(os.path.join(lists, "partial"), exist_ok=True)
    os.makedirs(os.path.join(cache, "archives", "partial"), exist_ok=True)
    src = os.path.join(d, "sources.list")
    # The stock keyring still holds the bullseye archive keys.
    with open(src, "w") as f:
        f.write("deb [signed-by=/usr/share/keyrings/"
                "debian-archive-keyring.gpg] %s %s main\n"
                % (_mirror(), suite))
    opts = APT_COMMON + [
        "-o", "Dir::Etc::sourcelist=" + src,
        "-o", "Dir::Etc::sourceparts=/nonexistent",
        "-o", "Dir::State::Lists=" + lists,
        "-o", "Dir::Cache=" + cache,
        # Nothing of the host's installed set matters here.
        "-o", "Dir::State::status=/dev/null",
    ]
    stamp = os.path.join(d, "updated")
    try:
        age = time.time() - os.path.getmtime(stamp)
    except OSError:
        age = None
    if age is None or age > 86400:
        _run(["apt-get"] + opts + ["update"])
        open(stamp, "w").close()
    return opts


def newest_package(name):
    suite, pattern = KERNELS[name]
    opts = _apt_opts(suite)
    prefix = pattern.split("\\")[0]
    found = []
    for pkg in _run(["apt-cache"] + opts + ["pkgnames", prefix]).split():
        m = re.fullmatch(pattern, pkg)
        if m:
            found.append((int(m.group(1)), pkg))
    if not found:
        raise KernelError("no package matching %s in %s"
                          % (pattern, suite or "the configured sources"))
    return max(found)[1], opts


def _info_path(name):
    return os.path.join(CACHE, name, "kernel.json")


def cached(name):
    """The cached kernel NAME, or None."""
    if name not in KERNELS:
        raise KernelError("unknown kernel %s (known: %s)"
                          % (name, " ".join(KERNELS)))
    try:
        with open(_info_path(name)) as f:
            return Kernel(name, json.load(f))
    except (OSError, ValueError):
        return None


def fetch(name, log=print):
    """Download and unpack the newest package of NAME unless cached."""
    old = cached(name)
    pkg, opts = newest_package(name)
    if old and old.package == pkg:
        return old
    d = os.path.join(CACHE, name)
    dl = os.path.join(d, "download")
    shutil.rmtree(dl, ignore_errors=True)
    os.makedirs(dl)
    log("fetching %s: %s" % (name, pkg))
    _run(["apt-get"] + opts + ["download", pkg + ":" + arch_of(name)],
         cwd=dl)
    debs = [f for f in os.listdir(dl) if f.endswith(".deb")]
    if len(debs) != 1:
        raise KernelError("apt-get download %s left %s" % (pkg, debs))
    deb = os.path.join(dl, debs[0])
    pkg_version = _run(["dpkg-deb", "-f", deb, "Version"]).strip()
    # Unpack beside the old tree and switch only once complete, so that
    # an interrupted fetch never leaves a half kernel that looks cached.
    new = os.path.join(d, "root.new")
    shutil.rmtree(new, ignore_errors=True)
    _run(["dpkg", "-x", deb, new])
    version = pkg[len("linux-image-"):]
    if not os.path.exists(os.path.join(new, "boot", "vmlinuz-" + version)):
        raise KernelError("%s has no boot/vmlinuz-%s" % (pkg, version))
    # The package leaves modules.dep to the postinst we never run;
    # without it neither modprobe here nor in the guest finds a module.
    # (arm64's System.map is a stub: depmod then checks no symbol
    # versions, which it needs not to build modules.dep.)
    _run(["depmod", "-b", new, "-F",
          os.path.join(new, "boot", "System.map-" + version), version])
    shutil.rmtree(os.path.join(d, "root"), ignore_errors=True)
    shutil.rmtree(os.path.join(d, "initramfs"), ignore_errors=True)
    os.rename(new, os.path.join(d, "root"))
    os.replace(deb, os.path.join(d, debs[0]))
    shutil.rmtree(dl)
    for f in os.listdir(d):
        if f.endswith(".deb") and f != debs[0]:
            os.unlink(os.path.join(d, f))
    info = {"package": pkg, "pkg_version": pkg_version,
            "version": version}
    with open(_info_path(name) + ".tmp", "w") as f:
        json.dump(info, f)
    os.replace(_info_path(name) + ".tmp", _info_path(name))
    return Kernel(name, info)


def get(name, log=print):
    """The kernel NAME, fetched on first use only."""
    return cached(name) or fetch(name, log)


def busybox(arch):
    """bin/busybox of Debian's busybox-static for ARCH, fetched and
    unpacked under CACHE once (never installed: it would replace the
    host's, one path for every architecture)."""
    d = os.path.join(CACHE, "busybox-" + arch)
    path = os.path.join(d, "root", "bin", "busybox")
    if os.path.exists(path):
        return path
    dl = os.path.join(d, "download")
    shutil.rmtree(dl, ignore_errors=True)
    os.makedirs(dl)
    _run(["apt-get"] + APT_COMMON + ["download", "busybox-static:" + arch],
         cwd=dl)
    debs = [f for f in os.listdir(dl) if f.endswith(".deb")]
    if len(debs) != 1:
        raise KernelError("apt-get download busybox-static:%s left %s"
                          % (arch, debs))
    new = os.path.join(d, "root.new")
    shutil.rmtree(new, ignore_errors=True)
    _run(["dpkg", "-x", os.path.join(dl, debs[0]), new])
    shutil.rmtree(os.path.join(d, "root"), ignore_errors=True)
    os.rename(new, os.path.join(d, "root"))
    shutil.rmtree(dl)
    return path
