"""The doctor's user site check: ~/.local/lib/python*/site-packages while PYTHONNOUSERSITE is unset."""

import glob
import os

from pyenvmod.operations.doctor.finding import Finding

NAME = "user-site"
LOOKS_AT = "~/.local/lib/python*/site-packages while PYTHONNOUSERSITE is unset"
FINDING = "packages there shadow those of every environment"
FIX = "move them into an environment, or export PYTHONNOUSERSITE=1"
ORDER = 10
GLOBAL = True  # checks the user's set-up: skipped by 'doctor NAME'


def check(ctx):
    if ctx.environ.get("PYTHONNOUSERSITE"):
        return []
    found = [p for p in glob.glob(str(ctx.home / ".local/lib/python*/site-packages"))
             if any(n.endswith((".dist-info", ".egg-info")) for n in os.listdir(p))]
    return [Finding("user-site", "warning",
                    f"packages in {p} shadow those of any environment while PYTHONNOUSERSITE is unset",
                    "move them into an environment (pip uninstall --user ...), or export PYTHONNOUSERSITE=1")
            for p in found]
