"""Write, check and remove the modulefiles of one environment (all formats)."""

from pathlib import Path

from pyenvmod import __version__, files, render, stacking
from pyenvmod.layout import Layout
from pyenvmod.metadata import EnvRecord


TOOLING = ("pip", "setuptools", "wheel")


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
        # installed distributions as NAME/VERSION, for Lmod's extensions() (module spider)
        "extensions": [f"{n}/{v}" for n, v in sorted(record.packages.items()) if n not in TOOLING],
        "dependencies": options.get("dependencies", "load"),
        "environment": {k: str(v) for k, v in sorted((options.get("environment") or {}).items())},
        "modules_dir": str(modules_dir) if modules_dir else "",
        "pyenvmod_version": __version__,
    }


def paths(layout: Layout, record: EnvRecord) -> dict[str, Path]:
    folder = layout.module_dir(record.name)
    return {name: folder / fmt.filename(record.tag) for name, fmt in render.FORMATS.items()}


def options_from(config) -> dict:
    return {"dependencies": config["dependencies"], "environment": config["environment"],
            "templates": config["templates"]}


def write(layout: Layout, record: EnvRecord, options: dict | None = None) -> list[Path]:
    """Render every format, then write each atomically; stale files of the env are removed."""
    env = render.environment((options or {}).get("templates", ()))
    ctx = context(record, layout.modules_dir, options)
    texts = {name: render.render(fmt, ctx, env) for name, fmt in render.FORMATS.items()}
    targets = paths(layout, record)
    folder = layout.module_dir(record.name)
    folder.mkdir(parents=True, exist_ok=True)
    for name, path in targets.items():
        files.write_atomic(path, texts[name])
    keep = set(targets.values())
    for path in folder.iterdir():
        if path not in keep:
            files.remove_inside(path, layout.root)
    return list(targets.values())


def problems(layout: Layout, record: EnvRecord) -> list[str]:
    """What is wrong with the modulefiles: missing, or not pointing at the environment."""
    found = []
    for name, path in paths(layout, record).items():
        fmt = render.FORMATS[name]
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            found.append(f"{fmt.name} modulefile missing")
            continue
        if fmt.quote(record.prefix) not in text:
            found.append(f"{fmt.name} modulefile does not point at {record.prefix}")
    return found


TREE_MARKER = "pyenvmod-tree.conf"


def write_tree_marker(layout: Layout, owner: str) -> Path:
    """The marker beside ``modules/`` that the Lmod hooks read (platform, owner); kept once written."""
    path = layout.base / TREE_MARKER
    if not path.exists():
        context = {"platform": layout.platform, "owner": owner}
        files.write_atomic(path, render.render_template("pyenvmod-tree.conf.j2", context))
    return path


def remove(layout: Layout, name: str) -> bool:
    return files.remove_inside(layout.module_dir(name), layout.root)
