"""Which loaded modules an environment depends on: read at create time, recorded in metadata.

Both Lmod and Environment Modules keep the loaded modules, with versions, in
``LOADEDMODULES`` (colon-separated, in load order).
"""

import fnmatch
import os

from pyenvmod.errors import PyenvmodError
from pyenvmod.records.layout import MODULE_FAMILY

_BAD = set(" \t\n\r\0:\"'\\$`;{}[]")


def loaded(environ=None) -> list[str]:
    value = (os.environ if environ is None else environ).get("LOADEDMODULES", "")
    return [m for m in value.split(":") if m]


def _excluded(module: str, patterns) -> bool:
    return module.startswith(MODULE_FAMILY + "/") or any(fnmatch.fnmatchcase(module, p) for p in patterns)


def validate(module: str) -> str:
    if not module or any(c in _BAD for c in module) or module.startswith(("-", "/")):
        raise PyenvmodError(f"invalid module name {module!r}: give a module as NAME or NAME/VERSION, "
                            "without spaces, quotes or shell characters")
    return module


def _family(module: str) -> str:
    return module.rsplit("/", 1)[0] if "/" in module else module


def modules_for(environ, exclude, given: list[str], capture: bool = True) -> list[str]:
    """The modules to record: the loaded ones (unless ``capture`` is off), minus excluded ones,
    with ``given`` ones added; a given module replaces a captured one of the same name."""
    given = [validate(m.strip()) for m in given if m.strip()]
    captured = [m for m in (loaded(environ) if capture else []) if not _excluded(m, exclude)]
    replaced = {_family(m) for m in given}
    result = [m for m in captured if _family(m) not in replaced and m not in given]
    for module in given:
        if module not in result:
            result.append(module)
    return result


def module_paths(environ, modules: list[str]) -> list[str]:
    """The MODULEPATH folders that hold ``modules``, from the loaded modulefiles' paths
    (``_LMFILES_``, kept in load order beside ``LOADEDMODULES`` by both module systems)."""
    environ = os.environ if environ is None else environ
    files = [f for f in environ.get("_LMFILES_", "").split(":") if f]
    folders = []
    for module, path in zip(loaded(environ), files):
        if module in modules:
            stem = path[: -len(".lua")] if path.endswith(".lua") else path
            if stem.endswith("/" + module):
                folder = stem[: -len(module) - 1]
                if folder not in folders:
                    folders.append(folder)
    return folders


def module_files(environ, modules: list[str]) -> list[str]:
    """Beside each of ``modules``, the modulefile it is loaded from (``_LMFILES_``), or "" when it
    is not loaded (given with --modules): the build a swap must not silently replace."""
    environ = os.environ if environ is None else environ
    files = [f for f in environ.get("_LMFILES_", "").split(":") if f]
    found = dict(zip(loaded(environ), files))
    return [found.get(module, "") for module in modules]
