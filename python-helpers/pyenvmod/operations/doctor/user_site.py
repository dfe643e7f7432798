"""The doctor's user site check: ~/.local/lib/python*/site-packages while PYTHONNOUSERSITE is unset."""

import glob
import os

from pyenvmod.operations.doctor.finding import Check, Finding


def check(ctx):
    if ctx.environ.get("PYTHONNOUSERSITE"):
        return []
    found = [p for p in glob.glob(str(ctx.home / ".local/lib/python*/site-packages"))
             if any(n.endswith((".dist-info", ".egg-info")) for n in os.listdir(p))]
    return [Finding("user-site", "warning",
                    f"packages in {p} shadow those of any environment while PYTHONNOUSERSITE is unset",
                    "move them into an environment (pip uninstall --user ...), or export PYTHONNOUSERSITE=1")
            for p in found]


CHECK = Check("user-site", 10, "user", looks_at="~/.local/lib/python*/site-packages while PYTHONNOUSERSITE is unset",
              finding="packages there shadow those of every environment", fix="move them into an environment, or export PYTHONNOUSERSITE=1")
