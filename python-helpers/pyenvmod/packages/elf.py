"""What a shared object links, read from its ELF dynamic section instead of running ``ldd`` or the
environment's interpreter (a read-only command must never start code from a tree: ``ldd`` may run
the object's loader, and an interpreter runs the environment's ``.pth`` files).

``dynamic(path)`` reads DT_NEEDED, DT_RPATH, DT_RUNPATH and DT_SONAME (ELF32/ELF64, little and big
endian) with bounded reads of a regular file opened without blocking; anything else is refused with
one line. ``resolve(path, environ)`` finds each needed library the way the dynamic loader would:
DT_RPATH (when there is no DT_RUNPATH), LD_LIBRARY_PATH, DT_RUNPATH (``$ORIGIN`` expanded), the
folders of /etc/ld.so.conf, then the default folders.
"""

import glob
import os
import stat
import struct
from collections import namedtuple

from pyenvmod.errors import PyenvmodError

MAX_BYTES = 1 << 30  # an extension module is megabytes; a larger "library" is refused
MAX_HEADERS = 4096  # program headers (real objects have about ten)
MAX_DYNAMIC = 1 << 16  # dynamic entries (real objects have tens)
MAX_STRING = 4096  # one library name or search path
DEFAULT_DIRS = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
                "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib")

PT_LOAD, PT_DYNAMIC = 1, 2
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME, DT_RPATH, DT_RUNPATH = 0, 1, 5, 10, 14, 15, 29


class ElfError(PyenvmodError):
    pass


Dynamic = namedtuple("Dynamic", "needed rpath runpath soname elf_class machine")


def _refuse(path, why: str):
    raise ElfError(f"{path}: {why}; it is not a shared library pyenvmod can read (reinstall the package "
                   "that owns it)")


