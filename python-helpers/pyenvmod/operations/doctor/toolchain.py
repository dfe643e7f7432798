"""The doctor's checks for environments built on the site's Python stack (issue 26):

- a package installed in the environment that a recorded module's package hides (the module puts
  it on PYTHONPATH, which comes first on sys.path: the environment's copy is never imported);
- a loaded compiler other than the one the environment's Python module was built with (its
  toolchain: EasyBuild's ``-GCCcore-13.2.0`` suffix, or a recorded compiler module): extensions
  built now would link another compiler's libstdc++ than Python's.
"""

import re

from pyenvmod.modules import capture
from pyenvmod.operations.doctor.finding import Check

# compiler module names (lower case) and the family they belong to: GCC 13.2.0 includes GCCcore 13.2.0
COMPILERS = {"gcccore": "gcc", "gcc": "gcc", "intel-compilers": "intel", "intel": "intel", "iccifort": "intel",
             "clang": "llvm", "llvm": "llvm", "nvhpc": "nvhpc", "aocc": "aocc", "oneapi": "intel"}
_SUFFIX = re.compile(r"-(GCCcore|GCC|intel-compilers|iccifort|NVHPC|AOCC)-(\d[\w.]*)$")


def toolchain(modules, python_names) -> dict:
    """{compiler family: NAME/VERSION} an environment's Python was built with: the suffix of its
    recorded Python module, else its recorded compiler modules."""
    found = {}
    for module in modules:
        family, _, version = module.rpartition("/")
        match = _SUFFIX.search(version) if family in python_names else None
        if match:
            found.setdefault(COMPILERS[match.group(1).lower()], f"{match.group(1)}/{match.group(2)}")
    for module in modules:
        family = module.rpartition("/")[0].lower()
        if family in COMPILERS and "/" in module:
            found.setdefault(COMPILERS[family], module)
    return found


def _version(module: str) -> str:
    return module.rpartition("/")[2].split("-")[0]


def check(ctx):
    from pyenvmod.operations.doctor.finding import Finding

    loaded = capture.loaded(ctx.environ)
    loaded_compilers = [(COMPILERS[m.rpartition("/")[0].lower()], m) for m in loaded
                        if "/" in m and m.rpartition("/")[0].lower() in COMPILERS]
    if not loaded_compilers:
        return []
    # 'doctor NAME' checks that environment; plain 'doctor' the loaded ones only: a compiler loaded for
    # other work says nothing about an environment that is not in use.
    from pyenvmod.modules import loaded as loaded_envs

    wanted = {ctx.name} if ctx.name else set(loaded_envs.loaded_names(ctx.layout, ctx.environ))
    out = []
    for entry in ctx.entries:
        record = entry.record
        if record is None or not record.modules or entry.name not in wanted:
            continue
        if not any(m.rpartition("/")[0] in ctx.config["python_modules"] for m in record.modules):
            continue  # its Python is not a module's: the loaded-builds check compares its compilers
        built_with = toolchain(record.modules, ctx.config["python_modules"])
        for family, module in loaded_compilers:
            recorded = built_with.get(family)
            if recorded and _version(recorded) != _version(module) and module not in record.modules:
                out.append(Finding("toolchain", "warning",
                                   f"{entry.name}: {module} is loaded, but its Python was built with {recorded}: "
                                   "extensions built now link another compiler's libstdc++ than Python's",
                                   f"module unload {module}; module load {recorded} (or pyenv/{entry.name}, which "
                                   "loads it) before building packages into it"))
    return out


CHECK = Check("toolchain", 170, "environments", looks_at="the compilers loaded now against the toolchain a loaded environment's Python module was built with",
              finding="a compiler other than Python's: extensions built now would link another libstdc++", fix="load the recorded compiler (or the environment's module) before building into it")
