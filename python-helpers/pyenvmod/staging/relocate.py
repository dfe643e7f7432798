"""Moving an environment to another folder: the prefixes written into its files (the conda-pack approach).

At pack time every file is searched for the old prefixes (the environment's, its base
interpreter's, the environment it extends); the image lists the files that hold one.
At stage time only those files are rewritten: text files get the new path; binary files
only when the new path is not longer (padded with NUL bytes, as conda does), else they are
left as they are. The interpreter's library search path (RUNPATH) is made relative
($ORIGIN) in the image, so the copied interpreter loads the copied libpython.
"""

import os

SCAN_LIMIT = 64 << 20  # larger files (data, big libraries) are not searched


def needles(mapping) -> list[bytes]:
    """The old prefixes of ``mapping`` (old path -> place in the image) as bytes, for holders()."""
    return [os.fsencode(old) for old in mapping]


def holders(arcname: str, data, olds: list[bytes], end: int | None = None) -> bool:
    """Whether a file needs rewriting when moved (``data[:end]``: its bytes, or a buffer holding them).
    Bytecode never does: Python corrects a code object's file name when it loads it, and a .pyc has
    no room for another length."""
    if arcname.endswith((".pyc", ".pyo")):
        return False
    for old in olds:
        if data.find(old, 0, end) >= 0:
            return is_text(data, end) or data[:4] == b"\x7fELF"
    return False


def is_text(data, end: int | None = None) -> bool:
    return data.find(b"\0", 0, 8192 if end is None else min(end, 8192)) < 0


def relative_runpath(data, base_prefix: str, to_lib: str = "../lib", end: int | None = None):
    """An ELF file's RUNPATH ``BASE/lib`` becomes ``$ORIGIN/<to_lib>`` (same length, NUL-padded). A
    bytearray (``data[:end]``: a buffer reused for large files) is changed in place and returned."""
    if data[:4] != b"\x7fELF":
        return data
    old = os.fsencode(base_prefix) + b"/lib\0"
    new = b"$ORIGIN/" + os.fsencode(to_lib) + b"\0"
    if len(new) > len(old):
        return data
    new = new.ljust(len(old), b"\0")
    if not isinstance(data, bytearray):
        return data.replace(old, new) if old in data else data
    at = data.find(old, 0, end)
    while at >= 0:
        data[at:at + len(old)] = new
        at = data.find(old, at + len(old), end)
    return data


def _replace_padded(data: bytes, old: bytes, new: bytes) -> bytes:
    """Replace ``old`` in NUL-terminated strings of a binary, keeping each string's length."""
    out, start = [], 0
    while True:
        at = data.find(old, start)
        if at < 0:
            out.append(data[start:])
            return b"".join(out)
        end = data.find(b"\0", at)
        end = len(data) if end < 0 else end
        string = data[at:end]
        fixed = string.replace(old, new)
        out.append(data[start:at])
        out.append(fixed + b"\0" * (len(string) - len(fixed)))
        start = end


def rewrite(path: str, mapping: dict[str, str], inside=None) -> bool:
    """Rewrite the old prefixes in one file (longest first). Returns False when a binary file
    could not be changed because a new path is longer than the old one. The file is read and
    replaced through its folder's descriptor (reached from ``inside`` without following a link,
    else only the folder itself must not be one), never through a link."""
    import stat

    from pyenvmod.trust.folders import Folder

    folder = Folder.open(inside, os.path.dirname(path)) if inside is not None else \
        Folder.open_last(os.path.dirname(path))
    with folder:
        name = os.path.basename(path)
        with os.fdopen(folder.open_file(name), "rb") as fh:
            data = fh.read()
            mode = stat.S_IMODE(os.fstat(fh.fileno()).st_mode)
        complete, new_data = _rewritten(data, mapping)
        if new_data != data:
            folder.write(name, new_data, mode=mode)
    return complete


def _rewritten(data: bytes, mapping: dict[str, str]) -> tuple[bool, bytes]:
    ordered = sorted(((os.fsencode(o), os.fsencode(n)) for o, n in mapping.items()), key=lambda p: -len(p[0]))
    text, complete = is_text(data), True
    new_data = data
    for old, new in ordered:
        if old not in new_data:
            continue
        if text:
            new_data = new_data.replace(old, new)
        elif len(new) <= len(old) and data[:4] == b"\x7fELF":  # NUL-terminated strings: room to pad
            new_data = _replace_padded(new_data, old, new)
        else:
            complete = False
    return complete, new_data
