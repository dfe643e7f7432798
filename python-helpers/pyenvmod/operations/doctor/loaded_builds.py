"""The doctor's check of loaded environments against the modules they were built with.

An environment records, beside each compiler or MPI module loaded at create time, the modulefile
it was loaded from (``module_files``). After ``module swap gcc/12 gcc/13`` Lmod keeps the
environment loaded and reloads ``openmpi/4`` from gcc/13's branch: the names may even stay the
same, the files do not. This check compares the recorded files with the loaded ones
(``LOADEDMODULES`` and ``_LMFILES_``, which both module systems keep side by side).
"""

import os
import shlex

from pyenvmod.modules import loaded
from pyenvmod.operations.doctor.finding import Check


def _family(module: str) -> str | None:
    return module.rsplit("/", 1)[0] if "/" in module else None


def _same_file(a: str, b: str) -> bool:
    return a == b or os.path.realpath(a) == os.path.realpath(b)


def loaded_modules(environ) -> list[tuple[str, str]]:
    """(module, modulefile) of each loaded module, in load order."""
    names = [m for m in environ.get("LOADEDMODULES", "").split(":") if m]
    files = [f for f in environ.get("_LMFILES_", "").split(":") if f]
    return list(zip(names, files))


def mismatches(record, now: list[tuple[str, str]]) -> list[tuple[str, str, str | None, str | None]]:
    """(recorded module, recorded file, loaded module or None, its file or None) for each recorded
    module whose family is not loaded from the recorded file."""
    found = []
    for module, file in zip(record.modules, record.module_files):
        if not file:
            continue  # given with --modules, never loaded at create time: only its name is known
        same = [(m, f) for m, f in now if m == module or (_family(module) and _family(m) == _family(module))]
        if any(m == module and _same_file(f, file) for m, f in same):
            continue
        loaded_module, loaded_file = same[0] if same else (None, None)
        found.append((module, file, loaded_module, loaded_file))
    return found


def check(ctx):
    from pyenvmod.operations.doctor.finding import Finding

    now = loaded_modules(ctx.environ)
    records = {entry.name: entry.record for entry in ctx.entries if entry.record is not None}
    out = []
    for name in loaded.loaded_names(ctx.layout, ctx.environ):
        record = records.get(name)
        if record is None or (ctx.name and name != ctx.name):
            continue
        found = mismatches(record, now)
        if not found:
            continue
        parts, back = [], None
        for module, file, now_module, now_file in found:
            if now_module:
                parts.append(f"{module} ({file}), now {now_module} ({now_file})")
                if back is None and now_module != module:
                    back = f"module swap {shlex.quote(now_module)} {shlex.quote(module)}"
            else:
                parts.append(f"{module} ({file}), now not loaded")
                back = back or f"module load {shlex.quote(module)}"
        unload = f"module unload {shlex.quote(record.module)}"
        out.append(Finding("built-with", "error",
                           f"{record.module} is loaded but was built with other modules than the loaded ones: "
                           f"{'; '.join(parts)}; its compiled packages would run with another compiler or MPI",
                           f"{back + ', or ' if back else ''}{unload}; or create it again with today's modules "
                           f"(pyenvmod export {shlex.quote(name)}, edit the modules, pyenvmod create --file)"))
    return out


CHECK = Check("loaded-builds", 100, "environments", looks_at="the compiler and MPI modules loaded now against those each loaded environment was built with",
              finding="a module swapped for another version since the build", fix="load the modules it was built with, or rebuild it")
