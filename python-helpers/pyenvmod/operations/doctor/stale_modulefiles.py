"""The doctor's stale modulefiles check: the module folders of the tree (pyenv/NAME)."""

from pyenvmod.modules import tombstones
from pyenvmod.trust import files
from pyenvmod.operations.doctor.finding import Check, Finding


def check(ctx):
    """Module folders under the tree with no environment behind them."""
    out = []
    family = ctx.layout.modules_dir / "pyenv"
    if not family.is_dir():
        return out
    for folder in sorted(family.iterdir()):
        if ctx.name and folder.name != ctx.name:
            continue
        if tombstones.is_tombstone(ctx.layout, folder.name):
            continue  # check_loaded_deleted and check_tombstones look after those
        if not ctx.layout.meta_file(folder.name).exists() and not ctx.layout.prefix(folder.name).exists():
            out.append(Finding("modulefiles", "error",
                               f"modulefiles {folder} point at an environment that does not exist",
                               "--fix removes them",
                               repair=lambda f=folder: (files.remove_inside(f, ctx.layout.root), f"removed {f}")[1],
                               repair_says=f"remove {folder}"))
    return out


CHECK = Check("stale-modulefiles", 80, "environments", looks_at="the module folders of the tree (pyenv/NAME)",
              finding="modulefiles with no environment behind them", fix="--fix removes them")
