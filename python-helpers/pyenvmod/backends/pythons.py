"""Finding the base interpreter for a new environment from ``--python VERSION|PATH|COMMAND``."""

import glob
import json
import os
import re
import shutil
from collections import namedtuple

from pyenvmod.runtime import proc
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
    from pyenvmod.trust import private_files

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

        from pyenvmod.trust import files, private_files

        cache[key] = {"executable": info.executable, "version": info.version}
        try:
            files.make_root(Path(_cache_file()).parent, 0o700)
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
    if not isinstance(data, dict) or data.get("implementation") != "cpython":
        return None  # a wrapper's last line of its own ("[]", "0"), or another Python
    if not (isinstance(data.get("executable"), str) and isinstance(data.get("version"), str)):
        return None
    exe = data["executable"] if os.path.isabs(data["executable"]) else os.path.abspath(executable)
    return PythonInfo(executable=exe, version=data["version"])


def _candidates(major: str, minor: str):
    for _source, path in _sourced_candidates(major, minor):
        yield path


def _sourced_candidates(major: str, minor: str):
    """(source, path) of every place a python{major}.{minor} may be, in the order --python looks."""
    name = f"python{major}.{minor}"
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if directory:
            yield "PATH", os.path.join(directory, name)
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    for path in sorted(glob.glob(os.path.join(pyenv_root, "versions", f"{major}.{minor}*", "bin", name))):
        yield "pyenv", path
    uv_dir = os.environ.get("UV_PYTHON_INSTALL_DIR") or os.path.expanduser("~/.local/share/uv/python")
    for path in sorted(glob.glob(os.path.join(uv_dir, f"cpython-{major}.{minor}*", "bin", name))):
        yield "uv", path
    yield "system", f"/usr/local/bin/{name}"
    yield "system", f"/usr/bin/{name}"


def _runnable(path: str) -> bool:
    return os.access(path, os.X_OK) and not os.path.isdir(path)


def _matches(version: str, wanted: str) -> bool:
    return version == wanted or version.startswith(wanted + ".")


def _outside_modules(major: str, minor: str, wanted: str):
    """(source, PythonInfo) of the first interpreter of ``wanted`` outside the module system, or None."""
    seen = set()
    for source, candidate in _sourced_candidates(major, minor):
        if candidate in seen or not _runnable(candidate):
            continue
        seen.add(candidate)
        info = probe(candidate)
        if info and _matches(info.version, wanted):
            return source, info
    return None


def resolve(spec: str, config=None, notify=lambda message: None) -> PythonInfo:
    """Resolve a version (``3.12``, ``3.12.1``, ``python3.12``), a path, or a command name.

    With ``config``, a version also looks in the module system (``python_modules``; first or last
    as ``python_from`` says) and loads the module it picks into this process, where a create then
    records it with the loaded modules (see :func:`chosen_module`)."""
    return locate(spec, config, notify)[0]


def locate(spec: str, config=None, notify=lambda message: None):
    """(PythonInfo, the Python module loaded for it or None): see :func:`resolve`."""
    how = "pass --python with a path to a python executable, or load a python module first"
    if os.sep in spec:
        if not (os.path.isfile(spec) and os.access(spec, os.X_OK)):
            raise PyenvmodError(f"Python {spec!r} not found or not executable; {how}")
        info = probe(os.path.abspath(spec))
        if info is None:
            raise PyenvmodError(f"{spec!r} does not run as a CPython interpreter; {how}")
        return info, None

    match = _VERSION.match(spec)
    if match:
        major, minor, micro = match.groups()
        wanted = f"{major}.{minor}" + (f".{micro}" if micro else "")
        modules_first = config is not None and config["python_from"] == "modules"
        if modules_first:
            choice = _module_choice(config, wanted)
            if choice is not None:
                return _load_module(choice, wanted, notify), choice.module
        found = _outside_modules(major, minor, wanted)
        if found is not None:
            return found[1], None
        if config is not None and not modules_first:
            choice = _module_choice(config, wanted)
            if choice is not None:
                return _load_module(choice, wanted, notify), choice.module
        raise PyenvmodError(f"no Python {wanted} found; {_what_exists(config)}; {how}")

    # A command name: the first one on PATH that runs (a pyenv shim may not, outside its project).
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        found = shutil.which(spec, path=directory) if directory else None
        info = probe(found) if found else None
        if info:
            return info, None
    raise PyenvmodError(f"Python {spec!r} not found; give a version like 3.12 or a path; {how}")


