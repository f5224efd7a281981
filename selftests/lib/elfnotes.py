"""Small ELF files with USDT notes, built byte by byte: the seed corpus of
the note reader's fuzzer and the ground truth of its regression test.

Each case is (name, image bytes, expect): expect is the list of Site the
file declares (addresses as a reader must report them, after the
.stapsdt.base adjustment), or CORRUPT when a reader must refuse the file,
or NOT_ELF. The layout is the one sys/sdt.h and the linker produce: one
note per site in section .note.stapsdt (owner "stapsdt", type 3, desc =
pc, base, semaphore as target-sized words, then "provider\\0name\\0args\\0"),
and a one-byte section .stapsdt.base.

    python3 selftests/lib/elfnotes.py selftests/fuzz/corpus

rewrites the corpus: these cases, plus the notes of real binaries cut out
with objcopy (build/test-progs/markers, PostgreSQL, Python) when present.
"""
import collections
import os
import shutil
import struct
import subprocess
import sys

Site = collections.namedtuple("Site", "provider name args pc semaphore")
CORRUPT = "corrupt"
NOT_ELF = "not ELF"

SHT_PROGBITS, SHT_STRTAB, SHT_NOTE, SHT_NOBITS = 1, 3, 7, 8
EM_386, EM_X86_64, EM_PPC64 = 3, 62, 21
NOTE_TYPE = 3


def _align(n, a=4):
    return (n + a - 1) // a * a


def note(desc, owner=b"stapsdt\0", ntype=NOTE_TYPE, namesz=None,
         descsz=None, e="<"):
    """One note; namesz/descsz override the true sizes (to lie)."""
    head = struct.pack(e + "III", len(owner) if namesz is None else namesz,
                       len(desc) if descsz is None else descsz, ntype)
    name = owner + b"\0" * (_align(len(owner)) - len(owner))
    return head + name + desc + b"\0" * (_align(len(desc)) - len(desc))


def site_desc(site, base, bits=64, e="<"):
    w = "Q" if bits == 64 else "I"
    return (struct.pack(e + w * 3, site.pc, base, site.semaphore) +
            b"\0".join(s.encode() for s in (site.provider, site.name,
                                            site.args)) + b"\0")


def image(notes, bits=64, e="<", machine=EM_X86_64, base_addr=0x2000,
          note_type=SHT_NOTE, with_base=True, shstrndx=None,
          notes_last=False):
    """An ET_DYN file with sections .note.stapsdt (the notes bytes),
    .stapsdt.base at base_addr and .shstrtab; no program headers (a
    reader of notes needs none). notes_last: the notes end the file, so
    that a read past them leaves the buffer (ASan sees it)."""
    names = b"\0.note.stapsdt\0.stapsdt.base\0.shstrtab\0"
    ehsize, shentsize = (64, 64) if bits == 64 else (52, 40)
    nsec = 4 if with_base else 3
    if notes_last:
        base_off = ehsize
        str_off = base_off + 1
        sh_off = _align(str_off + len(names), 8)
        note_off = _align(sh_off + nsec * shentsize, 8)
    else:
        note_off = ehsize
        base_off = _align(note_off + len(notes), 8)
        str_off = base_off + 1
        sh_off = _align(str_off + len(names), 8)
    secs = [(0, 0, 0, 0, 0, 0, 0)]     # name, type, flags, addr, off, size
    secs.append((1, note_type, 2, 0x300, note_off, len(notes), 4))
    if with_base:
        secs.append((15, SHT_PROGBITS, 3, base_addr, base_off, 1, 1))
    secs.append((29, SHT_STRTAB, 0, 0, str_off, len(names), 1))
    shnum = len(secs)
    ident = b"\x7fELF" + bytes([2 if bits == 64 else 1,
                                1 if e == "<" else 2, 1, 0]) + b"\0" * 8
    if bits == 64:
        eh = ident + struct.pack(e + "HHIQQQIHHHHHH", 3, machine, 1, 0, 0,
                                 sh_off, 0, ehsize, 0, 0, shentsize, shnum,
                                 shnum - 1 if shstrndx is None else shstrndx)
    else:
        eh = ident + struct.pack(e + "HHIIIIIHHHHHH", 3, machine, 1, 0, 0,
                                 sh_off, 0, ehsize, 0, 0, shentsize, shnum,
                                 shnum - 1 if shstrndx is None else shstrndx)
    shdrs = b""
    for name, typ, flags, addr, off, size, align in secs:
        if bits == 64:
            shdrs += struct.pack(e + "IIQQQQIIQQ", name, typ, flags, addr,
                                 off, size, 0, 0, align, 0)
        else:
            shdrs += struct.pack(e + "IIIIIIIIII", name, typ, flags, addr,
                                 off, size, 0, 0, align, 0)
    body = bytearray(eh)
    for off, data in sorted([(note_off, notes), (base_off, b"\0"),
                             (str_off, names), (sh_off, shdrs)]):
        body += b"\0" * (off - len(body)) + data
    return bytes(body)


SITES = [
    Site("demo", "start", "-4@%edi 8@%rsi", 0x1130, 0),
    Site("demo", "start", "-4@%ebx 8@-8(%rbp)", 0x1190, 0),
    Site("demo", "done", "-8@$5 1@(%rax) 2@%r14w", 0x11a0, 0x4010),
    Site("other", "plain", "", 0x11b0, 0),
]


