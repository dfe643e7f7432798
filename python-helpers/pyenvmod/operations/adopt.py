"""Register an environment pyenvmod did not create (a colleague's, a site's, an old one) and write
its modulefiles, without modifying the environment itself (in a group tree, only a marker file naming
the tree and the name goes into a folder of the user's own: see provenance.py). Deleting it later removes only what
pyenvmod wrote (modulefiles, metadata, kernels), never the environment."""

import os
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from pyenvmod import __version__
from pyenvmod.backends import pythons
from pyenvmod.modules import capture, modulefiles
from pyenvmod.records import metadata, names, registry
from pyenvmod.trust.identity import user_name
from pyenvmod.modules import spider_cache
from pyenvmod.config import Config
from pyenvmod.errors import PyenvmodError
from pyenvmod.operations.common import tree_for, write_modulefiles
from pyenvmod.packages.installed import dist_versions

_VERSION = "import sys; print('%d.%d.%d' % sys.version_info[:3])"


def _kind(prefix: Path) -> str:
    if (prefix / "conda-meta").is_dir():
        return "conda"
    cfg = prefix / "pyvenv.cfg"
    if cfg.is_file():
        return "uv" if any(line.startswith("uv") for line in cfg.read_text(errors="replace").splitlines()) else "venv"
    raise PyenvmodError(f"{prefix} is neither a virtual environment (no pyvenv.cfg) nor a conda environment "
                        "(no conda-meta); give the folder that contains bin/python")


def adopt(config: Config, path: str, name: str = "", modules=(), notify=lambda m: None) -> metadata.EnvRecord:
    prefix = Path(os.path.normpath(os.path.abspath(path)))
    python = prefix / "bin" / "python"
    if not os.access(python, os.X_OK):
        raise PyenvmodError(f"no bin/python in {prefix}; give the folder of a venv or conda environment")
    if any(c in str(prefix) for c in ":\n\r"):
        raise PyenvmodError(f"{prefix} contains ':' or a line break, which breaks PATH; it cannot be a module")
    kind = _kind(prefix)
    name = names.validate(name or prefix.name)
    given = [capture.validate(m.strip()) for m in modules if m.strip()]
    tree = tree_for(config)
    layout = tree.layout
    tree.ensure()
    modulefiles.write_tree_marker(layout, user_name())
    if layout.contains(prefix) and prefix.parent == layout.envs_dir:
        raise PyenvmodError(f"{prefix} is already one of pyenvmod's environments")
    result = subprocess.run([str(python), "-I", "-S", "-c", _VERSION], capture_output=True, text=True)
    if result.returncode != 0:
        raise PyenvmodError(f"{python} does not run ({result.stderr.strip()[:200]}); is its base interpreter gone?")
    version = result.stdout.strip()
    base = pythons.probe(str(python))
    if tree.inside(prefix):
        raise PyenvmodError(f"{prefix} lies inside pyenvmod's tree {layout.base}; adopt environments from "
                            "elsewhere")
    with tree.lock(name, config["lock_timeout"]):
        if os.path.lexists(layout.meta_file(name)) or os.path.lexists(layout.prefix(name)):
            raise PyenvmodError(f"an environment named {name!r} already exists; choose another with --name")
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        record = metadata.EnvRecord(
            name=name, prefix=str(prefix), python=version, base_python=base.executable if base else str(python),
            backend=kind, module=layout.module_name(name, layout.module_tag(version)), created=now,
            owner=user_name(), platform=layout.platform, modules=given, adopted=True,
            description=f"adopted from {prefix}", pyenvmod_version=__version__, updated=now,
            packages=_packages(prefix, kind))
        try:
            write_modulefiles(layout, record, modulefiles.options_from(config))
            registry.write(tree, record)
        except BaseException:
            modulefiles.remove(layout, name)
            raise
        if tree.shared:  # a group's record is anyone's word: the folder itself must say it was registered
            _mark(layout, prefix, name, notify)
    spider_cache.refresh(config, layout)
    return record


def _mark(layout, prefix: Path, name: str, notify) -> None:
    """The one file adopt writes into the folder, when it is the user's: the marker naming this tree and
    name (provenance.py), which proves to 'pack' in a group tree that its owner registered it."""
    from pyenvmod.operations import external_prefix

    try:
        if os.lstat(prefix).st_uid == os.getuid():
            external_prefix.mark(layout, prefix, name)
            return
    except OSError:
        pass
    notify(f"{prefix} is not yours: no marker was written in it, so 'pack' of {name!r} in a group tree is "
           "refused until its owner adopts it")


def _packages(prefix: Path, kind: str) -> dict:
    """What is installed, read from the files (the environment is not run or changed)."""
    found = dist_versions(prefix)
    if kind == "conda":
        from pyenvmod.backends.conda import conda_meta_versions

        for name, version in conda_meta_versions(prefix).items():
            found.setdefault(name, version)
    return dict(sorted(found.items()))
