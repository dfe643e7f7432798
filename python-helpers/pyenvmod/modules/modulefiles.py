"""Write, check and remove the modulefiles of one environment (all formats)."""

import os
from pathlib import Path

from pyenvmod import __version__
from pyenvmod.modules import render, stacking
from pyenvmod.trust import files
from pyenvmod.errors import PyenvmodError
from pyenvmod.records.layout import Layout
from pyenvmod.records.metadata import EnvRecord


TOOLING = ("pip", "setuptools", "wheel")


def activate_scripts(prefix: str) -> list[str]:
    """The environment's etc/conda/activate.d/*.sh, in the order conda runs them."""
    folder = os.path.join(prefix, "etc", "conda", "activate.d")
    return sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".sh")) \
        if os.path.isdir(folder) else []


def _activate_scripts(record) -> list:
    if record.backend != "conda":
        return []
    return activate_scripts(record.prefix)


def context(record: EnvRecord, modules_dir: Path | None = None, options: dict | None = None) -> dict:
    """What templates may use. Every value is plain data; templates quote them.

    ``options`` come from configuration: ``dependencies`` (load | require | none) and
    ``environment`` (variables every modulefile sets)."""
    options = options or {}
    return {
        "name": record.name,
        "module": record.module,
        "tag": record.tag,
        "description": record.description,
        "python": record.python,
        "python_mm": ".".join(record.python.split(".")[:2]),
        "site_packages": str(stacking.site_packages(record.prefix, record.python)),
        "backend": record.backend,
        "created": record.created,
        "owner": record.owner,
        "prefix": record.prefix,
        "platform": record.platform,
        "extends": record.extends,
        "modules": list(record.modules),
        # (module, the modulefile it was loaded from at create time): checked after a swap
        "built_with": [(m, f) for m, f in zip(record.modules, record.module_files) if f],
        # installed distributions as NAME/VERSION, for Lmod's extensions() (module spider)
        "extensions": [f"{n}/{v}" for n, v in sorted(record.packages.items()) if n not in TOOLING],
        "dependencies": options.get("dependencies", "load"),
        "environment": {k: str(v) for k, v in sorted((options.get("environment") or {}).items())},
        "modules_dir": str(modules_dir) if modules_dir else "",
        # launchers written by 'pyenvmod pack' (ROOT/<arch>/images/NAME/bin), first on PATH
        "stage_bin": str(Path(modules_dir).parent / "images" / record.name / "bin") if modules_dir else "",
        # a conda environment: its etc/conda/activate.d scripts, applied on load and reversed on unload
        "conda": record.backend == "conda",
        "activate_scripts": _activate_scripts(record),
        "pyenvmod_version": __version__,
        "deleted": False,  # True in a tombstone (see tombstones.py): unload only
    }


def options_from(config) -> dict:
    return {"dependencies": config["dependencies"], "environment": config["environment"],
            "templates": config["templates"], "formats": config["formats"], "stage_dir": config["stage_dir"]}


def _formats(options) -> list:
    return list((options or {}).get("formats") or ["lua", "tcl"])


def _selected(options) -> dict:
    """{file key: (template, module format or None for an activation script)} of every selected format."""
    selected = _formats(options)
    found = {name: (fmt.template, fmt) for name, fmt in render.FORMATS.items() if name in selected}
    found.update({key: (template, None) for key, (fmt, template, _file) in render.SCRIPTS.items() if fmt in selected})
    return found


def paths(layout: Layout, record: EnvRecord, options: dict | None = None) -> dict[str, Path]:
    """Where each selected format of the environment goes."""
    out = {}
    for key, (_template, fmt) in _selected(options).items():
        if fmt is not None:  # a modulefile: TAG.lua or TAG
            out[key] = layout.module_dir(record.name) / fmt.filename(record.tag)
        else:  # an activation script
            out[key] = layout.activate_dir(record.name) / render.SCRIPTS[key][2]
    return out


def layout_context(layout: Layout, record: EnvRecord, options: dict | None = None) -> dict:
    """``context`` plus what the activation scripts need: the variables they save and restore."""
    ctx = context(record, layout.modules_dir, options)
    ctx["variables"] = ["PATH", "VIRTUAL_ENV", "PYTHONNOUSERSITE", "PYENVMOD_SITE_PATH", "PYENVMOD_LOADED",
                        *ctx["environment"]]
    ctx["loaded"] = f"{record.name}@{ctx['python_mm']}"
    ctx["activate_dir"] = str(layout.activate_dir(record.name))
    return ctx


def prepare(options: dict | None = None):
    """The templates' environment with every template ``write`` needs compiled (or read from Jinja2's
    cache): done in the background while uv works (see background.later)."""
    return render.prepared([template for template, _fmt in _selected(options).values()],
                           (options or {}).get("templates", ()))


def write(layout: Layout, record: EnvRecord, options: dict | None = None, env=None) -> list[Path]:
    """Render every selected format (modulefiles and activation scripts), then write each
    atomically; files of formats no longer selected are removed. ``env``: from ``prepare``.
    The operations call it through ``operations.common.write_modulefiles``, which writes the stage
    launchers these files put on PATH too."""
    env = env or render.environment((options or {}).get("templates", ()))
    ctx = layout_context(layout, record, options)
    targets = paths(layout, record, options)
    selected = _selected(options)
    texts = {name: render.render_template(selected[name][0], ctx, env) for name in targets}
    for folder in (layout.module_dir(record.name), layout.activate_dir(record.name)):
        keep = {p for p in targets.values() if p.parent == folder}
        if not keep:  # no format of this kind selected: none of its files may stay
            files.remove_inside(folder, layout.root)
            continue
        files.make_dirs(layout.root, folder)  # refusing a symlinked folder on the way
        for path in folder.iterdir():
            if path not in keep:
                files.remove_inside(path, layout.root)
    for name, path in targets.items():
        if not files.holds(path, texts[name], inside=layout.root):  # unchanged files keep their time
            files.write_atomic(path, texts[name], inside=layout.root)
    return list(targets.values())


def problems(layout: Layout, record: EnvRecord, options: dict | None = None) -> list[str]:
    """What is wrong with the modulefiles: missing, or not pointing at the environment."""
    found = []
    for name, path in paths(layout, record, options).items():
        if name not in render.FORMATS:
            continue
        fmt = render.FORMATS[name]
        try:  # a regular file only (a FIFO would hang 'list'), never through a symlinked folder
            text = files.read_bytes(path, 1 << 20, inside=layout.root).decode("utf-8", "replace")
        except (OSError, PyenvmodError):
            found.append(f"{fmt.name} modulefile missing")
            continue
        if fmt.quote(record.prefix) not in text:
            found.append(f"{fmt.name} modulefile does not point at {record.prefix}")
    return found


TREE_MARKER = "pyenvmod-tree.conf"


def write_tree_marker(layout: Layout, owner: str) -> Path:
    """The marker beside ``modules/`` that the Lmod hooks read (platform, owner); kept once written."""
    path = layout.base / TREE_MARKER
    if not os.path.lexists(path):
        context = {"platform": layout.platform, "owner": owner}
        files.write_atomic(path, render.render_template("pyenvmod-tree.conf.j2", context), inside=layout.root)
    return path


def remove(layout: Layout, name: str) -> bool:
    """Remove the environment's modulefiles and activation scripts."""
    scripts = files.remove_inside(layout.activate_dir(name), layout.root)
    return files.remove_inside(layout.module_dir(name), layout.root) or scripts
