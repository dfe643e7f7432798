"""The last touches of a node-local copy, after relocation and before it is renamed into place.

- pip acts on the shared environment: ``python -m pip`` (the copy's pip/__main__.py) and the
  copy's ``bin/pip``, ``pip3``, ``pip3.X`` run the shared environment's pip, so a package installed
  after staging goes where it is kept, the environment's version stamp changes, and the next
  'pyenvmod stage' makes a new copy (the launchers of pip do the same: stage-launcher.sh.j2).
- The copy's interpreter finds its own libpython even when a module set LD_LIBRARY_PATH to the
  shared Python's lib folder: its library path ($ORIGIN/../lib, made relative by pack) becomes an
  RPATH, which the dynamic loader searches before LD_LIBRARY_PATH (a RUNPATH comes after it).
- Bytecode of the files stage rewrote (the stacking hook, pip's __main__) is compiled again by
  the copy's own interpreter: the .pyc packed in the image holds the old text, and Python would
  compile the new one at every start where it may not write bytecode.
"""

import os
import re
import struct
import subprocess
from pathlib import Path

from pyenvmod.modules import render
from pyenvmod.trust import files

PIP_NAMES = re.compile(r"pip(3(\.\d+)?)?")
_COMPILE = ("import py_compile, sys\n"
            "for path in sys.argv[1:]:\n"
            "    py_compile.compile(path, doraise=True)\n")


def _pip_to_shared(tmp: Path, manifest, env) -> list:
    """Point the copy's pip at the shared environment. Returns the Python files written."""
    if "env" not in manifest.trees or "env" not in manifest.site_packages:
        return []
    shared = manifest.trees["env"]
    written = []
    main = tmp / "env" / manifest.site_packages["env"] / "pip" / "__main__.py"
    if main.is_file() and not main.is_symlink():
        files.write_atomic(main, render.render_template("pip_main_staged.py.j2",
                                                        {"shared_python": f"{shared}/bin/python"}, env), inside=tmp)
        written.append(main)
    bin_dir = tmp / "env" / "bin"
    for name in sorted(os.listdir(bin_dir)) if bin_dir.is_dir() else []:
        path = bin_dir / name
        if PIP_NAMES.fullmatch(name) and path.is_file() and not path.is_symlink():
            text = render.render_template("pip_staged.sh.j2", {"program": f"{shared}/bin/{name}"}, env)
            files.write_atomic(path, text, inside=tmp, mode=os.lstat(path).st_mode & 0o755)
    return written


DT_NULL, DT_STRTAB, DT_RPATH, DT_RUNPATH = 0, 5, 15, 29
PT_LOAD, PT_DYNAMIC = 1, 2


def origin_rpath(data: bytes) -> bytes | None:
    """A 64-bit little-endian ELF file whose RUNPATH starts with $ORIGIN, with that entry made an
    RPATH (the same bytes otherwise); None when there is nothing to change."""
    at = runpath_tag_at(data)
    return None if at is None else data[:at] + struct.pack("<q", DT_RPATH) + data[at + 8:]


def runpath_tag_at(data: bytes) -> int | None:
    """Where the tag of a RUNPATH starting with $ORIGIN is, in a 64-bit little-endian ELF file
    without an RPATH; None when there is none."""
    if data[:6] != b"\x7fELF\x02\x01":
        return None
    try:
        (phoff,) = struct.unpack_from("<Q", data, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
        loads, dynamic = [], None
        for i in range(phnum):
            p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
            if p_type == PT_LOAD:
                loads.append((p_vaddr, p_offset, p_filesz))
            elif p_type == PT_DYNAMIC:
                dynamic = (p_offset, p_filesz)
        if dynamic is None:
            return None
        entries, strtab = [], None
        for at in range(dynamic[0], dynamic[0] + dynamic[1], 16):
            tag, value = struct.unpack_from("<qQ", data, at)
            if tag == DT_NULL:
                break
            entries.append((at, tag, value))
            if tag == DT_STRTAB:
                strtab = next((value - v + o for v, o, n in loads if v <= value < v + n), None)
        if strtab is None or any(tag == DT_RPATH for _, tag, _ in entries):
            return None
        for at, tag, value in entries:
            if tag == DT_RUNPATH and data[strtab + value:strtab + value + 8] == b"$ORIGIN/":
                return at
    except struct.error:
        return None
    return None


def _own_libpython(tmp: Path) -> None:
    """The copy's python executables: RUNPATH $ORIGIN/... becomes RPATH (see the module's text)."""
    for folder in (tmp / "base" / "bin", tmp / "env" / "bin"):
        for name in sorted(os.listdir(folder)) if folder.is_dir() else []:
            path = folder / name
            if not name.startswith("python") or path.is_symlink() or not path.is_file():
                continue
            with open(path, "rb") as fh:
                data = fh.read(64 << 20)
            at = runpath_tag_at(data)
            if at is not None:  # only the one tag changes: in place
                files.write_at(path, at, struct.pack("<q", DT_RPATH), inside=tmp)


def _interpreter(tmp: Path, manifest) -> Path | None:
    """The copy's python, runnable before the copy has its final name: the base interpreter
    (a venv's bin/python needs pyvenv.cfg's home, which names the final place), else conda's."""
    for candidate in (tmp / "base" / "bin" / f"python{manifest.python_mm}", tmp / "base" / "bin" / "python3",
                      tmp / "env" / "bin" / f"python{manifest.python_mm}", tmp / "env" / "bin" / "python"):
        if os.access(candidate, os.X_OK) and not candidate.is_dir():
            return candidate
    return None


def finish(tmp: Path, manifest, hooks: list) -> None:
    """Own libpython, redirect pip, then compile the rewritten files (``hooks`` and pip's __main__.py)."""
    _own_libpython(tmp)
    env = render.environment()
    rewritten = [Path(h) for h in hooks if Path(h).is_file()] + _pip_to_shared(tmp, manifest, env)
    python = _interpreter(tmp, manifest)
    if not rewritten or python is None:
        return
    # -I: nothing from the user's environment; -S: no site (its .pth would import the hook being compiled)
    subprocess.run([str(python), "-I", "-S", "-c", _COMPILE, *map(str, rewritten)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
