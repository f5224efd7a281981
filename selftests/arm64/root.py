"""An arm64 Debian root on the host, for the arm64 guest to run the
suite's Python, PostgreSQL and JVM in (selftests/arm64/check.py): the
packages of ROOT_PACKAGES and their dependencies, unpacked by mmdebstrap
(--variant=extract: no maintainer script runs, so none of arm64's code
runs here), plus what those scripts would have made that the tests need:
the host's users and groups (postgres among them), /etc/hosts, and the
mount points. Built once under CACHE (~760 MB, ~15 s), again when the
package list changes.
"""
import hashlib
import os
import shutil
import subprocess

CACHE = os.environ.get("HOWLONG_KERNELS", "/var/tmp/howlong-kernels")
ROOT_PACKAGES = [
    "python3", "postgresql-15", "openjdk-17-jdk-headless", "util-linux",
    "procps", "coreutils", "bash", "dash", "grep", "sed", "findutils",
    "iproute2", "kmod", "mount", "gawk", "tar", "gzip", "diffutils",
    "bpftool", "linux-perf",
]
FROM_HOST = ["etc/passwd", "etc/group", "etc/shadow", "etc/hosts"]
MOUNT_POINTS = ["proc", "sys", "dev", "tmp", "run", "var/tmp"]


class RootError(Exception):
    pass


def _recipe():
    return hashlib.sha256(" ".join(ROOT_PACKAGES).encode()).hexdigest()[:12]


def get(arch="arm64", suite="bookworm"):
    """The path of the root, built on first use."""
    path = os.path.join(CACHE, "root-%s" % arch)
    stamp = os.path.join(path, ".howlong-recipe")
    try:
        with open(stamp) as f:
            if f.read().strip() == _recipe():
                return path
    except OSError:
        pass
    new = path + ".new"
    shutil.rmtree(new, ignore_errors=True)
    r = subprocess.run(["mmdebstrap", "--variant=extract", "--arch=" + arch,
                        "--include=" + ",".join(ROOT_PACKAGES), suite, new],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if r.returncode:
        raise RootError("mmdebstrap failed: %s" % r.stdout.strip()[-300:])
    for f in FROM_HOST:
        shutil.copy2("/" + f, os.path.join(new, f))
    for d in MOUNT_POINTS:
        os.makedirs(os.path.join(new, d), exist_ok=True)
    os.chmod(os.path.join(new, "tmp"), 0o1777)
    os.chmod(os.path.join(new, "var", "tmp"), 0o1777)
    with open(os.path.join(new, ".howlong-recipe"), "w") as f:
        f.write(_recipe() + "\n")
    shutil.rmtree(path, ignore_errors=True)
    os.rename(new, path)
    return path