# --- Python from the site's module system ------------------------------------------------------

# A module offering Python: its NAME/VERSION, the Python version its name gives (3.11.5 from
# Python/3.11.5-GCCcore-13.2.0), and whether it is the site's default version of NAME.
ModulePython = namedtuple("ModulePython", "module version default")
_MODULE_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


def version_key(version: str) -> tuple:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:3])


def module_pythons(available, names) -> list[ModulePython]:
    """The Python modules among ``available`` ((NAME/VERSION, default) pairs): NAME one of ``names``,
    VERSION starting with a Python 3 version."""
    found = []
    for module, default in available:
        family, _, version = module.rpartition("/")
        match = _MODULE_VERSION.match(version)
        if family in names and match and match.group(1) == "3":
            found.append(ModulePython(module, ".".join(x for x in match.groups() if x), bool(default)))
    return found


def choose(modules: list[ModulePython], wanted: str, names) -> tuple:
    """(the module for ``--python wanted``, why, the others of its version); (None, '', []) when none.

    The site's default version of a Python module wins when it matches; otherwise the newest
    version; between modules of the same version, the one whose NAME comes first in ``names``."""
    matching = [m for m in modules if _matches(m.version, wanted)]
    if not matching:
        return None, "", []
    order = {name: i for i, name in enumerate(names)}

    def rank(m):  # a version without its micro (python/3.12) after one with it (Python/3.12.1)
        key = (version_key(m.version) + (-1, -1))[:3]
        return (not m.default, tuple(-x for x in key), order.get(m.module.rpartition("/")[0], 99), m.module)

    def same_version(a, b):
        ka, kb = version_key(a.version), version_key(b.version)
        return ka[:len(kb)] == kb[:len(ka)]

    matching.sort(key=rank)
    best = matching[0]
    same = [m for m in matching[1:] if same_version(m, best)]
    if best.default:
        why = f"the default version, what 'module load {best.module.rpartition('/')[0]}' loads"
    else:
        why = f"the newest module of Python {wanted}"
    if same:
        if best.default and not all(m.default for m in same):
            because = "is the default"
        elif any(len(version_key(m.version)) < len(version_key(best.version)) for m in same):
            because = f"names the full version {best.version}"
        else:
            because = "comes first in python_modules"
        why += (f"; {', '.join(m.module for m in same)} give{'s' if len(same) == 1 else ''} the same version, "
                f"{best.module} {because}")
    return best, why, same


_AVAILABLE: dict = {}


def _owners(config) -> tuple:
    from pyenvmod.trust import identity

    return identity.uids(config["module_owners"])


def _available_modules(config) -> list[ModulePython]:
    """The module system's Python modules (asked once per command); [] without a module system."""
    from pyenvmod.modules import module_system

    system = module_system.current()
    if system is None:
        return []
    key = (system.name, os.environ.get("MODULEPATH", ""))
    if key not in _AVAILABLE:
        try:
            _AVAILABLE[key] = module_pythons(system.available(_owners(config)),
                                             config["python_modules"])
        except PyenvmodError:
            _AVAILABLE[key] = []
    return _AVAILABLE[key]


def _module_choice(config, wanted: str):
    return choose(_available_modules(config), wanted, config["python_modules"])[0]


def _load_module(choice: ModulePython, wanted: str, notify) -> PythonInfo:
    """Load the module ``choice`` into this process and return the Python it puts on PATH."""
    from pyenvmod.modules import module_system

    system = module_system.current()
    before = os.environ.get("PATH", "").split(os.pathsep)
    notify(f"loading the Python module {choice.module} with {system.name} for Python {wanted}")
    message = system.try_load([choice.module])
    if message is not None:
        raise PyenvmodError(f"the Python module {choice.module} (for --python {wanted}) does not load with "
                            f"{system.name}: {message[:300]}; nothing was created; ask your site's staff, "
                            "or pass --python with another version or a path")
    after = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    major, minor = wanted.split(".")[:2]
    for directory in [d for d in after if d not in before] + after:
        for name in (f"python{major}.{minor}", f"python{major}", "python"):
            candidate = os.path.join(directory, name)
            if _runnable(candidate):
                info = probe(candidate)
                if info and _matches(info.version, wanted):
                    return info
    raise PyenvmodError(f"the module {choice.module} loaded, but no Python {wanted} came with it on PATH; "
                        "ask your site's staff, or pass --python with a path")


