"""USDT markers as ground truth: binutils' reading of the notes
(readelf -n), the test program's own declarations (selftests/c), and a
second, independent decoding of argument specs and of libbpf 1.1's x86
grammar, to hold usdtlist's output against. Nothing here calls the C
library under test."""
import collections
import json
import os
import re
import subprocess

from lib.harness import check, fail
from lib.tool import ROOT, TEST_PROGS

MARKERS = os.path.join(TEST_PROGS, "markers")
# The same program as a fixed-address executable (ET_EXEC, -no-pie)
MARKERS_NOPIE = MARKERS + "-nopie"

Site = collections.namedtuple("Site", "provider name args pc semaphore")

# libbpf 1.1 calc_pt_regs_off() on x86-64
X86_REGS = set("""rip eip rax eax ax al rbx ebx bx bl rcx ecx cx cl rdx edx dx
dl rsi esi si sil rdi edi di dil rbp ebp bp bpl rsp esp sp spl""".split())
X86_REGS |= {"r%d%s" % (n, s) for n in range(8, 16) for s in ("", "d", "w",
                                                              "b")}
# libbpf 1.1 parse_usdt_arg(), x86: its four sscanf formats; %d and %ld
# are decimal, the register is up to 15 characters
LIBBPF_ARG = re.compile(r"([+-]?\d+)@(?:([+-]?\d+)?\(%([^)]{1,15})\)|"
                        r"%(\S{1,15})|\$([+-]?\d+))")


def need_markers(path=MARKERS):
    if not os.access(path, os.X_OK):
        fail("%s not built (run: make check)" % os.path.relpath(path, ROOT))
    return path


def builds():
    """(what, path) of both builds of the markers program."""
    return (("PIE", need_markers()), ("non-PIE",
                                      need_markers(MARKERS_NOPIE)))


def link_base(path):
    """The address the file's start is linked at (its PT_LOAD of offset
    0): 0 for a position-independent file, 0x400000 or so for ET_EXEC."""
    for line in _run(["readelf", "-lW", path]).splitlines():
        w = line.split()
        if len(w) > 2 and w[0] == "LOAD" and int(w[1], 16) == 0:
            return int(w[2], 16)
    fail("%s: no PT_LOAD at offset 0" % path)


def _run(argv):
    r = subprocess.run(argv, capture_output=True, timeout=60)
    if r.returncode:
        fail("%s failed: %s" % (" ".join(argv), r.stderr.decode(
            errors="replace").strip()[:200]))
    return r.stdout.decode(errors="replace")


def base_section(path):
    """Address of .stapsdt.base, or None."""
    for line in _run(["readelf", "-SW", path]).splitlines():
        m = re.search(r"\]\s+\.stapsdt\.base\s+\S+\s+([0-9a-f]+)\s", line)
        if m:
            return int(m.group(1), 16)
    return None


def readelf_sites(path):
    """[Site] in note order, as readelf -n prints them, the addresses
    moved by .stapsdt.base like sys/sdt.h says."""
    base_addr = base_section(path)
    sites, cur = [], {}
    for line in _run(["readelf", "-n", "--wide", path]).splitlines():
        m = re.search(r"Provider: (\S+)", line)
        if m:
            cur = {"provider": m.group(1)}
            continue
        m = re.match(r"\s+Name: (\S+)", line)
        if m:
            cur["name"] = m.group(1)
            continue
        m = re.match(r"\s+Location: (0x[0-9a-f]+), Base: (0x[0-9a-f]+), "
                     r"Semaphore: (0x[0-9a-f]+)", line)
        if m:
            pc, base, sema = (int(x, 16) for x in m.groups())
            delta = base_addr - base if base_addr is not None else 0
            cur["pc"] = pc + delta
            cur["semaphore"] = sema + delta if sema else 0
            continue
        m = re.match(r"\s+Arguments:(.*)$", line)
        if m and "pc" in cur:
            sites.append(Site(cur["provider"], cur["name"],
                              m.group(1).strip(), cur["pc"],
                              cur["semaphore"]))
            cur = {}
    return sites


def by_marker(sites):
    """{(provider, name): [Site in note order]}"""
    out = collections.OrderedDict()
    for s in sites:
        out.setdefault((s.provider, s.name), []).append(s)
    return out


def declared():
    """The test program's own rows: {(provider, name): [row]}, each row
    {"semaphore": bool, "args": [type]}, one per site."""
    out = collections.OrderedDict()
    for line in _run([need_markers(), "declare"]).splitlines():
        row = json.loads(line)
        out.setdefault((row["provider"], row["name"]), []).append(row)
    return out


def symbol(path, name):
    """Address of a symbol by nm, or None."""
    for line in _run(["nm", path]).splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16)
    return None


# ---- argument specs, decoded again ----

def _type(size, signed, flt):
    if flt:
        return {4: "float32", 8: "float64"}.get(size, "?")
    if size not in (1, 2, 4, 8):
        return "?"
    return ("int%d" if signed else "uint%d") % (8 * size)


def _int64(s):
    v = int(s)
    return v if -2 ** 63 <= v < 2 ** 63 else None


