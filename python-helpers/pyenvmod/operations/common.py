"""What every operation needs: the layout for this node, and an environment's record."""

import os
from pathlib import Path

from pyenvmod.records import metadata, names, platform_tag
from pyenvmod.config import Config
from pyenvmod.errors import PyenvmodError
from pyenvmod.records.layout import Layout


def layout_for(config: Config) -> Layout:
    return Layout(config.root, platform_tag.current())


def tree_for(config: Config):
    """The tree this command works in: every path and file goes through it (see tree.py)."""
    from pyenvmod.trust.tree import Tree

    return Tree(layout_for(config), bool(config.group))


def write_modulefiles(layout: Layout, record: metadata.EnvRecord, options: dict, env=None) -> list[Path]:
    """The environment's modulefiles and activation scripts (``modules.modulefiles.write``, ``env`` from
    its ``prepare``), then the stage launchers they put first on PATH (``staging.launchers``, which says
    why every write of the modulefiles writes them too). Returns the modulefiles' paths."""
    from pyenvmod.modules import modulefiles
    from pyenvmod.staging import launchers

    written = modulefiles.write(layout, record, options, env)
    launchers.write(layout, record, options.get("stage_dir"))
    return written


def load_record(layout: Layout, name: str) -> metadata.EnvRecord:
    """The checked record of ``name`` (schema and paths, see ``records.registry.check``)."""
    from pyenvmod.records import registry
    from pyenvmod.trust.tree import Tree

    names.validate(name)
    try:
        return registry.record(Tree(layout), name)
    except FileNotFoundError:
        raise unknown_name(layout, name) from None


def unknown_name(layout: Layout, name: str) -> PyenvmodError:
    """The error for a name with no environment, with a "did you mean" from the existing names."""
    import difflib

    existing = {n.lower(): n for n in layout.names()}  # MyLab finds mylab
    close = [existing[c] for c in difflib.get_close_matches(name.lower(), list(existing), n=3, cutoff=0.6)]
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return PyenvmodError(f"no environment named {name!r} under {layout.base}; {hint}see 'pyenvmod list'")


def find_base(layout: Layout, spec: str) -> tuple[metadata.EnvRecord, Path]:
    """The environment another one extends: a name in this root, or the prefix folder of an
    environment pyenvmod made elsewhere (a group's or a site's). Returns (record, its modules dir),
    both checked: the record's prefix is the folder given, the modules dir that tree's."""
    from pyenvmod.records import registry

    if "/" in spec:
        prefix = Path(os.path.normpath(os.path.abspath(spec)))
        try:
            tree = registry.tree_of_prefix(prefix)
        except PyenvmodError as exc:
            raise PyenvmodError(f"--extends {spec}: not an environment made by pyenvmod ({exc.message}); "
                                "give the name of one of your environments "
                                "or the folder of a pyenvmod environment") from None
        meta = tree.layout.meta_file(prefix.name)
        try:
            record = registry.record(tree, prefix.name)
        except FileNotFoundError:
            raise PyenvmodError(f"--extends {spec}: not an environment made by pyenvmod (no {meta}); "
                                "give the name of one of your environments or the folder of a pyenvmod "
                                "environment") from None
        if record.adopted:
            raise PyenvmodError(f"--extends {spec}: an adopted environment cannot be a base; give one "
                                "pyenvmod created")
        modules_dir = tree.layout.modules_dir
    else:
        record = load_record(layout, spec)
        modules_dir = layout.modules_dir
    if record.platform != layout.platform:
        raise PyenvmodError(f"--extends {spec}: it was built for {record.platform}, this node is {layout.platform}")
    if not os.path.isfile(os.path.join(record.prefix, "bin", "python")):
        raise PyenvmodError(f"--extends {spec}: its environment at {record.prefix} is missing or broken")
    return record, modules_dir


def backend_for(config: Config, name: str, channels=()):
    """A backend whose helpers use the configured caches (caches filling home quotas are a top ticket)."""
    from pyenvmod import backends
    from pyenvmod.packages import sources

    env = sources.helper_env(config, os.environ)
    if config.group:
        env["UV_LINK_MODE"] = "copy"  # hard links to the user's cache would keep its owner and group
    if config["cache_dir"]:
        env["UV_CACHE_DIR"] = os.path.join(config["cache_dir"], "uv")
        env["PIP_CACHE_DIR"] = os.path.join(config["cache_dir"], "pip")
    if name == "conda":
        condarc = read_condarc()
        pkgs = os.path.join(config["cache_dir"], "conda-pkgs") if config["cache_dir"] else \
            (condarc.get("pkgs_dirs") or [None])[0]
        priority = config["channel_priority"] if config.origins["channel_priority"] != "default" else \
            {"strict": "strict", "disabled": "disabled"}.get(str(condarc.get("channel_priority")), "strict")
        return backends.get(name, env, channels=list(channels) or config["channels"] or condarc.get("channels") or [],
                            channel_priority=priority, pkgs_dir=pkgs)
    return backends.get(name, env)


def tree_group(config: Config, layout: Layout) -> int | None:
    """The group a group tree's files belong to (its root's); None for a user's own tree."""
    return layout.root.stat().st_gid if config.group else None


def share(config: Config, layout: Layout, path) -> None:
    """In a group tree, hand what this command made in ``path`` over to the tree's group."""
    gid = tree_group(config, layout)
    if gid is not None:
        from pyenvmod.trust import files

        files.share_with_group(path, gid, inside=files.below(path, layout.root))


def read_condarc() -> dict:
    """conda's own settings ($CONDARC, else ~/.condarc): channels, channel_priority, pkgs_dirs,
    used by the conda backend where pyenvmod's configuration does not say."""
    import yaml

    from pyenvmod import yaml_files

    path = os.environ.get("CONDARC") or os.path.expanduser("~/.condarc")
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml_files.load(fh.read(1_000_000), path, 10_000) or {}
    except FileNotFoundError:
        return {}
    except (OSError, yaml.YAMLError) as exc:
        raise PyenvmodError(f"cannot read {path}: {exc}; fix it or set CONDARC to another file") from None
    if not isinstance(data, dict):
        raise PyenvmodError(f"{path} is not a mapping of conda settings; fix it or set CONDARC to another file")
    out = {}
    for key in ("channels", "pkgs_dirs"):
        if isinstance(data.get(key), list):
            out[key] = [os.path.expanduser(os.path.expandvars(str(v))) for v in data[key]]
    if "channel_priority" in data:
        out["channel_priority"] = data["channel_priority"]
    return out


def reconcile_now(config, layout, name: str, notify) -> list[str]:
    """For commands that only read an environment (history, export): take its lock and record a change
    made outside pyenvmod, if there is one. Nothing is taken when nothing changed."""
    from pyenvmod.trust import locking
    from pyenvmod.errors import PyenvmodError
    from pyenvmod.packages import outside

    if outside.differences(load_record(layout, name)) is None:
        return []
    try:
        with locking.locked(layout.lock_file(name), config["lock_timeout"], f"environment {name!r}"):
            record = load_record(layout, name)
            backend = backend_for(config, record.backend, record.channels)
            return outside.reconcile(config, layout, record, backend, notify)
    except (OSError, PyenvmodError) as exc:  # a tree we may read but not change: say so, and go on
        notify(f"warning: {name!r} was {outside.SHOWN}, but that could not be recorded: "
               f"{getattr(exc, 'message', None) or exc}")
        return []
