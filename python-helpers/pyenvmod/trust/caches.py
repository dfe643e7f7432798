"""Which folders are provably a package tool's cache, and emptying only what the tool put there.

``doctor --fix`` empties caches named by variables (PIP_CACHE_DIR, UV_CACHE_DIR) that anyone
may have set to anything. A folder is emptied only when it carries the tool's own layout
(uv: a CACHEDIR.TAG and nothing but uv's versioned buckets; pip: nothing but pip's
hash-named buckets; conda: its urls.txt), is not the home folder, /, the working folder
or a parent of any of these or of pyenvmod's root; and then only the tool's buckets go.
When in doubt, the folder is reported and left alone.
"""

import os
import re
from pathlib import Path

from pyenvmod.trust import files

CACHEDIR_SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55"  # https://bford.info/cachedir/
_UV_BUCKET = re.compile(r"[a-z][a-z0-9-]*-v\d+")
_UV_OTHER = {"CACHEDIR.TAG", ".gitignore", ".lock"}
_PIP_BUCKETS = {"http": 1, "http-v2": 1, "wheels": 2}  # bucket: length of its hex-named folders
_PIP_OTHER = {"selfcheck", "selfcheck.json", "CACHEDIR.TAG"}
_HEX = set("0123456789abcdef")
TOOLS = ("uv", "pip", "conda")


def refusal(path, tool: str, *, home, protected=()) -> str | None:
    """Why ``path`` is not provably ``tool``'s cache (a short reason), or None when it is.

    ``protected``: folders that must survive (pyenvmod's root, say): neither they nor a
    folder holding them is ever a cache."""
    given = str(path)
    if not os.path.isabs(given):
        return "it is not an absolute path"
    real = os.path.realpath(given)
    for name, keep in (("your home folder", home), ("the working folder", os.getcwd()),
                       *(("pyenvmod's root", p) for p in protected)):
        keep = os.path.realpath(keep)
        if os.path.commonpath([real, keep]) == real:
            return f"it is {name}" if real == keep else f"it holds {name}"
    if real == "/" or os.path.ismount(real):
        return "it is a whole filesystem"
    if not os.path.isdir(real):
        return "it is not a folder"
    try:
        entries = os.listdir(real)
    except OSError as exc:
        return f"it cannot be read ({exc.strerror})"
    return {"uv": _uv, "pip": _pip, "conda": _conda}[tool](Path(real), entries)


def _uv(folder: Path, entries) -> str | None:
    try:
        with open(folder / "CACHEDIR.TAG", "rb") as fh:
            if not fh.read(len(CACHEDIR_SIGNATURE)) == CACHEDIR_SIGNATURE:
                return "its CACHEDIR.TAG is not a cache directory tag"
    except OSError:
        return "it has no CACHEDIR.TAG, which uv writes into its cache"
    strangers = [e for e in entries if e not in _UV_OTHER and not _UV_BUCKET.fullmatch(e)]
    return f"it holds {strangers[0]!r}, which uv does not make" if strangers else None


def _pip(folder: Path, entries) -> str | None:
    strangers = [e for e in entries if e not in _PIP_BUCKETS and e not in _PIP_OTHER]
    if strangers:
        return f"it holds {strangers[0]!r}, which pip does not make"
    if not any(e in _PIP_BUCKETS for e in entries):
        return "it has none of pip's http, http-v2 or wheels folders"
    for bucket, length in _PIP_BUCKETS.items():
        if bucket in entries:
            inside = folder / bucket
            if inside.is_symlink() or not inside.is_dir():
                return f"its {bucket} is not a plain folder"
            odd = [e for e in os.listdir(inside) if len(e) != length or not set(e) <= _HEX]
            if odd:
                return f"its {bucket} folder holds {odd[0]!r}, which pip does not make"
    return None


def _conda(folder: Path, entries) -> str | None:
    return None if "urls.txt" in entries else "it has no urls.txt, which conda keeps in its package folder"


def buckets(path, tool: str) -> list[Path]:
    """What emptying removes: the tool's own entries, nothing else (the tag and lock stay)."""
    folder = Path(os.path.realpath(path))
    out = []
    for entry in sorted(os.listdir(folder)):
        child = folder / entry
        if tool == "uv" and _UV_BUCKET.fullmatch(entry):
            out.append(child)
        elif tool == "pip" and (entry in _PIP_BUCKETS or entry in ("selfcheck", "selfcheck.json")):
            out.append(child)
        elif tool == "conda" and (entry.endswith((".conda", ".tar.bz2")) or entry == "cache"
                                  or (child / "info" / "index.json").is_file()):
            out.append(child)
    return out


def empty(path, tool: str, *, home, protected=()) -> str:
    """Empty ``path`` of ``tool``'s entries, checking again first that it is that tool's cache."""
    why = refusal(path, tool, home=home, protected=protected)
    if why:
        return f"left {path} alone: {why}"
    folder = Path(os.path.realpath(path))
    for child in buckets(folder, tool):
        files.remove_inside(child, folder)
    return f"emptied {path}"