def _open(path) -> int:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ElfError(f"cannot read {path}: {exc.strerror}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        _refuse(path, "not a regular file")
    if st.st_size > MAX_BYTES:
        os.close(fd)
        _refuse(path, f"larger than {MAX_BYTES} bytes")
    return fd


def _read(fd, path, offset: int, size: int, size_of_file: int) -> bytes:
    if offset < 0 or size < 0 or offset + size > size_of_file:
        _refuse(path, "a header points outside the file")
    data = os.pread(fd, size, offset)
    if len(data) != size:
        _refuse(path, "truncated")
    return data


def dynamic(path) -> Dynamic:
    """The dynamic section of the ELF file ``path``; ElfError (one line) when it is not one."""
    fd = _open(path)
    try:
        return _dynamic(fd, path, os.fstat(fd).st_size)
    finally:
        os.close(fd)


def _dynamic(fd, path, size: int) -> Dynamic:
    ident = os.pread(fd, 16, 0)
    if len(ident) < 16 or ident[:4] != b"\x7fELF":
        _refuse(path, "no ELF header")
    elf_class, data = ident[4], ident[5]
    if elf_class not in (1, 2) or data not in (1, 2):
        _refuse(path, "an unknown ELF class or byte order")
    end = "<" if data == 1 else ">"
    wide = elf_class == 2
    # e_type e_machine e_version e_entry e_phoff e_shoff e_flags e_ehsize e_phentsize e_phnum
    header = end + ("HHIQQQIHHH" if wide else "HHIIIIIHHH")
    fields = struct.unpack(header, _read(fd, path, 16, struct.calcsize(header), size))
    machine, phoff, phentsize, phnum = fields[1], fields[4], fields[8], fields[9]
    phdr = end + ("IIQQQQQQ" if wide else "IIIIIIII")
    if phnum > MAX_HEADERS or phentsize < struct.calcsize(phdr):
        _refuse(path, "implausible program headers")
    loads, dyn = [], None
    for i in range(phnum):
        entry = struct.unpack(phdr, _read(fd, path, phoff + i * phentsize, struct.calcsize(phdr), size))
        if wide:  # p_type p_flags p_offset p_vaddr p_paddr p_filesz p_memsz p_align
            p_type, p_offset, p_vaddr, p_filesz = entry[0], entry[2], entry[3], entry[5]
        else:  # p_type p_offset p_vaddr p_paddr p_filesz p_memsz p_flags p_align
            p_type, p_offset, p_vaddr, p_filesz = entry[0], entry[1], entry[2], entry[4]
        if p_type == PT_LOAD:
            loads.append((p_vaddr, p_filesz, p_offset))
        elif p_type == PT_DYNAMIC:
            dyn = (p_offset, p_filesz)
    if dyn is None:
        _refuse(path, "no dynamic section (a static executable or an object file)")
    entry_fmt = end + ("qQ" if wide else "iI")
    width = struct.calcsize(entry_fmt)
    count = min(dyn[1] // width, MAX_DYNAMIC)
    raw = _read(fd, path, dyn[0], count * width, size)
    tags = []
    for i in range(count):
        tag, value = struct.unpack_from(entry_fmt, raw, i * width)
        if tag == DT_NULL:
            break
        tags.append((tag, value))
    strtab = next((v for t, v in tags if t == DT_STRTAB), None)
    strsz = next((v for t, v in tags if t == DT_STRSZ), 0)
    if strtab is None:
        _refuse(path, "a dynamic section without a string table")
    offset = next((strtab - va + off for va, filesz, off in loads if va <= strtab < va + filesz), None)
    if offset is None:
        _refuse(path, "its string table is outside every loaded segment")

    def string(index: int) -> str:
        if index >= strsz:
            _refuse(path, "a name outside its string table")
        chunk = os.pread(fd, min(MAX_STRING, strsz - index), offset + index)
        if b"\0" not in chunk:
            _refuse(path, "an unterminated or too long name")
        return chunk.split(b"\0", 1)[0].decode("utf-8", errors="replace")

    named = {t: [string(v) for tt, v in tags if tt == t] for t in (DT_NEEDED, DT_RPATH, DT_RUNPATH, DT_SONAME)}
    return Dynamic(named[DT_NEEDED], _paths(named[DT_RPATH]), _paths(named[DT_RUNPATH]),
                   (named[DT_SONAME] or [""])[0], elf_class, machine)


def _paths(values) -> list:
    return [p for value in values for p in value.split(":") if p]


def _ld_so_conf(path="/etc/ld.so.conf", depth: int = 0) -> list:
    """The folders /etc/ld.so.conf names (following its 'include' lines), in order. As ldconfig reads
    it: 'include', a space or a tab, then glob patterns separated by spaces or tabs, each relative
    to the file's own folder unless absolute."""
    found = []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read(1 << 20).splitlines()
    except OSError:
        return found
    for line in (ln.split("#", 1)[0].strip() for ln in lines):
        if line[:7] == "include" and line[7:8] in (" ", "\t"):
            for pattern in line[8:].split() if depth < 4 else []:
                pattern = os.path.join(os.path.dirname(path), pattern)  # an absolute pattern stays itself
                for included in sorted(glob.glob(pattern)):
                    found += _ld_so_conf(included, depth + 1)
        elif line.startswith("/"):
            found.append(line)
    return found


def _matches(candidate: str, elf_class: int, machine: int) -> bool:
    """Whether the loader would take ``candidate``: an ELF of the same class and machine."""
    try:
        fd = os.open(candidate, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        head = os.pread(fd, 20, 0)
    finally:
        os.close(fd)
    if len(head) < 20 or head[:4] != b"\x7fELF" or head[4] != elf_class:
        return False
    return struct.unpack_from("<H" if head[5] == 1 else ">H", head, 18)[0] == machine


def resolve(path, environ=None) -> list:
    """[(soname, path found or 'not found')] of the libraries ``path`` needs directly."""
    info = dynamic(path)
    environ = os.environ if environ is None else environ
    origin = os.path.dirname(os.path.realpath(path))

    def expand(folders):
        return [f.replace("$ORIGIN", origin).replace("${ORIGIN}", origin) for f in folders]

    folders = ([] if info.runpath else expand(info.rpath)) \
        + [f for f in environ.get("LD_LIBRARY_PATH", "").split(":") if f] \
        + expand(info.runpath) + _ld_so_conf() + list(DEFAULT_DIRS)
    out = []
    for soname in info.needed:
        if "/" in soname:
            out.append((soname, soname if _matches(soname, info.elf_class, info.machine) else "not found"))
            continue
        found = next((os.path.join(f, soname) for f in folders
                      if _matches(os.path.join(f, soname), info.elf_class, info.machine)), "not found")
        out.append((soname, found))
    return out
