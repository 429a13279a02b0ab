"""The CUDA build holds machine code for every architecture it was built for, and PTX for later
GPUs: reads the fat binaries in the executable's .nv_fatbin section (the toolkit here has no
cuobjdump) and compares their entries with CMAKE_CUDA_ARCHITECTURES.

usage: gpu_arches.py GSVAE_BINARY "80-real;90-real;100-real;100-virtual"
Layout of a fat binary (NVIDIA's fatbinary.h, and cuobjdump's output on known binaries): a
16-byte header (magic 0xBA55ED50, version 1, header size 16, size of the entries that follow),
then entries each starting with u16 kind (1 PTX, 2 ELF), u16, u32 entry header size, u64 payload
size, ..., u32 architecture at byte 28 (e.g. 90); the next entry follows the payload."""
import os
import struct
import subprocess
import sys
import tempfile

MAGIC = 0xBA55ED50
KIND = {1: "ptx", 2: "elf"}


def fatbin_entries(section):
    entries, offset = set(), 0
    while offset + 16 <= len(section):
        magic, version, header_size, size = struct.unpack_from("<IHHQ", section, offset)
        if magic != MAGIC:  # containers are 8-byte aligned; padding between them
            offset += 8
            continue
        entry, end = offset + header_size, offset + header_size + size
        while entry + 32 <= end:
            kind, _, entry_header, payload = struct.unpack_from("<HHIQ", section, entry)
            arch, = struct.unpack_from("<I", section, entry + 28)
            if kind not in KIND or entry_header < 32:
                sys.exit(f"gpu_arches: entry at {entry:#x} has kind {kind}, header {entry_header}: not a fat binary entry")
            entries.add((KIND[kind], arch))
            entry += entry_header + payload
        offset = end
    return entries


def main():
    binary, arches = sys.argv[1], sys.argv[2].replace(" ", ";").split(";")
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "fatbin")
        subprocess.run(["objcopy", "-O", "binary", "--only-section=.nv_fatbin", binary, out], check=True)
        section = open(out, "rb").read()
    if not section:
        sys.exit(f"gpu_arches: {binary} has no .nv_fatbin section: no GPU code was linked in")
    found = fatbin_entries(section)
    expected = set()
    for arch in arches:
        number, _, kind = arch.partition("-")
        if kind in ("", "real"):
            expected.add(("elf", int(number)))
        if kind in ("", "virtual"):
            expected.add(("ptx", int(number)))
    print("fat binary entries:", " ".join(f"{k}:sm_{a}" for k, a in sorted(found)))
    missing = expected - found
    if missing:
        sys.exit("gpu_arches: built for %s but missing %s" % (arches, sorted(missing)))
    # The default build must cover the GPUs clusters hold: Ampere, Hopper, Blackwell, and PTX for later ones.
    if "GSVAE_DEFAULT_ARCHITECTURES" in os.environ:
        for needed in [("elf", 80), ("elf", 90), ("elf", 100)]:
            if needed not in found:
                sys.exit(f"gpu_arches: the default build lacks {needed[0]} for sm_{needed[1]}")
        if not any(kind == "ptx" and arch >= 100 for kind, arch in found):
            sys.exit("gpu_arches: the default build has no PTX for GPUs after sm_100")
    print(f"gpu_arches: {binary} holds every image of {';'.join(arches)}")


main()
