"""What the running kernel offers BPF, read from its BTF: the ground truth
for the tools' own start-up probe, which loads programs to find out.

A helper or kfunc exists when its name is in the BTF strings: helper ids
are the enumerators of enum bpf_func_id (BPF_FUNC_<name>), kfuncs are
functions. Tests use this to expect a tool to work, or to say in one line
why it cannot, on whatever kernel runs them (make check-kernels).
"""
import functools
import os

BTF = "/sys/kernel/btf/vmlinux"


@functools.lru_cache(maxsize=None)
def _strings():
    with open(BTF, "rb") as f:
        return f.read()


def has_name(name):
    return b"\0" + name.encode() + b"\0" in _strings()


def attach_cookies():
    """bpf_get_attach_cookie(): Linux 5.15."""
    return has_name("BPF_FUNC_get_attach_cookie")


def task_storage():
    """Task-local storage for tracing programs: Linux 5.11."""
    return (has_name("BPF_FUNC_task_storage_get") and
            has_name("BPF_FUNC_get_current_task_btf"))


def sched_task_storage():
    """Task storage that BPF allocates from its own caches (6.4: the
    bpf_ma member of bpf_local_storage_map), so that scheduler hooks may
    create it."""
    return task_storage() and has_name("bpf_ma")


def release():
    return os.uname().release


@functools.lru_cache(maxsize=None)
def emulated():
    """Whether this kernel runs under qemu's emulation (the kernel matrix
    and check-arm64), where every program run costs tens of times more
    and two tools on one hook each see the other's program in their
    time: x86's TCG names its CPU so, arm64's virt machine its device
    tree."""
    try:
        with open("/proc/cpuinfo") as f:
            if "QEMU TCG" in f.read():
                return True
    except OSError:
        pass
    try:
        with open("/proc/device-tree/compatible", "rb") as f:
            return b"linux,dummy-virt" in f.read()
    except OSError:
        return False
