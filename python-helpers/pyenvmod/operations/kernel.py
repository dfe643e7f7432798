"""Jupyter kernels for environments: a kernelspec (kernel.json + launcher) per environment.

The launcher reproduces the module environment (see the template), so a kernel started
by JupyterHub sees what `module load pyenv/NAME` gives in a shell.
"""

import json
import os
import shlex
import stat
from pathlib import Path

from pyenvmod.modules import module_system, render, stacking
from pyenvmod.records import registry
from pyenvmod.trust import files
from pyenvmod.records.names import kernel_name
from pyenvmod.config import Config
from pyenvmod.errors import PyenvmodError
from pyenvmod.operations.common import backend_for, find_base, load_record, tree_for


def jupyter_data_dir() -> Path:
    """Where Jupyter looks for the user's kernels (as jupyter_core decides on Linux)."""
    if os.environ.get("JUPYTER_DATA_DIR"):
        return Path(os.environ["JUPYTER_DATA_DIR"])
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(base) / "jupyter"


def _module_init() -> str:
    """The bash set-up of the module system pyenvmod runs under, if any."""
    system = module_system.current()
    if isinstance(system, module_system.Lmod):
        candidates = [os.path.join(os.environ.get("LMOD_PKG", ""), "init", "bash"),
                      os.path.join(os.path.dirname(os.path.dirname(system.command[0])), "init", "bash")]
    elif isinstance(system, module_system.EnvironmentModules):
        candidates = [os.path.join(os.environ.get("MODULESHOME", ""), "init", "bash")]
    else:
        candidates = []
    # an absolute path only: without LMOD_PKG or MODULESHOME the join gives 'init/bash' of the current folder
    return next((c for c in candidates if os.path.isabs(c) and os.path.isfile(c)), "")


def _is_ours(folder: Path, prefix: str) -> bool:
    """The kernelspec names this environment (read as a regular file only: a FIFO never hangs)."""
    try:
        spec = json.loads(files.read_bytes(folder / "kernel.json", 1 << 20))
        return spec["metadata"]["pyenvmod"]["prefix"] == prefix
    except (OSError, ValueError, KeyError, TypeError, RecursionError, PyenvmodError):
        return False


def _home_mode(mode: int) -> int:
    """Files under $HOME follow the user's umask, never a group tree's (--group sets 002): no
    group or world write."""
    return mode & ~(files.umask() | 0o022)


def _make_home_dirs(folder: Path) -> None:
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(mode=0o700)
        os.chmod(path, _home_mode(0o755))


def install(config: Config, name: str, with_=(), prefix_dir: str | None = None, display_name: str | None = None,
            notify=lambda m: None) -> Path:
    tree = tree_for(config)
    layout = tree.layout
    load_record(layout, name)
    others = [find_base(layout, other) for other in with_]
    with tree.lock(name, config["lock_timeout"]):
        record = load_record(layout, name)
        backend = backend_for(config, record.backend, record.channels)
        mm = ".".join(record.python.split(".")[:2])
        for other, _ in others:
            if ".".join(other.python.split(".")[:2]) != mm:
                raise PyenvmodError(f"--with {other.name}: it uses Python {other.python}, {name!r} uses "
                                    f"{record.python}; a kernel can only stack environments of one Python version")
        if not (stacking.site_packages(record.prefix, record.python) / "ipykernel").is_dir():
            if record.adopted:
                raise PyenvmodError(f"{name!r} was adopted and pyenvmod does not change it: install ipykernel "
                                    f"into {record.prefix} yourself, then run 'pyenvmod kernel {name}' again")
            notify(f"installing ipykernel into {name!r}")
            backend.install(record.prefix, ["ipykernel"], layered=bool(record.extends))
            files.no_world_write(record.prefix, inside=files.below(record.prefix, layout.root))
        base = Path(prefix_dir) / "share" / "jupyter" if prefix_dir else jupyter_data_dir()
        folder = base / "kernels" / kernel_name(name)
        if folder.exists() and not _is_ours(folder, record.prefix):
            raise PyenvmodError(f"{folder} exists and is not this environment's kernel; remove it or use --prefix")
        _make_home_dirs(folder)
        envs = [(o, mdir) for o, mdir in others] + [(record, layout.modules_dir)]
        context = {
            "name": record.name,
            "prefix": record.prefix,
            "module_init": _module_init(),
            "use_paths": list(dict.fromkeys([*record.module_paths, *(str(m) for _, m in envs)])),
            "loads": [e.module for e, _ in envs],
            "stack": [{"prefix": e.prefix, "site": str(stacking.site_packages(e.prefix, e.python)),
                       "loaded": f"{e.name}@{mm}"} for e, _ in envs],
            "environment": {k: str(v) for k, v in sorted(config["environment"].items())},
            "launcher": str(folder / "launcher"),
            "display_name": display_name or config["kernel_display_name"].replace("{name}", record.name),
            "with_names": [o.name for o, _ in others],
            "pyenvmod_version": record.pyenvmod_version,
        }
        env = render.environment(config["templates"])
        files.write_atomic(folder / "launcher", render.render_template("kernel-launcher.sh.j2", context, env),
                           mode=_home_mode(0o755))
        files.write_atomic(folder / "kernel.json", render.render_template("kernel.json.j2", context, env),
                           mode=_home_mode(0o644))
        if str(folder) not in record.kernels:
            record.kernels.append(str(folder))
            registry.write(tree, record)
    return folder


def remove_kernels(record) -> list[str]:
    """Remove the kernelspec folders written for ``record`` (only those that are verifiably its own)."""
    removed = []
    for path in record.kernels:
        folder = Path(path)
        try:
            st = os.lstat(folder)
        except OSError:
            continue
        # only a real folder of ours (not a colleague's kernel listed in a group record), named for it
        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and folder.name == kernel_name(record.name) \
                and _is_ours(folder, record.prefix):
            files.remove_inside(folder, folder.parent)
            removed.append(path)
    return removed


def remove(config: Config, name: str) -> list[str]:
    tree = tree_for(config)
    load_record(tree.layout, name)
    with tree.lock(name, config["lock_timeout"]):
        record = load_record(tree.layout, name)
        if not record.kernels:
            raise PyenvmodError(f"{name!r} has no kernel; make one with 'pyenvmod kernel {shlex.quote(name)}'")
        removed = remove_kernels(record)
        record.kernels = []
        registry.write(tree, record)
    return removed


def health(record) -> list[str]:
    """Problems of the environment's kernels (empty when each starts its environment)."""
    problems = []
    for path in record.kernels:
        folder = Path(path)
        if not os.path.isfile(folder / "kernel.json") or os.path.islink(folder / "kernel.json"):
            problems.append(f"kernel {folder} is missing")
        elif not _is_ours(folder, record.prefix) or not os.access(folder / "launcher", os.X_OK):
            problems.append(f"kernel {folder} does not start this environment; "
                            f"run 'pyenvmod kernel {shlex.quote(record.name)}'")
    return problems
