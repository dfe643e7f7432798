"""The doctor's permissions check: the modes of the tree's folders and files."""

from pyenvmod.trust import files
from pyenvmod.operations.doctor.finding import Check, Finding


def check(ctx):
    if not ctx.layout.base.is_dir():
        return []
    return [Finding("permissions", "error", f"{path} is world-writable: anyone could change what your modules load",
                    "chmod o-w it; --fix does",
                    repair=lambda p=path, m=mode: (files.drop_world_write(p, m), f"chmod o-w {p}")[1],
                    repair_says=f"chmod o-w {path}")
            for path, mode in files.world_writable(ctx.layout.base)]


CHECK = Check("permissions", 130, "environments", looks_at="the modes of the tree's folders and files",
              finding="something anyone may write", fix="chmod o-w (--fix does)")
