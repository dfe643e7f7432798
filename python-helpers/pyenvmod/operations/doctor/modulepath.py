"""The doctor's modulepath check: MODULEPATH."""

import os

from pyenvmod.operations.doctor.finding import Check, Finding


def check(ctx):
    tree = str(ctx.layout.modules_dir)
    entries = [os.path.realpath(p) for p in ctx.environ.get("MODULEPATH", "").split(":") if p]
    if ctx.layout.modules_dir.is_dir() and os.path.realpath(tree) not in entries:
        return [Finding("modulepath", "warning", f"the module tree {tree} is not on MODULEPATH: "
                        "'module load pyenv/...' will not find your environments",
                        "module use $(pyenvmod modulepath)   (add it to your shell start-up file)")]
    return []


CHECK = Check("modulepath", 120, "user", looks_at="MODULEPATH",
              finding="the tree's module folder missing from it", fix="module use $(pyenvmod modulepath)")
