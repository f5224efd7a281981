"""BPF programs and links loaded in the kernel, and leak detection.

Other people may run BPF tools on this machine while the suite runs, so a
program that appeared during a tool run is only ours if the tool held it
(its fdinfo showed the id) or if no live process holds it at all (pinned,
or left attached without an owner). Freeing after the last close can be
deferred to a workqueue, so the check waits a little before calling a leak.
"""
import json
import os
import shutil
import subprocess
import time

from lib.harness import Failure

BPFTOOL = shutil.which("bpftool") or "/usr/sbin/bpftool"
KINDS = ("prog", "link")


def _show_once(kind):
    try:
        return subprocess.run([BPFTOOL, "-j", kind, "show"],
                              capture_output=True, timeout=20)
    except FileNotFoundError:
        raise Failure("bpftool not found (needed for the leak check; "
                      "run: make deps)")
    except subprocess.TimeoutExpired:
        raise Failure("bpftool %s show timed out" % kind)


def _show(kind):
    """bpftool fails when an object goes away between its listing of ids
    and its query of one (another tool detaching meanwhile): ask again.
    In JSON mode it puts its error on stdout."""
    for attempt in range(5):
        r = _show_once(kind)
        if not r.returncode:
            return {e["id"]: e for e in json.loads(r.stdout.decode() or
                                                   "[]")}
        time.sleep(0.05)
    raise Failure("bpftool %s show failed 5 times: %s" % (
        kind, (r.stdout + r.stderr).decode(errors="replace").strip()[:300]))


def snapshot():
    """{"prog": {id: info}, "link": {id: info}} loaded right now."""
    return {kind: _show(kind) for kind in KINDS}


def _fdinfo_ids(pid):
    """{"prog": ids, "link": ids} that process pid holds by file descriptor
    (a link fd holds its program too)."""
    held = {kind: set() for kind in KINDS}
    base = "/proc/%s/fdinfo" % pid
    try:
        fds = os.listdir(base)
    except OSError:
        return held
    for fd in fds:
        try:
            with open(os.path.join(base, fd)) as f:
                text = f.read()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, val = line.partition(":")
            if key in ("prog_id", "link_id"):
                held[key[:4]].add(int(val))
    return held


def owned_by(pid):
    return _fdinfo_ids(pid)


def _held_by_anyone():
    held = {kind: set() for kind in KINDS}
    for d in os.listdir("/proc"):
        if d.isdigit():
            for kind, ids in _fdinfo_ids(d).items():
                held[kind] |= ids
    return held


def _describe(kind, info):
    if kind == "prog":
        return "prog %d %s (%s)" % (info["id"], info.get("name", "?"),
                                    info.get("type", "?"))
    return "link %d (%s, prog %s)" % (info["id"], info.get("type", "?"),
                                      info.get("prog_id", "?"))


def leaks(before, owned=None, grace=3.0):
    """BPF objects of ours that appeared since snapshot `before` and are
    still loaded: [description]. owned: ids the tool itself held."""
    owned = owned or {kind: set() for kind in KINDS}
    deadline = time.monotonic() + grace
    while True:
        now = snapshot()
        new = {kind: set(now[kind]) - set(before[kind]) for kind in KINDS}
        if not any(new.values()):
            return []
        held = _held_by_anyone()
        ours = [(kind, i) for kind in KINDS for i in sorted(new[kind])
                if i in owned[kind] or i not in held[kind]]
        if not ours:
            return []
        if time.monotonic() > deadline:
            return [_describe(kind, now[kind][i]) for kind, i in ours]
        time.sleep(0.1)