def sites_image(sites, bits=64, e="<", base_addr=0x2000, note_base=None,
                **kw):
    """An image with these sites. note_base: the base address the notes
    record (a prelinked file moved .stapsdt.base away from it); the
    expected addresses move by base_addr - note_base."""
    nb = base_addr if note_base is None else note_base
    raw = b"".join(note(site_desc(s, nb, bits, e), e=e) for s in sites)
    delta = base_addr - nb
    mask = (1 << bits) - 1
    want = [s._replace(pc=(s.pc + delta) & mask,
                       semaphore=(s.semaphore + delta) & mask
                       if s.semaphore else 0) for s in sites]
    return image(raw, bits=bits, e=e, base_addr=base_addr, **kw), want


def cases():
    """[(name, bytes, expect)]"""
    out = []

    def add(name, pair_or_bytes, expect=None):
        if isinstance(pair_or_bytes, tuple):
            out.append((name, pair_or_bytes[0], pair_or_bytes[1]))
        else:
            out.append((name, pair_or_bytes, expect))

    add("le64", sites_image(SITES))
    add("le32", sites_image(SITES, bits=32, machine=EM_386))
    add("be64", sites_image(SITES, e=">", machine=EM_PPC64))
    add("be32", sites_image(SITES, bits=32, e=">", machine=20))
    add("prelinked", sites_image(SITES, base_addr=0x7000, note_base=0x2000))
    add("no-base-section", sites_image(SITES, with_base=False)[0],
        SITES)
    add("no-notes", image(b""), [])
    add("many-args", sites_image([Site(
        "p", "n", " ".join("-4@$%d" % i for i in range(13)), 0x10, 0)]))
    add("odd-specs", sites_image([Site(
        "p", "weird", "4f@%xmm0 3@%rax %rdi 8@ 8@$ -4@NBuffers(%rip) "
        "8@(%rax,%rbx,8) 8@99999999999999999999(%rax) 8@$-9223372036854775808 "
        "-1@$255 65536@%al 8@(%r16) -4@40+sym(%rip)", 0x20, 0)]))
    add("long-names", sites_image([Site(
        "p" * 300, "n" * 300, "8@%rax " * 40, 0x30, 0)]))
    add("not-ours", image(note(b"x" * 40, owner=b"GNU\0", ntype=NOTE_TYPE) +
                          note(b"y" * 40, owner=b"stapsdt\0", ntype=1) +
                          note(b"z" * 40, owner=b"stapsdX\0")), [])
    add("notes-not-SHT_NOTE", sites_image(SITES, note_type=SHT_NOBITS)[0],
        [])
    good = note(site_desc(SITES[0], 0x2000))
    d = site_desc(SITES[0], 0x2000)
    add("desc-overruns", image(good + note(d, descsz=len(d) + 64)), CORRUPT)
    add("desc-too-short", image(good + note(d[:26])), CORRUPT)
    add("no-nul", image(note(d[:24] + b"prov\0name\0args")), CORRUPT)
    add("no-nul-at-all", image(note(d[:24] + b"x" * 12)), CORRUPT)
    # 40 bytes: no padding after it, the file ends where the desc does
    add("no-nul-at-end", image(note(d[:24] + b"prov\0name\0args.."),
                               notes_last=True), CORRUPT)
    add("le64-notes-last", sites_image(SITES, notes_last=True))
    add("huge-namesz", image(good + note(d, namesz=0xffffffff)), CORRUPT)
    add("huge-descsz", image(good + note(d, descsz=0xfffffffc)), CORRUPT)
    add("trailing-junk", image(good + b"\1\2\3\4"), CORRUPT)
    add("zero-padding", image(good + b"\0" * 8), SITES[:1])
    whole = sites_image(SITES)[0]
    add("truncated-headers", whole[:len(whole) - 30], CORRUPT)
    add("truncated-notes", whole[:100], CORRUPT)
    add("bad-shstrndx", image(good, shstrndx=77), CORRUPT)
    add("only-magic", b"\x7fELF", CORRUPT)
    add("header-only", whole[:64], CORRUPT)
    add("not-elf", b"#!/bin/sh\necho hello\n", NOT_ELF)
    return out


def real_seeds(root):
    """(name, path of a binary): real notes to cut out with objcopy."""
    return [
        ("markers", os.path.join(root, "build", "test-progs", "markers")),
        ("postgres", "/usr/lib/postgresql/15/bin/postgres"),
        ("python3.11", "/usr/bin/python3.11"),
    ]


def write_corpus(outdir, root):
    os.makedirs(outdir, exist_ok=True)
    for name, data, _ in cases():
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
    objcopy = shutil.which("objcopy")
    for name, path in real_seeds(root):
        if not objcopy or not os.path.exists(path):
            print("skipped %s: %s" % (name, "no objcopy" if not objcopy
                                      else path + " missing"))
            continue
        subprocess.run([objcopy, "--only-section=.note.stapsdt",
                        "--only-section=.stapsdt.base", path,
                        os.path.join(outdir, "real-" + name)], check=True,
                       stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: elfnotes.py CORPUS_DIR")
    here = os.path.dirname(os.path.abspath(__file__))
    write_corpus(sys.argv[1], os.path.dirname(os.path.dirname(here)))
