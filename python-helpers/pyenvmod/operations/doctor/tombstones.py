"""The doctor's tombstones check: the hidden tombstones of deleted environments."""

from pyenvmod.modules import tombstones
from pyenvmod.operations.doctor.finding import Check, Finding


def check(ctx):
    """Tombstones of deleted environments (tombstones.py), which --fix sweeps."""
    family = ctx.layout.modules_dir / "pyenv"
    buried = [f.name for f in sorted(family.iterdir()) if tombstones.is_tombstone(ctx.layout, f.name)
              and not (ctx.name and f.name != ctx.name)] if family.is_dir() else []
    if not buried:
        return []
    return [Finding("tombstones", "info", f"deleted, kept as hidden tombstones while a shell may still have them "
                    f"loaded: {', '.join('pyenv/' + n for n in buried)}",
                    "--fix removes those nothing can have loaded any more",
                    repair=lambda: _sweep_tombstones(ctx),
                    repair_says="remove the tombstones nothing can have loaded any more")]


def _sweep_tombstones(ctx):
    removed = tombstones.sweep(ctx.layout, shared=bool(ctx.config.group))
    return f"removed tombstones: {', '.join(removed) or 'none'}"


CHECK = Check("tombstones", 110, "environments", looks_at="the hidden tombstones of deleted environments",
              finding="tombstones kept while a shell may still have them loaded", fix="--fix removes those nothing can have loaded any more")
