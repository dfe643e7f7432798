"""The troubleshooter: finds the Python breakages support staff see most, explains each in one
line with its fix, and (with --fix) repairs the safe, reversible ones.

Each check is one module of this package (a registry: adding a check is adding a module) with
``check(ctx)``, which returns ``finding.Finding``s, and ``CHECK = finding.Check(...)``: its name,
its order, its scope (``"user"``: the user's set-up, which ``doctor NAME`` skips), what it looks
at, its finding and its fix. The checks may use ``common``, ``finding``, the operations below
the doctor and the lower packages; they never import this module, which finds them.
"""

import importlib
import os
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path

from pyenvmod.config import Config
from pyenvmod.errors import PyenvmodError
from pyenvmod.operations import listing
from pyenvmod.operations.common import layout_for
from pyenvmod.operations.doctor.finding import Finding


@dataclass
class Context:
    config: Config
    layout: object
    home: Path
    environ: dict
    name: str | None  # only this environment's checks, when given
    entries: list = field(default_factory=list)  # the environments, listed once for all checks


def checks() -> list:
    """The check modules of this package, in the order they are shown."""
    found = [importlib.import_module(f"{__name__}.{m.name}") for m in pkgutil.iter_modules(__path__)]
    return sorted((m for m in found if hasattr(m, "CHECK")), key=lambda m: m.CHECK.order)


def run(config: Config, name: str | None = None, environ=None) -> list[Finding]:
    environ = dict(os.environ if environ is None else environ)
    layout = layout_for(config)
    if name:
        from pyenvmod.operations.common import load_record

        try:
            load_record(layout, name)
        except PyenvmodError:
            if not layout.prefix(name).exists() and not layout.module_dir(name).exists():
                raise
    ctx = Context(config, layout, Path(os.path.expanduser("~")), environ, name, listing.entries(config))
    findings = []
    for check in checks():
        if name and check.CHECK.scope == "user":
            continue
        findings += check.check(ctx)
    return findings

