"""The doctor's environments check: each environment's record, folder, interpreter and modulefiles (listing.entries)."""

import os
import shlex

from pyenvmod.modules import modulefiles
from pyenvmod.operations import listing
from pyenvmod.operations.common import write_modulefiles
from pyenvmod.operations.doctor.finding import Check, Finding


def check(ctx):
    out = []
    for entry in ctx.entries:
        if ctx.name and entry.name != ctx.name:
            continue
        record = entry.record
        if entry.state == "incomplete":
            out.append(Finding("environments", "error", f"{entry.name}: {entry.problems[0]}",
                               f"pyenvmod delete {shlex.quote(entry.name)}; --fix removes it",
                               repair=lambda n=entry.name: _remove_leftover(ctx, n),
                               repair_says=f"remove the leftover of {entry.name!r}"))
            continue
        if record is None:
            out += [Finding("environments", "error", f"{entry.name}: {p}",
                            listing.fix_for(entry.name, p)) for p in entry.problems]
            continue
        module_problems = [p for p in entry.problems if p.kind == listing.MODULEFILES]
        other_problems = [p for p in entry.problems if p.kind != listing.MODULEFILES]
        if module_problems and os.path.isdir(record.prefix) and not other_problems:
            out.append(Finding("modulefiles", "error", f"{entry.name}: {'; '.join(module_problems)}",
                               f"pyenvmod module {shlex.quote(entry.name)}; --fix does it",
                               repair=lambda r=record: _regenerate(ctx, r),
                               repair_says=f"write the modulefiles of {entry.name!r} again"))
        gone = not os.path.isdir(record.prefix) or any(p.kind == listing.INTERPRETER for p in other_problems)
        for problem in other_problems:
            if gone and problem.kind in (listing.INTERPRETER, listing.FOLDER):
                out.append(Finding("environments", "error", f"{entry.name}: {problem}",
                                   f"recreate it from an export (pyenvmod create {shlex.quote(entry.name)} --file "
                                   f"...), or pyenvmod delete {shlex.quote(entry.name)}; --fix removes its "
                                   "modulefiles so no module "
                                   "points at nothing",
                                   repair=lambda n=entry.name: _remove_modulefiles(ctx, n),
                                   repair_says=f"remove the modulefiles of {entry.name!r}"))
            else:
                out.append(Finding("environments", "warning", f"{entry.name}: {problem}", "see the message"))
    return out


def _remove_leftover(ctx, name):
    from pyenvmod.operations.delete import delete

    delete(ctx.config, name)
    return f"removed the leftover of {name!r}"


def _regenerate(ctx, record):
    write_modulefiles(ctx.layout, record, modulefiles.options_from(ctx.config))
    return f"wrote the modulefiles of {record.name!r}"


def _remove_modulefiles(ctx, name):
    modulefiles.remove(ctx.layout, name)
    return f"removed the modulefiles of {name!r}"


CHECK = Check("environments", 70, "environments", looks_at="each environment's record, folder, interpreter and modulefiles (listing.entries)",
              finding="a leftover, a broken record, missing modulefiles or a missing environment", fix="delete the leftover, write the modulefiles again, or remove the modulefiles of what is gone (--fix does each)")
