"""The doctor's loaded deleted check: the modules of this tree loaded in this shell (_LMFILES_)."""

import os
from pathlib import Path

from pyenvmod.modules import loaded, modulefiles, tombstones
from pyenvmod.operations.doctor.finding import Check, Finding


def check(ctx):
    """Modules of this tree loaded in this shell whose environment or modulefile is gone."""
    out = []
    for path in ctx.environ.get("_LMFILES_", "").split(":"):
        name = loaded.loaded_names(ctx.layout, {"_LMFILES_": path})
        if not name or (ctx.name and name[0] != ctx.name):
            continue
        name, tag = name[0], Path(path).name.removesuffix(".lua")
        module = f"pyenv/{name}/{tag}"
        if not os.path.isfile(path) and ctx.layout.meta_file(name).exists():
            out.append(Finding("loaded", "error", f"{module} is loaded in this shell but its modulefile {path} is gone "
                               f"and {name!r} was created again since", "start a new shell"))
        elif not os.path.isfile(path):
            out.append(Finding("loaded", "error", f"{module} is loaded in this shell but its modulefile {path} is "
                               "gone: 'module unload' cannot restore your environment",
                               f"--fix writes a tombstone modulefile back, then: module unload {module}",
                               repair=lambda n=name, t=tag: _restore_tombstone(ctx, n, t),
                               repair_says=f"write a tombstone modulefile for {module}"))
        elif not ctx.layout.meta_file(name).exists() or not ctx.layout.prefix(name).is_dir():
            out.append(Finding("loaded", "error", f"{module} is loaded in this shell but its environment "
                               f"{ctx.layout.prefix(name)} is gone", f"module unload {module}"))
    return out


def _restore_tombstone(ctx, name, tag):
    tombstones.restore(ctx.layout, name, tag, modulefiles.options_from(ctx.config))
    return f"wrote the tombstone of pyenv/{name}/{tag}"


CHECK = Check("loaded-deleted", 90, "environments", looks_at="the modules of this tree loaded in this shell (_LMFILES_)",
              finding="a loaded module whose modulefile or environment is gone", fix="--fix writes a tombstone back so 'module unload' works; or start a new shell")