def decode(spec):
    """What an argument's JSON must say, from the spec alone."""
    m = re.fullmatch(r"([+-]?)(\d+)(f?)@(.*)", spec)
    if m:
        sign, size, flt, loc = m.groups()
        size = min(int(size), 65535)
        signed, flt = sign == "-", flt == "f"
    else:
        size, signed, flt, loc = 0, False, False, spec
    want = {"spec": spec, "type": _type(size, signed, flt), "size": size,
            "signed": signed, "float": flt, "location": loc,
            "kind": "other", "register": None, "offset": None,
            "value": None}
    reg = re.fullmatch(r"%([a-z0-9]{1,7})", loc)
    const = re.fullmatch(r"\$([+-]?\d+)", loc)
    mem = re.fullmatch(r"([+-]?\d+)?\(%([a-z0-9]{1,7})\)", loc)
    if reg:
        want.update(kind="reg", register=reg.group(1))
    elif const and _int64(const.group(1)) is not None:
        v = int(const.group(1))
        if not flt and size in (1, 2, 4, 8):
            bits = 8 * size
            v &= (1 << bits) - 1
            if signed and v >= 1 << (bits - 1):
                v -= 1 << bits
        want.update(kind="const", value=v)
    elif mem and (mem.group(1) is None or
                  _int64(mem.group(1)) is not None):
        want.update(kind="mem", register=mem.group(2),
                    offset=int(mem.group(1) or 0))
    return want


def libbpf_can_read(args):
    """libbpf 1.1 on x86-64: every spec matches one of its formats, with
    size 1, 2, 4 or 8 and a register it knows; at most 12."""
    specs = args.split()
    if len(specs) > 12:
        return False
    for s in specs:
        m = LIBBPF_ARG.fullmatch(s)
        if not m or abs(int(m.group(1))) not in (1, 2, 4, 8):
            return False
        reg = m.group(3) or m.group(4)
        if reg is not None and reg not in X86_REGS:
            return False
    return True


MARKER_KEYS = {"type", "tool", "object", "pid", "provider", "name", "sites",
               "addresses", "semaphore", "arg_variants", "args",
               "attachable", "problem"}


def check_marker(m, sites, judge=True):
    """One usdtlist JSON line against that marker's sites as readelf (or
    a generator) gave them, in note order."""
    what = "%s:%s" % (sites[0].provider, sites[0].name)
    check(set(m) == MARKER_KEYS, "%s: keys %s, expected %s" % (
        what, sorted(m), sorted(MARKER_KEYS)))
    check(m["type"] == "marker" and m["tool"] == "usdtlist",
          "%s: type/tool %r/%r" % (what, m["type"], m["tool"]))
    check(m["sites"] == len(sites), "%s: %d sites, readelf has %d" % (
        what, m["sites"], len(sites)))
    check(m["addresses"] == [s.pc for s in sites],
          "%s: addresses %s, readelf %s" % (
              what, [hex(a) for a in m["addresses"]],
              [hex(s.pc) for s in sites]))
    sema = sites[0].semaphore or None
    check(m["semaphore"] == sema, "%s: semaphore %r, readelf %r" % (
        what, m["semaphore"], sema))
    variants = len({s.args for s in sites})
    check(m["arg_variants"] == variants, "%s: %d argument variants, "
          "readelf %d" % (what, m["arg_variants"], variants))
    want = [decode(a) for a in sites[0].args.split()]
    check(len(m["args"]) == len(want), "%s: %d args, first site has %d" % (
        what, len(m["args"]), len(want)))
    for i, (got, exp) in enumerate(zip(m["args"], want)):
        check(got == exp, "%s arg%d: %r, expected %r" % (what, i, got, exp))
    if not judge:
        check(m["attachable"] is None, "%s: judged a non-x86-64 file" %
              what)
        return m
    can = all(libbpf_can_read(s.args) for s in sites)
    check(m["attachable"] is can, "%s: attachable %r, libbpf's grammar "
          "says %r (%s)" % (what, m["attachable"], can, sites[0].args))
    if can:
        check(m["problem"] is None, "%s: a problem although attachable"
              % what)
    else:
        p = m["problem"]
        check(isinstance(p, dict) and {"address", "arg", "spec",
                                       "reason"} == set(p),
              "%s: problem %r" % (what, p))
        bad = [s for s in sites if not libbpf_can_read(s.args)][0]
        check(p["address"] == bad.pc and
              p["spec"] == bad.args.split()[p["arg"]] and
              not libbpf_can_read(p["spec"] if p["arg"] < 12 else
                                  bad.args),
              "%s: problem %r does not name the first bad site (%#x: %s)" % (
                  what, p, bad.pc, bad.args))
    return m


def check_object(markers, sites, judge=True):
    """All usdtlist JSON lines of one object against its sites: the same
    markers, each checked. Returns (markers, sites) counted."""
    want = by_marker(sites)
    got = {(m["provider"], m["name"]): m for m in markers}
    check(len(got) == len(markers), "a marker listed twice")
    missing = sorted("%s:%s" % k for k in set(want) - set(got))
    extra = sorted("%s:%s" % k for k in set(got) - set(want))
    check(not missing and not extra, "markers missing %s, extra %s" % (
        missing[:5], extra[:5]))
    for key, s in want.items():
        check_marker(got[key], s, judge)
    total = sum(m["sites"] for m in markers)
    check(total == len(sites), "%d sites in all, readelf %d" % (
        total, len(sites)))
    return len(markers), total
