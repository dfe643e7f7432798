"""The troubleshooter: finds the Python breakages support staff see most, explains each in one
line with its fix, and (with --fix) repairs the safe, reversible ones.

Each check is a function returning findings; ``CHECKS`` lists them in the order shown.
"""

import glob
import os
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pyenvmod.modules import loaded, modulefiles, tombstones
from pyenvmod.trust import files
from pyenvmod.config import Config, default_root, site_file
from pyenvmod.errors import PyenvmodError
from pyenvmod.operations import doctor_modules, doctor_mpi, doctor_shadow, listing
from pyenvmod.operations.common import layout_for
from pyenvmod.operations.findings import Finding

CONDA_BLOCK = ">>> conda initialize >>>"
START_UP_FILES = (".bashrc", ".zshrc", ".tcshrc", ".cshrc", ".bash_profile", ".profile")


@dataclass
class Context:
    config: Config
    layout: object
    home: Path
    environ: dict
    name: str | None  # only this environment's checks, when given
    entries: list = field(default_factory=list)  # the environments, listed once for all checks


def _size(path: Path) -> int:
    return files.tree_size(path)


def _human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _under_home(ctx, path: Path) -> bool:
    home = os.path.realpath(ctx.home)
    return os.path.commonpath([home, os.path.realpath(path)]) == home


def check_user_site(ctx):
    if ctx.environ.get("PYTHONNOUSERSITE"):
        return []
    found = [p for p in glob.glob(str(ctx.home / ".local/lib/python*/site-packages"))
             if any(n.endswith((".dist-info", ".egg-info")) for n in os.listdir(p))]
    return [Finding("user-site", "warning",
                    f"packages in {p} shadow those of any environment while PYTHONNOUSERSITE is unset",
                    "move them into an environment (pip uninstall --user ...), or export PYTHONNOUSERSITE=1")
            for p in found]


def check_caches(ctx):
    from pyenvmod.trust import caches as caches_mod

    env = ctx.environ
    caches = {  # what: (folder, tool, the variable naming it)
        "pip cache": (Path(env.get("PIP_CACHE_DIR") or ctx.home / ".cache" / "pip"), "pip", "PIP_CACHE_DIR"),
        "uv cache": (Path(env.get("UV_CACHE_DIR") or ctx.home / ".cache" / "uv"), "uv", "UV_CACHE_DIR"),
        "conda packages": (ctx.home / ".conda" / "pkgs", "conda", None),
    }
    # The tools' default folders are where a fresh set-up puts them: a note, unless the site chose where
    # caches go (cache_dir in its configuration) or the user pointed a cache into home on purpose.
    site_chose = bool(ctx.config["cache_dir"]) and ctx.config.origins["cache_dir"].startswith(str(site_file()))
    protected = [ctx.layout.root]
    out = []
    for what, (path, tool, var) in caches.items():
        if path.is_dir() and _under_home(ctx, path):
            chosen = bool(var and env.get(var))
            severity = "warning" if chosen or site_chose else "info"
            size = _size(path)
            free = shutil.disk_usage(path).free
            message = (f"{what} in your home directory{'' if chosen else ' (its default place)'}: {path} "
                       f"holds {_human(size)} ({_human(free)} free on that filesystem)")
            where = f"the site keeps caches in {ctx.config['cache_dir']}; " if site_chose else ""
            fix = (f"{where}point it at project or scratch storage (the site's pip.conf, PIP_CACHE_DIR, "
                   "UV_CACHE_DIR, or 'cache_dir' in pyenvmod's configuration)")
            why = caches_mod.refusal(path, tool, home=ctx.home, protected=protected)
            if why:  # only a folder that is provably the tool's cache is ever emptied
                named = f"{var}={env[var]}" if chosen else str(path)
                out.append(Finding("caches", severity, f"{message}; {named} is not a {what} that --fix may "
                                   f"empty: {why}", f"{fix}; give {var or 'it'} a folder of its own"))
                continue
            out.append(Finding("caches", severity, message, fix + "; --fix empties it",
                               repair=lambda p=path, t=tool: caches_mod.empty(p, t, home=ctx.home, protected=protected),
                               repair_says=f"empty the {what} {path}"))
    return out


