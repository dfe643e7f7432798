"""What goes into an environment's image, and the stamp that names its version.

The image holds three trees: ``env/`` (the environment), ``base/`` (its base interpreter:
the executable, libpython and the standard library; not for conda, whose interpreter is in
the environment) and ``ext/`` (the environment it extends, if any), and ``manifest.json``:
the old prefixes and the files that mention them (see relocate.py).
"""

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pyenvmod.modules import stacking
from pyenvmod.errors import PyenvmodError

# Parts of the standard library no program imports at run time: tests, the static library, IDLE.
STDLIB_SKIP = {"test", "idlelib", "site-packages", "__phello__"}

@dataclass
class Source:
    """The trees of one environment, as found on the shared filesystem."""

    name: str
    prefix: str
    python_mm: str  # 3.12
    backend: str
    updated: str
    base_prefix: str = ""  # '' for conda: the interpreter is part of the environment
    base_executable: str = ""
    ext_prefix: str = ""  # the environment it extends (--extends), copied along

    def site_packages(self, prefix=None) -> str:
        return str(stacking.site_packages(prefix or self.prefix, self.python_mm))

    def relocations(self) -> dict:
        """Old path -> its place in the image: what relocation rewrites in files. For the base
        interpreter only its python executables and standard library (a base prefix of /usr
        must not turn every '#!/usr/bin/env' into a path in the copy)."""
        out = {self.prefix: "env"}
        if self.ext_prefix:
            out[self.ext_prefix] = "ext"
        if self.base_prefix:
            out[f"{self.base_prefix}/bin/python"] = "base/bin/python"
            out[f"{self.base_prefix}/lib/python{self.python_mm}"] = f"base/lib/python{self.python_mm}"
        return out

    def trees(self) -> dict:
        """image folder -> shared folder."""
        out = {"env": self.prefix}
        if self.base_prefix:
            out["base"] = self.base_prefix
        if self.ext_prefix:
            out["ext"] = self.ext_prefix
        return out


def source_for(record) -> Source:
    python_mm = ".".join(record.python.split(".")[:2])
    source = Source(record.name, record.prefix, python_mm, record.backend, record.updated or record.created)
    if record.extends and record.extends.get("prefix"):
        source.ext_prefix = record.extends["prefix"]
    if record.backend == "conda":
        return source
    found = _base_from_link(record.prefix, python_mm)
    if found:
        source.base_prefix, source.base_executable = found
        return source
    found = _base_from_cfg(record.prefix, python_mm)
    if found is None and os.path.isfile(os.path.join(record.prefix, "lib", f"python{python_mm}", "os.py")):
        found = ("", os.path.realpath(os.path.join(record.prefix, "bin", "python")))  # a whole installation
    if found is None:
        raise PyenvmodError(f"the base interpreter of {record.name!r} is not found from its bin/python link nor "
                            f"the 'home' of its pyvenv.cfg (was it removed?); repair it with 'pyenvmod doctor' "
                            "first")
    source.base_prefix, source.base_executable = found
    return source


def _base_from_cfg(prefix: str, python_mm: str):
    """(base prefix, interpreter) from the 'home' line of the environment's pyvenv.cfg (the folder of
    the base interpreter), read as a file: pack and stage never start an environment's interpreter,
    whose .pth files a group member may have written."""
    from pyenvmod.trust import files

    try:
        text = files.read_bytes(os.path.join(prefix, "pyvenv.cfg"), 64 << 10).decode("utf-8", errors="replace")
    except (OSError, PyenvmodError):
        return None
    home = next((value.strip() for key, _, value in (ln.partition("=") for ln in text.splitlines())
                 if key.strip() == "home"), "")
    if not os.path.isabs(home):
        return None
    for exe in (f"python{python_mm}", "python3", "python"):
        path = os.path.realpath(os.path.join(home, exe))
        base = os.path.dirname(os.path.dirname(path))
        if os.path.isfile(path) and os.path.isfile(os.path.join(base, "lib", f"python{python_mm}", "os.py")):
            return base, path
    return None