# --- everything pyenvmod can use (pyenvmod pythons) --------------------------------------------

# An interpreter: its version, where it comes from (PATH, pyenv, uv, system, module), the path
# (for a module: its NAME/VERSION) and, for a module, whether it is the site's default
Found = namedtuple("Found", "version source where default", defaults=(False,))


def inventory(config) -> list[Found]:
    """Every interpreter pyenvmod can use, outside modules first (in --python's order), then the
    Python modules; one entry per interpreter (a binary reached two ways is listed once)."""
    found, seen = [], set()
    minors = set()
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    uv_dir = os.environ.get("UV_PYTHON_INSTALL_DIR") or os.path.expanduser("~/.local/share/uv/python")
    folders = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    folders += glob.glob(os.path.join(pyenv_root, "versions", "*", "bin"))
    folders += glob.glob(os.path.join(uv_dir, "cpython-*", "bin")) + ["/usr/local/bin", "/usr/bin"]
    for folder in folders:
        for path in glob.glob(os.path.join(glob.escape(folder), "python3.*")):
            match = re.fullmatch(r"python3\.(\d+)", os.path.basename(path))
            if match:
                minors.add(int(match.group(1)))
    candidates = []
    for minor in sorted(minors):
        for source, candidate in _sourced_candidates("3", str(minor)):
            real = os.path.realpath(candidate)
            if real not in seen and _runnable(candidate):
                seen.add(real)
                candidates.append((minor, source, candidate, real))
    # each probe starts an interpreter (a pyenv shim: a shell script first): side by side
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        infos = list(pool.map(lambda c: probe(c[2]), candidates))
    for (minor, source, candidate, real), info in zip(candidates, infos):
        if info and os.path.realpath(info.executable) != real:  # a shim, or a link to one seen already
            if os.path.realpath(info.executable) in seen:
                continue
            seen.add(os.path.realpath(info.executable))
        if info and info.major_minor == f"3.{minor}":
            found.append(Found(info.version, source, candidate))
    modules = _available_modules(config)
    found += [Found(m.version, "module", m.module, m.default) for m in modules]
    return found


def pick(config, wanted: str, found: list[Found]) -> tuple:
    """(the Found that ``--python wanted`` takes, why), without loading anything; (None, '') when none."""
    outside = [f for f in found if f.source != "module" and _matches(f.version, wanted)]
    modules = [ModulePython(f.where, f.version, f.default) for f in found if f.source == "module"]
    module, why_module, _ = choose(modules, wanted, config["python_modules"])
    chosen = next((f for f in found if f.source == "module" and module and f.where == module.module), None)
    if chosen is not None and config["python_modules"] and config["python_from"] == "modules":
        return chosen, f"python_from: modules; {why_module}"
    if outside:
        where = {"PATH": "first on PATH", "pyenv": "not on PATH; in pyenv's folder", "uv": "not on PATH; in uv's folder",
                 "system": "a system interpreter"}[outside[0].source]
        return outside[0], where
    if chosen is not None:
        return chosen, f"none outside the module system; {why_module}"
    return None, ""


def _what_exists(config) -> str:
    """One clause naming every version found, by source."""
    if config is None:
        return "looked on PATH and in pyenv and uv folders"
    by_source: dict = {}
    for f in inventory(config):
        label = f.where if f.source == "module" else f.version
        by_source.setdefault(f.source, []).append(label)
    if not by_source:
        return "none was found on PATH, in pyenv's or uv's folders, or in the module system"
    return "there are " + "; ".join(f"{source}: {', '.join(items)}" for source, items in by_source.items()) + \
        " (pyenvmod pythons lists them)"