def check_env_locations(ctx):
    out = []
    if _under_home(ctx, ctx.layout.root):
        # the default root (said once by the first create, or taken by 'init --yes') is a note;
        # another root in home is a warning
        default = os.path.realpath(ctx.layout.root) == os.path.realpath(default_root())
        out.append(Finding("locations", "info" if default else "warning",
                           f"pyenvmod keeps environments in your home directory"
                           f"{' (the default)' if default else ''} ({ctx.layout.root}, "
                           f"{_human(_size(ctx.layout.root)) if ctx.layout.root.exists() else '0 B'})",
                           "set 'root' in ~/.config/pyenvmod/config.yaml or PYENVMOD_ROOT to project storage"))
    conda_envs = ctx.home / ".conda" / "envs"
    if conda_envs.is_dir() and any(conda_envs.iterdir()):
        out.append(Finding("locations", "warning",
                           f"conda environments in your home directory: {conda_envs} ({_human(_size(conda_envs))})",
                           "recreate them with pyenvmod under project storage (conda env export, then "
                           "pyenvmod create NAME --file)"))
    return out


def check_conda_init(ctx):
    out = []
    for name in START_UP_FILES:
        path = ctx.home / name
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if CONDA_BLOCK in text:
            line = text[: text.index(CONDA_BLOCK)].count("\n") + 1
            out.append(Finding("conda-init", "warning",
                               f"{path}:{line} has a 'conda init' block: it activates conda's base in every "
                               "shell and batch job, ahead of your modules",
                               "run 'conda init --reverse', or delete the block between the '>>> conda "
                               "initialize >>>' lines (pyenvmod never edits start-up files)"))
    return out


def check_conda_active(ctx):
    level = ctx.environ.get("CONDA_SHLVL", "0")
    if level.isdigit() and int(level) > 0:
        return [Finding("conda-active", "warning",
                        f"a conda environment is active (CONDA_SHLVL={level}, {ctx.environ.get('CONDA_PREFIX', '?')})",
                        "run 'conda deactivate' before 'module load pyenv/...'")]
    return []


def check_python_vars(ctx):
    return [Finding("python-vars", "warning", f"{var} is set ({ctx.environ[var]}): it overrides what any "
                    "environment provides", f"unset {var} (look for it in your start-up files)")
            for var in ("PYTHONPATH", "PYTHONHOME") if ctx.environ.get(var)]


def check_environments(ctx):
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
                            "repair or delete the metadata file") for p in entry.problems]
            continue
        module_problems = [p for p in entry.problems if "modulefile" in p]
        other_problems = [p for p in entry.problems if "modulefile" not in p]
        if module_problems and os.path.isdir(record.prefix) and not other_problems:
            out.append(Finding("modulefiles", "error", f"{entry.name}: {'; '.join(module_problems)}",
                               f"pyenvmod module {shlex.quote(entry.name)}; --fix does it",
                               repair=lambda r=record: _regenerate(ctx, r),
                               repair_says=f"write the modulefiles of {entry.name!r} again"))
        gone = not os.path.isdir(record.prefix) or any("interpreter" in p for p in other_problems)
        for problem in other_problems:
            if gone and ("interpreter" in problem or "is missing" in problem):
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


def check_stale_modulefiles(ctx):
    """Module folders under the tree with no environment behind them."""
    out = []
    family = ctx.layout.modules_dir / "pyenv"
    if not family.is_dir():
        return out
    for folder in sorted(family.iterdir()):
        if ctx.name and folder.name != ctx.name:
            continue
        if tombstones.is_tombstone(ctx.layout, folder.name):
            continue  # check_loaded_deleted and check_tombstones look after those
        if not ctx.layout.meta_file(folder.name).exists() and not ctx.layout.prefix(folder.name).exists():
            out.append(Finding("modulefiles", "error",
                               f"modulefiles {folder} point at an environment that does not exist",
                               "--fix removes them",
                               repair=lambda f=folder: (files.remove_inside(f, ctx.layout.root), f"removed {f}")[1],
                               repair_says=f"remove {folder}"))
    return out


