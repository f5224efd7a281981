"""The initramfs that turns the host's root into the guest's.

One base archive per kernel, cached beside it: busybox-static, the modules
that reach the host's / (9p, or virtiofs where the kernel has no 9p, as
the -cloud flavours) and the overlay over it, and init.sh as /init.  What
one run needs (its command, its cwd) goes into a second small archive
that vm.py appends: the kernel unpacks concatenated archives in order.
"""

import hashlib
import lzma
import os
import stat
import subprocess
import tempfile

import kernels

BUSYBOX = "/bin/busybox"
HERE = os.path.dirname(os.path.abspath(__file__))
HOST_ARCH = subprocess.run(["dpkg", "--print-architecture"],
                           stdout=subprocess.PIPE, text=True).stdout.strip()


def foreign(kernel):
    """Whether KERNEL's guest cannot run the host's programs."""
    return kernels.arch_of(kernel.name) != HOST_ARCH


def busybox(kernel):
    """The busybox-static binary for KERNEL's architecture: the host's, or
    the package of the other architecture, unpacked beside the kernels
    (installing it would replace the host's)."""
    if not foreign(kernel):
        return BUSYBOX
    return kernels.busybox(kernels.arch_of(kernel.name))

# virtio_console carries the command's output and status to the host.
MODULES = {
    "9p": ["virtio_pci", "virtio_console", "9pnet_virtio", "9p", "overlay"],
    "virtiofs": ["virtio_pci", "virtio_console", "virtiofs", "overlay"],
}


class Cpio:
    """A newc archive written in memory; ownership root, mtime 0."""

    def __init__(self):
        self.data = bytearray()
        self.ino = 1

    def _entry(self, name, mode, body=b"", rdev=(0, 0)):
        name = name.lstrip("/").encode() + b"\0"
        fields = (self.ino, mode, 0, 0, 1, 0, len(body), 0, 0,
                  rdev[0], rdev[1], len(name), 0)
        self.ino += 1
        self.data += b"070701" + b"".join(b"%08X" % f for f in fields)
        self.data += name
        self.data += b"\0" * (-len(self.data) % 4)
        self.data += body
        self.data += b"\0" * (-len(self.data) % 4)

    def dir(self, name):
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name, body, mode=0o644):
        self._entry(name, stat.S_IFREG | mode, body)

    def symlink(self, name, target):
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name, major, minor):
        self._entry(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def bytes(self):
        self._entry("TRAILER!!!", 0)
        return bytes(self.data) + b"\0" * (-len(self.data) % 512)


def _depends(kernel, module):
    """Module files to load for MODULE, in order; [] if built in or absent."""
    p = subprocess.run(["modprobe", "-d", kernel.root, "-S", kernel.version,
                        "--show-depends", module],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True)
    return [line.split()[1] for line in p.stdout.splitlines()
            if line.startswith("insmod ")]


def _has(kernel, module):
    """Whether MODULE exists at all, as a module or built in."""
    return subprocess.run(["modprobe", "-d", kernel.root, "-S",
                           kernel.version, "--show-depends", module],
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def root_fs(kernel):
    """How the guest reaches the host's /: 9p where it can, else virtiofs."""
    return "9p" if _has(kernel, "9p") else "virtiofs"


def _recipe_hash(kernel):
    """What the archive is made from, so that a changed init or recipe
    is never masked by an archive built before."""
    h = hashlib.sha256()
    for f in (os.path.join(HERE, "init.sh"), os.path.abspath(__file__),
              busybox(kernel)):
        with open(f, "rb") as fp:
            h.update(fp.read())
    return h.hexdigest()[:12]


def build(kernel):
    """Path of KERNEL's base archive, built on first use."""
    d = os.path.join(kernel.dir, "initramfs")
    path = os.path.join(d, "base-%s.cpio" % _recipe_hash(kernel))
    if os.path.exists(path):
        return path
    fs = root_fs(kernel)
    order = []
    # A foreign guest has no modprobe of the host's to run: what its
    # tests need (loop devices) is loaded at boot.
    for m in MODULES[fs] + (["loop"] if foreign(kernel) else []):
        if not _has(kernel, m):
            raise kernels.KernelError("%s has no module %s"
                                      % (kernel.name, m))
        for f in _depends(kernel, m):
            if f not in order:
                order.append(f)

    a = Cpio()
    for sub in ("bin", "dev", "proc", "sys", "lower", "rw", "newroot",
              "modules"):
        a.dir(sub)
    a.chardev("dev/console", 5, 1)
    with open(busybox(kernel), "rb") as f:
        a.file("bin/busybox", f.read(), 0o755)
    a.symlink("bin/sh", "busybox")
    names = []
    for f in order:
        # Busybox's insmod takes no compressed module, and not every
        # kernel here can decompress one: unpack .ko.xz now.
        with open(f, "rb") as m:
            body = m.read()
        if f.endswith(".xz"):
            body = lzma.decompress(body)
        name = os.path.basename(f).split(".ko")[0] + ".ko"
        a.file("modules/" + name, body)
        names.append(name)
    a.file("modules/order", "".join(n + "\n" for n in names).encode())
    conf = ("ROOTFS=%s\nKVER='%s'\nKNAME='%s'\nMODDIR='%s'\nFOREIGN=%d\n"
            % (fs, kernel.version, kernel.name,
               os.path.realpath(kernel.moddir), foreign(kernel)))
    a.file("howlong.conf", conf.encode())
    with open(os.path.join(HERE, "init.sh"), "rb") as f:
        a.file("init", f.read(), 0o755)

    # Runs may build at the same time: each writes its own file and the
    # last rename wins; an archive of an older recipe goes, the file a
    # running qemu has open stays readable.
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(a.bytes())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    for f in os.listdir(d):
        if f != os.path.basename(path) and f.startswith("base"):
            os.unlink(os.path.join(d, f))
    return path
