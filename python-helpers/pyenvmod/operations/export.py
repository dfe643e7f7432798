"""Export an environment as a spec that recreates it (pyenvmod create --file, or conda)."""

from datetime import datetime, timezone

from pyenvmod import __version__
from pyenvmod.modules import render
from pyenvmod.packages import requirements
from pyenvmod.config import Config
from pyenvmod.operations.common import backend_for, find_base, layout_for
from pyenvmod.packages.installed import direct_sources, dist_versions, locked_set, pins
from pyenvmod.packages.spec import Spec

TEMPLATES = {"yaml": "export.yml.j2", "requirements": "requirements.txt.j2"}


def live_pins(config: Config, record) -> list[str]:
    """The environment's packages as they are now (a pip install after module load included);
    for a conda environment, the pip-installed ones only."""
    if record.backend == "conda":
        return [f"{n}=={v}" for n, v in dist_versions(record.prefix).items() if n != "pip"]
    backend = backend_for(config, record.backend, record.channels)
    return pins(locked_set(backend, record.prefix), direct_sources(record.prefix, record.python))


def export(config: Config, name: str, fmt: str = "yaml", requested: bool = False, notify=lambda m: None) -> str:
    layout = layout_for(config)
    record, _ = find_base(layout, name)
    context = {
        "name": record.name,
        "python": record.python,
        "python_mm": ".".join(record.python.split(".")[:2]),
        "pip": ([] if record.backend == "conda" else list(record.requested)) if requested
        else live_pins(config, record),
        "channels": list(record.channels) or ["conda-forge"],
        "conda_dependencies": (list(record.requested) if requested else
                               [f"{n}={v}" for n, v in record.packages.items() if n != "python"])
        if record.backend == "conda" else [],
        "requested_only": requested,
        "requested": list(record.requested),
        "modules": list(record.modules),
        "no_binary": list(record.no_binary),
        "backend": record.backend,
        "description": record.description,
        "extends": record.extends["name"] if record.extends else "",
        "created": record.created,
        "updated": record.updated,
        "exported": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "pyenvmod_version": __version__,
    }
    local = requirements.machine_specific(context["pip"])
    if local:  # a folder or file:// URL means the same thing on this machine only
        notify(f"warning: {len(local)} of the exported packages come from this machine's folders or files "
               f"({', '.join(local[:3])}{', ...' if len(local) > 3 else ''}): the file recreates the "
               "environment on machines with the same paths only")
    context["machine_specific"] = len(local)
    return render.render_template(TEMPLATES[fmt], context)


def clone_spec(config: Config, source: str) -> Spec:
    """The locked spec of an existing environment (one's own by name, or a group's by folder)."""
    record, _ = find_base(layout_for(config), source)
    if record.backend == "conda":
        return Spec(source=f"--clone {source}", python=".".join(record.python.split(".")[:2]),
                    conda_only=[f"{n}={v}" for n, v in record.packages.items() if n != "python"],
                    modules=list(record.modules), backend="conda", description=record.description,
                    channels=list(record.channels), requested=list(record.requested))
    return Spec(source=f"--clone {source}", python=".".join(record.python.split(".")[:2]),
                packages=live_pins(config, record), modules=list(record.modules), backend=record.backend,
                description=record.description, no_binary=list(record.no_binary), requested=list(record.requested))
