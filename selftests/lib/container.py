"""Containers made as runtimes make them, from the host's own files (no
image to fetch): a mount, pid and cgroup namespace of their own, a root of
their own (a tmpfs with the host's /usr, /etc and /dev bound in, and
/proc of the new pid namespace), a cgroup v2 directory of their own, and
their own copies of the files the test names: another inode at the same
path, as a container image's copy of a binary is; and, bound in at the
same path, the host directories it names (a volume: a database's data).

    with Container("a", own=[pairs.PATH]) as c:
        p = subprocess.Popen(c.argv([pairs.PATH, "threads", ...]), ...)
        c.host_pid(p.pid)   # the command's pid as the host sees it
"""
import os
import shutil
import tempfile
import time

from lib import workload
from lib.harness import Failure

# Run by sh as pid 1 of the new namespaces: $1 the root, then the files to
# copy in and "+DIR"s to bind in, "--", the command. Mounts made here are private to the new
# mount namespace and go with it.
SETUP = r'''
set -e
root=$1; shift
mount --make-rprivate /
mount -t tmpfs -o mode=755 howlong-container "$root"
mkdir -p "$root/usr" "$root/etc" "$root/dev" "$root/proc" "$root/tmp" \
	"$root/run" "$root/.own"
mount --rbind /usr "$root/usr"
mount --rbind /etc "$root/etc"
mount --rbind /dev "$root/dev"
for l in bin lib lib64 sbin; do ln -s "usr/$l" "$root/$l"; done
mount -t proc proc "$root/proc"
n=0
while [ "$1" != -- ]; do
	case $1 in +*)
		mkdir -p "$root${1#+}"
		mount --bind "${1#+}" "$root${1#+}"
		shift
		continue;;
	esac
	n=$((n + 1))
	cp "$1" "$root/.own/$n"
	if [ -e "$root$1" ]; then
		mount --bind "$root/.own/$n" "$root$1"
	else
		mkdir -p "$root$(dirname "$1")"
		mv "$root/.own/$n" "$root$1"
	fi
	shift
done
shift
cd /
exec chroot "$root" "$@"
'''


class Container:
    def __init__(self, tag, own=(), binds=()):
        self.tag, self.own = tag, list(own) + ["+" + d for d in binds]
        self.cgroup = workload.Cgroup(tag)
        self.root = None

    def __enter__(self):
        self.cgroup.__enter__()
        self.root = tempfile.mkdtemp(prefix="howlong-container-")
        return self

    def argv(self, cmd):
        """The command line that runs cmd inside; start it with
        preexec_fn=self.enter (and die_with_parent, if wanted)."""
        return (["unshare", "--mount", "--pid", "--cgroup", "--fork",
                 "--kill-child", "--", "sh", "-c", SETUP, "sh", self.root]
                + self.own + ["--"] + list(cmd))

    def bind(self, path):
        """Bind the host directory path in, at the same path (before
        argv())."""
        self.own.append("+" + path)

    def enter(self):
        """In the child before exec: join the container's cgroup, so that
        the cgroup namespace is rooted there."""
        self.cgroup.join()

    def host_pid(self, unshare_pid, timeout=10):
        """The pid, as the host sees it, of the command unshare started:
        its one child, the setup's shell, which execs chroot, which execs
        the command: one pid throughout."""
        deadline = time.monotonic() + timeout
        path = "/proc/%d/task/%d/children" % (unshare_pid, unshare_pid)
        while time.monotonic() < deadline:
            try:
                with open(path) as f:
                    kids = f.read().split()
                if kids:
                    return int(kids[0])
            except OSError:
                pass
            time.sleep(0.01)
        raise Failure("container %s: no command started" % self.tag)

    def __exit__(self, *exc):
        # The command has ended (the caller's with-block closed it first):
        # its namespaces, mounts and tmpfs went with it.
        try:
            self.cgroup.__exit__(*exc)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
        return False
