"""Finding the base interpreter for a new environment from ``--python VERSION|PATH|COMMAND``."""

import glob
import json
import os
import re
import shutil
from collections import namedtuple

from pyenvmod import proc
from pyenvmod.errors import PyenvmodError

_VERSION = re.compile(r"(?:python)?(\d+)\.(\d+)(?:\.(\d+))?\Z")
_PROBE = (
    "import json, sys; print(json.dumps({'version': '%d.%d.%d' % sys.version_info[:3], "
    "'executable': getattr(sys, '_base_executable', '') or sys.executable, "
    "'implementation': sys.implementation.name}))"
)


class PythonInfo(namedtuple("PythonInfo", "executable version")):
    """``executable``: absolute path of the base interpreter; ``version``: its full version (3.12.1)."""

    __slots__ = ()

    @property
    def major_minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


def _cache_file() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "pyenvmod", "pythons.json")


def _cache_key(executable: str) -> str | None:
    """What identifies a probe's answer: the path asked and the binary it is. Only a real
    interpreter binary outside a virtual environment is cached (a shim script's answer, or a
    venv's, can change while the file stays the same)."""
    real = os.path.realpath(executable)
    try:
        st = os.stat(real)
        with open(real, "rb") as fh:
            if fh.read(4) != b"\x7fELF":
                return None
    except OSError:
        return None
    if os.path.exists(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(executable))), "pyvenv.cfg")):
        return None
    return f"{os.path.abspath(executable)}|{real}|{st.st_ino}|{st.st_size}|{st.st_mtime_ns}"


def _cached() -> dict:
    """The user's own cache of probes (private_files.read_own): an entry another user planted in a
    shared XDG_CACHE_HOME would name the interpreter pyenvmod builds with."""
    from pyenvmod import private_files

    try:
        data = json.loads(private_files.read_own(_cache_file(), 1 << 20, "interpreter cache").decode("utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError, PyenvmodError):
        return {}


def probe(executable: str) -> PythonInfo | None:
    """Ask an interpreter what it is; None when it does not run (a broken shim, say). The answer
    for an interpreter binary is kept in the user's cache until the binary changes (each create
    would otherwise start it once more)."""
    key = _cache_key(executable)
    cache = _cached() if key else {}
    hit = cache.get(key) if key else None
    if isinstance(hit, dict) and isinstance(hit.get("executable"), str) and isinstance(hit.get("version"), str):
        return PythonInfo(executable=hit["executable"], version=hit["version"])
    info = _probe(executable)
    if info is not None and key:
        from pathlib import Path

        from pyenvmod import files, private_files

        cache[key] = {"executable": info.executable, "version": info.version}
        try:
            Path(_cache_file()).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not private_files.own_folder(Path(_cache_file()).parent, "interpreter cache folder"):
                return info  # another user's folder: nothing of ours goes there
            files.write_atomic(Path(_cache_file()), json.dumps(dict(list(cache.items())[-50:])), mode=0o600)
        except OSError:
            pass  # a cache that cannot be written only costs time
    return info


def _probe(executable: str) -> PythonInfo | None:
    try:
        result = proc.run([executable, "-I", "-S", "-c", _PROBE], what="python", timeout=60)
    except PyenvmodError:
        return None
    if result.returncode != 0:
        return None
    try:
        data = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    if data.get("implementation") != "cpython":
        return None
    exe = data["executable"] if os.path.isabs(data["executable"]) else os.path.abspath(executable)
    return PythonInfo(executable=exe, version=data["version"])


def _candidates(major: str, minor: str):
    name = f"python{major}.{minor}"
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if directory:
            yield os.path.join(directory, name)
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    yield from sorted(glob.glob(os.path.join(pyenv_root, "versions", f"{major}.{minor}*", "bin", name)))
    uv_dir = os.environ.get("UV_PYTHON_INSTALL_DIR") or os.path.expanduser("~/.local/share/uv/python")
    yield from sorted(glob.glob(os.path.join(uv_dir, f"cpython-{major}.{minor}*", "bin", name)))
    yield from (f"/usr/local/bin/{name}", f"/usr/bin/{name}")


def resolve(spec: str) -> PythonInfo:
    """Resolve a version (``3.12``, ``3.12.1``, ``python3.12``), a path, or a command name."""
    how = "pass --python with a path to a python executable, or load a python module first"
    if os.sep in spec:
        if not (os.path.isfile(spec) and os.access(spec, os.X_OK)):
            raise PyenvmodError(f"Python {spec!r} not found or not executable; {how}")
        info = probe(os.path.abspath(spec))
        if info is None:
            raise PyenvmodError(f"{spec!r} does not run as a CPython interpreter; {how}")
        return info

    match = _VERSION.match(spec)
    if match:
        major, minor, micro = match.groups()
        wanted = f"{major}.{minor}" + (f".{micro}" if micro else "")
        seen = set()
        for candidate in _candidates(major, minor):
            if candidate in seen or not os.access(candidate, os.X_OK) or os.path.isdir(candidate):
                continue
            seen.add(candidate)
            info = probe(candidate)
            if info and (info.version == wanted or info.version.startswith(wanted + ".")):
                return info
        raise PyenvmodError(f"no Python {wanted} found (looked on PATH and in pyenv and uv folders); {how}")

    # A command name: the first one on PATH that runs (a pyenv shim may not, outside its project).
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        found = shutil.which(spec, path=directory) if directory else None
        info = probe(found) if found else None
        if info:
            return info
    raise PyenvmodError(f"Python {spec!r} not found; give a version like 3.12 or a path; {how}")
