#!/usr/bin/python3
"""Write the BTF of a Debian kernel package of another architecture to
OUT, for `make vmlinux ARCH=...`:

    btf_from_image.py KERNEL OUT      (KERNEL as selftests/kernels names
                                       it, e.g. 6.1-arm64)

The kernel is fetched (and cached) by selftests/kernels/kernels.py. Its
BTF is the .BTF section of vmlinux, which the package does not ship;
but the boot image (arm64: an uncompressed Image, or gzip) carries the
section's bytes as they are. They are found by the BTF header's magic,
and the blob is the header plus its type and string sections; the
result must be the only such blob and must end inside the image.
"""
import gzip
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "selftests",
                                "kernels"))
import kernels  # noqa: E402

# struct btf_header: magic 0xeB9F, version 1, flags 0, hdr_len 24
MAGIC = struct.pack("<HBBI", 0xEB9F, 1, 0, 24)


def image_bytes(path):
    with open(path, "rb") as f:
        data = f.read()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def find_btf(data):
    found, i = [], data.find(MAGIC)
    while i >= 0:
        _, _, _, hlen, toff, tlen, soff, slen = struct.unpack_from(
            "<HBBIIIII", data, i)
        size = hlen + max(toff + tlen, soff + slen)
        if tlen and slen and i + size <= len(data):
            found.append(data[i:i + size])
        i = data.find(MAGIC, i + 1)
    if len(found) != 1:
        sys.exit("btf_from_image: %d BTF blobs in the image, expected 1"
                 % len(found))
    return found[0]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    k = kernels.get(sys.argv[1], log=lambda m: print(m, file=sys.stderr))
    btf = find_btf(image_bytes(k.vmlinuz))
    with open(sys.argv[2], "wb") as f:
        f.write(btf)
    print(k.version)


if __name__ == "__main__":
    main()
