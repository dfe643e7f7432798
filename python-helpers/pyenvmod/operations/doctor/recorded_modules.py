"""The doctor's recorded modules check: the modules each environment recorded at create time."""

import os

from pyenvmod.operations.doctor.finding import Check, Finding


def check(ctx):
    out = []
    for entry in ctx.entries:
        record = entry.record
        if record is None or not record.modules or (ctx.name and entry.name != ctx.name):
            continue
        paths = record.module_paths or [p for p in ctx.environ.get("MODULEPATH", "").split(":") if p]
        for module in record.modules:
            if not any(os.path.exists(os.path.join(p, module)) or os.path.exists(os.path.join(p, module + ".lua"))
                       for p in paths):
                out.append(Finding("modules", "error",
                                   f"{entry.name}: its recorded module {module} no longer exists "
                                   f"(looked in {', '.join(paths) or 'MODULEPATH'})",
                                   f"recreate the environment with today's modules (pyenvmod export {entry.name}, "
                                   "edit the modules, pyenvmod create --file)"))
    return out


CHECK = Check("recorded-modules", 140, "environments", looks_at="the modules each environment recorded at create time",
              finding="a recorded module that no longer exists", fix="recreate the environment with today's modules")