def check_loaded_deleted(ctx):
    """Modules of this tree loaded in this shell whose environment or modulefile is gone."""
    out = []
    for path in ctx.environ.get("_LMFILES_", "").split(":"):
        name = loaded.loaded_names(ctx.layout, {"_LMFILES_": path})
        if not name or (ctx.name and name[0] != ctx.name):
            continue
        name, tag = name[0], Path(path).name.removesuffix(".lua")
        module = f"pyenv/{name}/{tag}"
        if not os.path.isfile(path) and ctx.layout.meta_file(name).exists():
            out.append(Finding("loaded", "error", f"{module} is loaded in this shell but its modulefile {path} is gone "
                               f"and {name!r} was created again since", "start a new shell"))
        elif not os.path.isfile(path):
            out.append(Finding("loaded", "error", f"{module} is loaded in this shell but its modulefile {path} is "
                               "gone: 'module unload' cannot restore your environment",
                               f"--fix writes a tombstone modulefile back, then: module unload {module}",
                               repair=lambda n=name, t=tag: _restore_tombstone(ctx, n, t),
                               repair_says=f"write a tombstone modulefile for {module}"))
        elif not ctx.layout.meta_file(name).exists() or not ctx.layout.prefix(name).is_dir():
            out.append(Finding("loaded", "error", f"{module} is loaded in this shell but its environment "
                               f"{ctx.layout.prefix(name)} is gone", f"module unload {module}"))
    return out


def _restore_tombstone(ctx, name, tag):
    tombstones.restore(ctx.layout, name, tag, modulefiles.options_from(ctx.config))
    return f"wrote the tombstone of pyenv/{name}/{tag}"


def check_tombstones(ctx):
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


def check_modulepath(ctx):
    tree = str(ctx.layout.modules_dir)
    entries = [os.path.realpath(p) for p in ctx.environ.get("MODULEPATH", "").split(":") if p]
    if ctx.layout.modules_dir.is_dir() and os.path.realpath(tree) not in entries:
        return [Finding("modulepath", "warning", f"the module tree {tree} is not on MODULEPATH: "
                        "'module load pyenv/...' will not find your environments",
                        "module use $(pyenvmod modulepath)   (add it to your shell start-up file)")]
    return []


def check_permissions(ctx):
    if not ctx.layout.base.is_dir():
        return []
    return [Finding("permissions", "error", f"{path} is world-writable: anyone could change what your modules load",
                    "chmod o-w it; --fix does",
                    repair=lambda p=path, m=mode: (files.drop_world_write(p, m), f"chmod o-w {p}")[1],
                    repair_says=f"chmod o-w {path}")
            for path, mode in files.world_writable(ctx.layout.base)]


def check_recorded_modules(ctx):
    out = []
    for entry in ctx.entries:
        record = entry.record
        if record is None or not record.modules or (ctx.name and entry.name != ctx.name):
            continue
        paths = record.module_paths or [p for p in ctx.environ.get("MODULEPATH", "").split(":") if p]
        for module in record.modules:
            if not any(os.path.exists(os.path.join(p, module)) or os.path.exists(os.path.join(p, module + ".lua"))
                       for p in paths):
                out.append(Finding("modules", "error",
                                   f"{entry.name}: its recorded module {module} no longer exists "
                                   f"(looked in {', '.join(paths) or 'MODULEPATH'})",
                                   f"recreate the environment with today's modules (pyenvmod export {entry.name}, "
                                   "edit the modules, pyenvmod create --file)"))
    return out


def _remove_leftover(ctx, name):
    from pyenvmod.operations.delete import delete

    delete(ctx.config, name)
    return f"removed the leftover of {name!r}"


def _regenerate(ctx, record):
    modulefiles.write(ctx.layout, record, modulefiles.options_from(ctx.config))
    return f"wrote the modulefiles of {record.name!r}"


def _remove_modulefiles(ctx, name):
    modulefiles.remove(ctx.layout, name)
    return f"removed the modulefiles of {name!r}"


CHECKS = (check_user_site, check_caches, check_env_locations, check_conda_init, check_conda_active,
          check_python_vars, check_environments, check_stale_modulefiles, check_loaded_deleted,
          doctor_modules.check_loaded_builds, check_tombstones,
          check_modulepath, check_permissions, check_recorded_modules, doctor_mpi.check_mpi,
          doctor_shadow.check_shadowed, doctor_shadow.check_toolchain)
GLOBAL_ONLY = {check_user_site, check_caches, check_env_locations, check_conda_init, check_conda_active,
               check_python_vars, check_modulepath}


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
    for check in CHECKS:
        if name and check in GLOBAL_ONLY:
            continue
        findings += check(ctx)
    return findings

