#!/usr/bin/python3
"""Run a command under another kernel: a qemu guest whose root is the
host's / (read-only, under a tmpfs overlay).

    vm.py run KERNEL [--timeout S] [--mem MB] [-v] [--kernel-log FILE]
              -- CMD ARGS...
    vm.py fetch KERNEL...
    vm.py list

run streams the command's stdout and stderr (merged) to stdout and exits
with its status; 124 on timeout, 125 if the guest failed to boot (one line
on stderr, and the tail of the kernel's console with -v).
Output and status travel on two virtio serial ports, not on the console,
so that no kernel message can mix with them or fake an exit status.
"""

import argparse
import os
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import initramfs  # noqa: E402
import kernels  # noqa: E402
from lib.procs import die_with_parent  # noqa: E402

# Per Debian architecture: qemu, its machine and CPU under emulation, and
# the console the kernel logs to.
QEMU = {
    "amd64": ("qemu-system-x86_64", [], "ttyS0"),
    "arm64": ("qemu-system-aarch64", ["-M", "virt"], "ttyAMA0"),
}
VIRTIOFSD = "/usr/lib/qemu/virtiofsd"
TIMEOUT_RC = 124
BOOT_FAIL_RC = 125


class VMError(Exception):
    pass


def kvm_usable():
    """Whether KVM can run a stock kernel here.  A paravirtual nested KVM
    (kvm-pvm, no vmx/svm in the CPU flags) has /dev/kvm but hangs stock
    kernels at boot, so decide from the flags, not from a trial boot."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    return "vmx" in flags or "svm" in flags
    except OSError:
        pass
    return False


def _run_archive(argv, cwd, foreign=False, foreign_root=None):
    """The per-run initramfs part: /howlong/run, a sh script, and
    /howlong/env for init (a foreign guest's root of its own)."""
    a = initramfs.Cpio()
    a.dir("howlong")
    if foreign_root:
        a.file("howlong/env", ("FOREIGN_ROOT=%s\nHOSTDIR=%s\n" % (
            shlex.quote(foreign_root), shlex.quote(cwd))).encode())
        foreign = False     # the command runs in that root, cwd laid in
    # $1 is the output port.  The redirections are the script's own, so
    # that what the waiting shell says ("Killed") stays on the console.
    # A foreign guest sees the host's / at /lower.
    script = ("exec >\"$1\" 2>&1 </dev/null 3>&-\n"
              "cd %s || exit 125\nexec %s\n"
              % (shlex.quote(("/lower" if foreign else "") + cwd),
                 " ".join(shlex.quote(x) for x in argv)))
    a.file("howlong/run", script.encode(), 0o755)
    return a.bytes()


def _listen(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(1)
    return s


def _accept(lsock, proc, deadline):
    """The connection qemu makes to LSOCK at start, or VMError."""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise VMError("qemu exited with %d before connecting"
                          % proc.returncode)
        r, _, _ = select.select([lsock], [], [], 0.2)
        if r:
            return lsock.accept()[0]
    raise VMError("qemu did not connect to %s" % lsock.getsockname())


def _kill(proc):
    if proc and proc.poll() is None:
        proc.kill()
    if proc:
        proc.wait()


def _tail(path, n=25):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def _remove_stale_tmp():
    """Temp dirs of runs that were SIGKILLed (their qemu and virtiofsd
    died with them, by PR_SET_PDEATHSIG, but could not clean up)."""
    top = tempfile.gettempdir()
    for d in os.listdir(top):
        m = re.fullmatch(r"howlong-vm-(\d+)-\w+", d)
        if m and not os.path.exists("/proc/" + m.group(1)):
            shutil.rmtree(os.path.join(top, d), ignore_errors=True)


class Run:
    """One boot of KERNEL running ARGV; run() returns its exit status."""

    def __init__(self, kernel, argv, cwd=None, timeout=600, mem=4096,
                 out=None, verbose=False, kernel_log=None, foreign_root=None):
        """foreign_root: for a kernel of another architecture, a root of
        that architecture on the host to run argv in (with cwd laid over
        it); without it, argv runs in the initramfs's busybox."""
        self.kernel, self.argv = kernel, argv
        self.foreign_root = foreign_root
        self.kernel_log = kernel_log
        self.cwd = cwd or os.getcwd()
        self.timeout, self.mem, self.verbose = timeout, mem, verbose
        self.out = out or sys.stdout.buffer
        self.boot_time = None       # seconds from qemu start to "start"
        self.run_time = None        # seconds the command ran
        # The console's last lines when the guest stopped without an exit
        # status: a panic reboots at once (panic=-1, -no-reboot), and what
        # it printed is the only trace of it.
        self.console_tail = ""

    def _say(self, msg):
        print("vm: %s" % msg, file=sys.stderr, flush=True)

    def _qemu_cmd(self, tmp, initrd, fs):
        k = self.kernel
        qemu, machine, console = QEMU[kernels.arch_of(k.name)]
        accel = (["-accel", "kvm", "-cpu", "host"]
                 if kvm_usable() and not initramfs.foreign(k)
                 else ["-accel", "tcg,thread=multi", "-cpu", "max"])
        # The console is only a log, kept on request; quiet otherwise,
        # since every byte through the emulated UART costs boot time.
        append = "console=%s panic=-1 rdinit=/init" % console
        if not self.kernel_log:
            append += " quiet loglevel=4"
        cmd = [qemu] + machine + accel + [
            "-smp", "2", "-m", str(self.mem),
            "-nographic", "-no-reboot", "-nic", "none",
            "-monitor", "none",
            "-serial", "file:" + os.path.join(tmp, "console.log"),
            "-kernel", k.vmlinuz, "-initrd", initrd, "-append", append,
            "-device", "virtio-serial-pci,id=vser",
        ]
        for name in ("out", "status"):
            cmd += ["-chardev", "socket,id=%s,path=%s/%s.sock"
                    % (name, tmp, name),
                    "-device", "virtserialport,bus=vser.0,chardev=%s,"
                    "name=howlong.%s" % (name, name)]
        if fs == "9p":
            cmd += ["-virtfs", "local,path=/,mount_tag=hostroot,"
                    "security_model=none,readonly=on,multidevs=remap"]
        else:
            cmd += ["-chardev", "socket,id=vfs,path=%s/vfs.sock" % tmp,
                    "-device", "vhost-user-fs-pci,chardev=vfs,tag=hostroot",
                    "-object", "memory-backend-memfd,id=mem,size=%dM,"
                    "share=on" % self.mem,
                    "-numa", "node,memdev=mem"]
        return cmd

    def _start_virtiofsd(self, tmp):
        sock = os.path.join(tmp, "vfs.sock")
        log = open(os.path.join(tmp, "virtiofsd.log"), "wb")
        self.vfsd = subprocess.Popen(
            [VIRTIOFSD, "--socket-path=" + sock, "-o", "source=/",
             "-o", "cache=always", "-o", "sandbox=chroot"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            preexec_fn=die_with_parent)
        log.close()
        deadline = time.monotonic() + 10
        while not os.path.exists(sock):
            if self.vfsd.poll() is not None or time.monotonic() > deadline:
                raise VMError("virtiofsd did not start: %s"
                              % _tail(os.path.join(tmp, "virtiofsd.log"), 3))
            time.sleep(0.05)

    def run(self):
        self.qemu = self.vfsd = None
        _remove_stale_tmp()
        tmp = tempfile.mkdtemp(prefix="howlong-vm-%d-" % os.getpid())
        try:
            return self._run(tmp)
        except VMError as e:
            self._say("%s: %s" % (self.kernel.name, e))
            self.console_tail = _tail(os.path.join(tmp, "console.log"))
            if self.verbose:
                sys.stderr.write(self.console_tail + "\n")
            return self.rc
        finally:
            _kill(self.qemu)
            _kill(self.vfsd)
            if self.kernel_log:
                try:
                    shutil.copyfile(os.path.join(tmp, "console.log"),
                                    self.kernel_log)
                except OSError:
                    pass
            shutil.rmtree(tmp, ignore_errors=True)

    def _run(self, tmp):
        self.rc = BOOT_FAIL_RC
        fs = initramfs.root_fs(self.kernel)
        initrd = os.path.join(tmp, "initrd")
        with open(initrd, "wb") as f:
            with open(initramfs.build(self.kernel), "rb") as base:
                shutil.copyfileobj(base, f)
            f.write(_run_archive(self.argv, self.cwd,
                                 initramfs.foreign(self.kernel),
                                 self.foreign_root))
        lout = _listen(os.path.join(tmp, "out.sock"))
        lst = _listen(os.path.join(tmp, "status.sock"))
        if fs == "virtiofs":
            self._start_virtiofsd(tmp)
        qlog = open(os.path.join(tmp, "qemu.log"), "wb")
        t0 = time.monotonic()
        deadline = t0 + self.timeout
        self.qemu = subprocess.Popen(
            self._qemu_cmd(tmp, initrd, fs), stdin=subprocess.DEVNULL,
            stdout=qlog, stderr=qlog, preexec_fn=die_with_parent)
        qlog.close()
        try:
            out = _accept(lout, self.qemu, deadline)
            st = _accept(lst, self.qemu, deadline)
        except VMError as e:
            raise VMError("%s: %s" % (e, _tail(os.path.join(
                tmp, "qemu.log"), 3)))
        status = b""
        t_start = None
        live = [out, st]
        while live:
            left = deadline - time.monotonic()
            if left <= 0:
                self.rc = TIMEOUT_RC
                raise VMError("timed out after %ds (%s)" % (
                    self.timeout, "command running" if t_start
                    else "still booting"))
            r, _, _ = select.select(live, [], [], min(left, 1.0))
            for s in r:
                data = s.recv(65536)
                if not data:
                    live.remove(s)
                elif s is out:
                    self.out.write(data)
                    self.out.flush()
                else:
                    status += data
                    if t_start is None and b"start\n" in status:
                        t_start = time.monotonic()
                        self.boot_time = t_start - t0
                        if self.verbose:
                            self._say("%s booted in %.1fs" % (
                                self.kernel.name, self.boot_time))
            if self.qemu.poll() is not None and not r:
                break
        self.qemu.wait()
        for line in status.decode("utf-8", "replace").splitlines():
            if line.startswith("exit "):
                self.run_time = time.monotonic() - t_start
                self.rc = int(line.split()[1])
                return self.rc
            if line.startswith("fail "):
                raise VMError("guest init: " + line[5:])
        raise VMError("guest ended without an exit status (%s)"
                      % ("command running" if t_start else "during boot"))


def _interrupted(signum, frame):
    raise KeyboardInterrupt


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    r = sub.add_parser("run", help="boot KERNEL and run CMD in it")
    r.add_argument("kernel", choices=list(kernels.KERNELS))
    r.add_argument("--timeout", type=float, default=600)
    r.add_argument("--mem", type=int, default=4096, help="MB")
    r.add_argument("-v", "--verbose", action="store_true",
                   help="boot time; console tail on failure")
    r.add_argument("--kernel-log", metavar="FILE",
                   help="write the guest's whole kernel log to FILE")
    r.add_argument("cmd", nargs="*", help="after --")
    f = sub.add_parser("fetch", help="download and unpack kernels")
    f.add_argument("kernel", nargs="+", choices=list(kernels.KERNELS))
    sub.add_parser("list", help="kernel names and cached versions")
    # Everything after the first -- is the command, options and all.
    argv = sys.argv[1:]
    cmd = []
    if "--" in argv:
        cmd = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    a = p.parse_args(argv)

    try:
        if a.what == "list":
            for n in kernels.KERNELS:
                k = kernels.cached(n)
                print("%-10s %s" % (n, "%s  %s %s" % (
                    k.version, k.package, k.pkg_version) if k
                    else "(not fetched)"))
            return 0
        if a.what == "fetch":
            for n in a.kernel:
                k = kernels.fetch(n)
                initramfs.build(k)
                print(k)
            return 0
        cmd = a.cmd + cmd
        if not cmd:
            p.error("run: no command")
        signal.signal(signal.SIGTERM, _interrupted)
        k = kernels.get(a.kernel, log=lambda m: print(m, file=sys.stderr))
        return Run(k, cmd, timeout=a.timeout, mem=a.mem,
                   verbose=a.verbose, kernel_log=a.kernel_log).run()
    except kernels.KernelError as e:
        print("vm: %s" % e, file=sys.stderr)
        return BOOT_FAIL_RC
    except KeyboardInterrupt:
        print("vm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
