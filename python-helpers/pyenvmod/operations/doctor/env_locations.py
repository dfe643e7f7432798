"""The doctor's env locations check: pyenvmod's root and ~/.conda/envs."""

import os

from pyenvmod.config import default_root
from pyenvmod.operations.doctor import common
from pyenvmod.operations.doctor.finding import Check, Finding


def check(ctx):
    out = []
    if common.under_home(ctx, ctx.layout.root):
        # the default root (said once by the first create, or taken by 'init --yes') is a note;
        # another root in home is a warning
        default = os.path.realpath(ctx.layout.root) == os.path.realpath(default_root())
        out.append(Finding("locations", "info" if default else "warning",
                           f"pyenvmod keeps environments in your home directory"
                           f"{' (the default)' if default else ''} ({ctx.layout.root}, "
                           f"{common.human(common.size(ctx.layout.root)) if ctx.layout.root.exists() else '0 B'})",
                           "set 'root' in ~/.config/pyenvmod/config.yaml or PYENVMOD_ROOT to project storage"))
    conda_envs = ctx.home / ".conda" / "envs"
    if conda_envs.is_dir() and any(conda_envs.iterdir()):
        out.append(Finding("locations", "warning",
                           f"conda environments in your home directory: {conda_envs} ({common.human(common.size(conda_envs))})",
                           "recreate them with pyenvmod under project storage (conda env export, then "
                           "pyenvmod create NAME --file)"))
    return out


CHECK = Check("env-locations", 30, "user", looks_at="pyenvmod's root and ~/.conda/envs",
              finding="environments kept in the home directory", fix="set 'root' (or PYENVMOD_ROOT) to project storage; recreate conda environments with pyenvmod")
