"""What every operation needs: the layout for this node, and an environment's record."""

import os
from pathlib import Path

from pyenvmod import metadata, names, platform_tag
from pyenvmod.config import Config
from pyenvmod.errors import PyenvmodError
from pyenvmod.layout import Layout


def layout_for(config: Config) -> Layout:
    return Layout(config.root, platform_tag.current())


def load_record(layout: Layout, name: str) -> metadata.EnvRecord:
    names.validate(name)
    try:
        return metadata.read(layout.meta_file(name))
    except FileNotFoundError:
        raise PyenvmodError(f"no environment named {name!r} under {layout.base}{did_you_mean(layout, name)}; "
                            "see 'pyenvmod list'") from None


def did_you_mean(layout: Layout, name: str) -> str:
    """A hint naming the closest registered environment, ' (did you mean \'x\'?)', or ''."""
    import difflib

    known = [n for n in layout.names() if layout.meta_file(n).is_file()] if layout.meta_dir.is_dir() else []
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def find_base(layout: Layout, spec: str) -> tuple[metadata.EnvRecord, Path]:
    """The environment another one extends: a name in this root, or the prefix folder of an
    environment pyenvmod made elsewhere (a group's or a site's). Returns (record, its modules dir)."""
    if "/" in spec:
        prefix = Path(os.path.normpath(os.path.abspath(spec)))
        tree = prefix.parent.parent
        meta = tree / "meta" / f"{prefix.name}.json"
        if not meta.is_file():
            raise PyenvmodError(f"--extends {spec}: not an environment made by pyenvmod (no {meta}); "
                                "give the name of one of your environments or the folder of a pyenvmod environment")
        record = metadata.read(meta)
        modules_dir = tree / "modules"
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
    from pyenvmod import backends, sources

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


def share(config: Config, layout: Layout, path) -> None:
    """In a group tree, hand what this command made in ``path`` over to the tree's group."""
    if config.group:
        from pyenvmod import files

        files.share_with_group(path, layout.root.stat().st_gid)


def read_condarc() -> dict:
    """conda's own settings ($CONDARC, else ~/.condarc): channels, channel_priority, pkgs_dirs,
    used by the conda backend where pyenvmod's configuration does not say."""
    import yaml

    path = os.environ.get("CONDARC") or os.path.expanduser("~/.condarc")
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
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
