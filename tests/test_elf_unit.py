"""elf.py in-process: what a shared object links, read from its dynamic section (compared with
readelf and ldd on this machine's real libraries), $ORIGIN and RUNPATH resolution on ELF files
built here byte by byte (both classes, both byte orders), and one-line refusals of garbage."""

import os
import re
import shutil
import struct
import subprocess
import threading

import pytest

from pyenvmod.packages import elf

MPICH_CXX = "/usr/lib/x86_64-linux-gnu/libmpichcxx.so.12"


def build(path, needed=(), runpath=None, rpath=None, wide=True, little=True, machine=62, vaddr=0x1000):
    """A minimal ELF shared object: one PT_LOAD covering the file, one PT_DYNAMIC, a string table."""
    end = "<" if little else ">"
    names = b"\0"
    offsets = {}
    for name in [*needed, runpath, rpath]:
        if name is not None and name not in offsets:
            offsets[name] = len(names)
            names += name.encode() + b"\0"
    ehdr = end + ("HHIQQQIHHHHHH" if wide else "HHIIIIIHHHHHH")
    phdr = end + ("IIQQQQQQ" if wide else "IIIIIIII")
    dyn = end + ("qQ" if wide else "iI")
    eh_size, ph_size = 16 + struct.calcsize(ehdr), struct.calcsize(phdr)
    entries = [(elf.DT_NEEDED, offsets[n]) for n in needed]
    if runpath is not None:
        entries.append((elf.DT_RUNPATH, offsets[runpath]))
    if rpath is not None:
        entries.append((elf.DT_RPATH, offsets[rpath]))
    dyn_off = eh_size + 2 * ph_size
    str_off = dyn_off + (len(entries) + 3) * struct.calcsize(dyn)
    # the segment is mapped at vaddr: the string table's address is not its file offset
    entries += [(elf.DT_STRTAB, vaddr + str_off), (elf.DT_STRSZ, len(names)), (elf.DT_NULL, 0)]
    dyn_bytes = b"".join(struct.pack(dyn, t, v) for t, v in entries)
    total = str_off + len(names)
    ident = b"\x7fELF" + bytes([2 if wide else 1, 1 if little else 2, 1]) + bytes(9)
    header = struct.pack(ehdr, 3, machine, 1, 0, eh_size, 0, 0, eh_size, ph_size, 2, 0, 0, 0)
    if wide:
        load = struct.pack(phdr, elf.PT_LOAD, 5, 0, vaddr, vaddr, total, total, 0x1000)
        dynamic = struct.pack(phdr, elf.PT_DYNAMIC, 6, dyn_off, vaddr + dyn_off, 0, len(dyn_bytes), 0, 8)
    else:
        load = struct.pack(phdr, elf.PT_LOAD, 0, vaddr, vaddr, total, total, 5, 0x1000)
        dynamic = struct.pack(phdr, elf.PT_DYNAMIC, dyn_off, vaddr + dyn_off, 0, len(dyn_bytes), 0, 6, 4)
    data = ident + header + load + dynamic + dyn_bytes + names
    assert len(data) == total
    path.write_bytes(data)
    return path


def test_the_needed_libraries_of_real_objects_are_those_readelf_and_ldd_name():
    for path in (MPICH_CXX, "/usr/bin/ls", shutil.which("zstd")):
        readelf = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True).stdout
        assert elf.dynamic(path).needed == re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", readelf)
        ldd = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
        by_ldd = {m.group(1): os.path.realpath(m.group(2)) for m in re.finditer(r"^\s*(\S+) => (/\S+)", ldd, re.M)}
        for soname, found in elf.resolve(path, {}):
            assert os.path.realpath(found) == by_ldd[soname], (path, soname)


@pytest.mark.parametrize("wide", [True, False], ids=["elf64", "elf32"])
@pytest.mark.parametrize("little", [True, False], ids=["le", "be"])
def test_runpath_with_origin_and_library_path_are_searched_in_the_loaders_order(tmp_path, wide, little):
    (tmp_path / "lib").mkdir()
    (tmp_path / "env").mkdir()
    ext = build(tmp_path / "ext.so", needed=["libmpi.so.12", "libother.so.1"], runpath="$ORIGIN/lib",
                wide=wide, little=little)
    info = elf.dynamic(ext)
    assert (info.needed, info.runpath, info.rpath) == (["libmpi.so.12", "libother.so.1"], ["$ORIGIN/lib"], [])
    build(tmp_path / "lib" / "libmpi.so.12", wide=wide, little=little)
    build(tmp_path / "env" / "libmpi.so.12", wide=wide, little=little)
    assert elf.resolve(ext, {}) == [("libmpi.so.12", f"{tmp_path}/lib/libmpi.so.12"), ("libother.so.1", "not found")]
    # LD_LIBRARY_PATH comes before DT_RUNPATH
    assert elf.resolve(ext, {"LD_LIBRARY_PATH": f"{tmp_path}/env"})[0] == ("libmpi.so.12",
                                                                           f"{tmp_path}/env/libmpi.so.12")
    # a library of another class or machine is passed over, as ld.so does
    build(tmp_path / "env" / "libmpi.so.12", wide=not wide, little=little)
    assert elf.resolve(ext, {"LD_LIBRARY_PATH": f"{tmp_path}/env"})[0][1] == f"{tmp_path}/lib/libmpi.so.12"


def test_rpath_comes_before_library_path_when_there_is_no_runpath(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        build(tmp_path / folder / "libmpi.so.40")
    ext = build(tmp_path / "ext.so", needed=["libmpi.so.40"], rpath=f"{tmp_path}/a")
    assert elf.resolve(ext, {"LD_LIBRARY_PATH": f"{tmp_path}/b"}) == [("libmpi.so.40", f"{tmp_path}/a/libmpi.so.40")]


def _refused(path, fragment):
    with pytest.raises(elf.ElfError) as caught:
        elf.dynamic(path)
    message = str(caught.value)
    assert "\n" not in message and fragment in message and str(path) in message
    return message


def test_garbage_is_refused_with_one_line(tmp_path):
    (tmp_path / "text").write_text("#!/bin/sh\necho hi\n")
    _refused(tmp_path / "text", "no ELF header")
    real = open(MPICH_CXX, "rb").read()
    (tmp_path / "cut").write_bytes(real[:200])
    _refused(tmp_path / "cut", "outside the file")
    (tmp_path / "class").write_bytes(real[:4] + b"\x07" + real[5:4096])
    _refused(tmp_path / "class", "unknown ELF class")
    many = bytearray(build(tmp_path / "ok.so", needed=["libx.so"]).read_bytes())
    struct.pack_into("<H", many, 0x38, 60000)  # e_phnum
    (tmp_path / "many").write_bytes(bytes(many))
    _refused(tmp_path / "many", "implausible program headers")
    _refused(tmp_path / "missing", "cannot read")


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "MPI.so"
    os.mkfifo(fifo)
    done = []
    worker = threading.Thread(target=lambda: done.append(_refused(fifo, "not a regular file")), daemon=True)
    worker.start()
    worker.join(10)
    assert done, "elf.dynamic blocked on a FIFO"