def _base_from_link(prefix: str, python_mm: str):
    """(base prefix, interpreter) from the environment's bin/python link, without running python
    (stage runs on every node): PREFIX/bin/pythonX.Y with PREFIX/lib/pythonX.Y/os.py."""
    exe = os.path.realpath(os.path.join(prefix, "bin", "python"))
    base = os.path.dirname(os.path.dirname(exe))
    if base != os.path.normpath(prefix) and os.path.isfile(os.path.join(base, "lib", f"python{python_mm}", "os.py")):
        return base, exe
    return None


def _listing(folder: str) -> list:
    try:
        with os.scandir(folder) as entries:
            return sorted((e.name, e.stat(follow_symlinks=False).st_mtime_ns) for e in entries)
    except OSError:
        return []


def stamp(source: Source) -> str:
    """The version of an environment, from what changes when packages do: the record's
    'updated' time and the entries (with their times) of site-packages, bin and the prefix.
    A few stat calls, no reading of files: cheap enough for every 'stage'."""
    parts = [asdict(source)]
    for prefix in filter(None, (source.prefix, source.ext_prefix)):
        for folder in (source.site_packages(prefix), os.path.join(prefix, "bin"), prefix):
            parts.append(_listing(folder))
    if source.base_executable:
        try:
            parts.append(os.stat(source.base_executable).st_mtime_ns)
        except OSError:
            parts.append(None)
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]


def missing_bytecode(folder: str, python_mm: str) -> bool:
    """Whether a .py file under ``folder`` has no .pyc of this Python beside it (in __pycache__):
    a walk of the folders' listings (by descriptor, no link followed), no file read, so that pack
    runs compileall (a Python start-up that opens every .pyc) only when there is something to compile."""
    from pyenvmod.trust.folders import Folder

    tag = f".cpython-{python_mm.replace('.', '')}.pyc"
    sources, cached = {}, {}
    try:
        held = Folder.open_last(folder)
    except (OSError, PyenvmodError):
        return True  # compileall will say what is wrong
    with held:
        for rel, dirs, names, _fd in held.walk():
            if os.path.basename(rel) == "__pycache__":
                cached[os.path.dirname(rel)] = set(names)
                dirs[:] = []
            else:
                stems = [f[:-3] for f in names if f.endswith(".py")]
                if stems:
                    sources[rel] = stems
    return any(stem + tag not in cached.get(rel, ()) for rel, stems in sources.items() for stem in stems)


def stdlib_skipped(relative: str, python_mm: str) -> bool:
    """True for the parts of the base prefix the image leaves out: only bin/python*, lib/libpython*
    and lib/pythonX.Y (without its tests, site-packages and static library) go in."""
    parts = relative.split("/")
    if parts[0] == "bin":
        return len(parts) > 1 and not parts[1].startswith("python")
    if parts[0] != "lib":
        return True
    if len(parts) == 1:
        return False
    if parts[1].startswith("libpython"):
        return False
    if parts[1] != f"python{python_mm}":
        return True
    return len(parts) > 2 and (parts[2] in STDLIB_SKIP or parts[2].startswith("config-"))


@dataclass
class Manifest:
    stamp: str
    name: str
    python_mm: str
    backend: str
    trees: dict  # image folder -> the shared folder it came from
    size: int = 0  # bytes, unpacked
    relocate: list = field(default_factory=list)  # image paths of files that mention an old prefix
    site_packages: dict = field(default_factory=dict)  # image folder -> its site-packages, relative
    mapping: dict = field(default_factory=dict)  # old path -> its place in the image (relocation)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1) + "\n"


MANIFEST_MAX_BYTES = 64 << 20  # the list of files to relocate: a few MB for the largest environments


def read_manifest(path: Path) -> Manifest:
    """The manifest beside an image (a file a group member may write): a regular file of at most
    MANIFEST_MAX_BYTES, opened without following a symlink or waiting on a FIFO."""
    from pyenvmod.trust import files

    try:
        data = json.loads(files.read_bytes(path, MANIFEST_MAX_BYTES).decode("utf-8"))
        return Manifest(**data)
    except PyenvmodError as exc:
        raise PyenvmodError(f"the image manifest is refused: {exc}; run 'pyenvmod pack NAME' again") from None
    except (OSError, ValueError, TypeError) as exc:
        raise PyenvmodError(f"the image manifest {path} is unreadable ({exc}); run 'pyenvmod pack NAME' again") \
            from None
