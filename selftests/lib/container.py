"""Containers made as runtimes make them, from the host's own files (no
image to fetch): a mount, pid and cgroup namespace of their own, a root of
their own (a tmpfs with the host's /usr, /etc and /dev bound in, and
/proc of the new pid namespace), a cgroup v2 directory of their own, and
their own copies of the files the test names: another inode at the same
path, as a container image's copy of a binary is.

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
# copy in, "--", the command. Mounts made here are private to the new
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
    def __init__(self, tag, own=()):
        self.tag, self.own = tag, list(own)
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

    def enter(self):
        """In the child before exec: join the container's cgroup, so that
        the cgroup namespace is rooted there."""
        with open(os.path.join(self.cgroup.path, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))

    def host_pid(self, unshare_pid, timeout=10):
        """The pid, as the host sees it, of the command unshare started:
        its one child, once that child runs the command (chroot execs
        it)."""
        deadline = time.monotonic() + timeout
        path = "/proc/%d/task/%d/children" % (unshare_pid, unshare_pid)
        while time.monotonic() < deadline:
            try:
                with open(path) as f:
                    kids = f.read().split()
                if kids:
                    pid = int(kids[0])
                    with open("/proc/%d/comm" % pid) as f:
                        if f.read().strip() not in ("sh", "chroot"):
                            return pid
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
