"""Run a command inside an environment with its recorded modules, as ``module load`` gives them,
without changing the calling shell: the variables are set in this process, which then becomes
the command (exec), so its exit code and signals are the command's own.

With a module system (Lmod or Environment Modules, found from LMOD_CMD / MODULES_CMD) the
environment's module is loaded through it, which loads the recorded modules (compiler, MPI) and
a base environment (--extends). Without one, the variables the modulefile would set are set
directly, as the Jupyter kernel launcher does; recorded modules cannot be loaded then, and a
note says so.
"""

import os
import shutil

from pyenvmod.modules import module_system, stacking
from pyenvmod.config import Config
from pyenvmod.errors import PyenvmodError
from pyenvmod.operations.common import find_base, layout_for, load_record

COMMAND_NOT_FOUND = 127  # what a shell returns for a command it cannot find


class CommandNotFound(PyenvmodError):
    exit_code = COMMAND_NOT_FOUND


def environment(config: Config, name: str, environ: dict, notify=lambda m: None) -> dict:
    """The process environment of ``environ`` with environment ``name`` (and its modules) loaded."""
    layout = layout_for(config)
    record = load_record(layout, name)
    if not os.path.isfile(os.path.join(record.prefix, "bin", "python")):
        raise PyenvmodError(f"the environment {name!r} at {record.prefix} is missing or broken; see 'pyenvmod list'")
    env = dict(environ)
    system = module_system.current(env)
    if system is not None:
        return _through(system, layout, record, env)
    if record.modules:
        notify(f"note: no module system in this shell, so the recorded modules {' '.join(record.modules)} "
               "are not loaded")
    return _directly(config, layout, record, env)


def _through(system, layout, record, env: dict) -> dict:
    """``module use`` the folders, ``module load`` the environment: in this process's environment."""
    folders = [*record.module_paths, str(layout.modules_dir)]
    current = [p for p in env.get("MODULEPATH", "").split(":") if p]
    env["MODULEPATH"] = ":".join([*[f for f in folders if f not in current], *current])
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        system.load([record.module])
        return dict(os.environ)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _stack(layout, record) -> list:
    """The environment and the bases it extends, innermost base first."""
    chain = [record]
    seen = {record.prefix}
    while chain[0].extends and chain[0].extends.get("prefix") not in seen:
        base, _ = find_base(layout, chain[0].extends["prefix"])
        seen.add(base.prefix)
        chain.insert(0, base)
    return chain


def _prepend(env: dict, var: str, value: str) -> None:
    env[var] = value + (":" + env[var] if env.get(var) else "")


def _directly(config: Config, layout, record, env: dict) -> dict:
    """What the modulefile sets, set here (the kernel launcher's fallback, in Python)."""
    mm = ".".join(record.python.split(".")[:2])
    for entry in _stack(layout, record):
        _prepend(env, "PATH", os.path.join(entry.prefix, "bin"))
        _prepend(env, "PYENVMOD_SITE_PATH", str(stacking.site_packages(entry.prefix, entry.python)))
        _prepend(env, "PYENVMOD_LOADED", f"{entry.name}@{mm}")
    env["VIRTUAL_ENV"] = record.prefix
    env["PYTHONNOUSERSITE"] = "1"
    if record.backend == "conda":
        env["CONDA_PREFIX"] = record.prefix
        env["CONDA_DEFAULT_ENV"] = record.name
    for var, value in sorted(config["environment"].items()):
        env[var] = str(value)
    return env


def resolve_command(command: str, env: dict) -> str:
    """The program to run, found on the environment's PATH, as a shell would."""
    if "/" in command:
        found = command if os.path.isfile(command) and os.access(command, os.X_OK) else None
    else:
        found = shutil.which(command, path=env.get("PATH", ""))
    if found is None:
        raise CommandNotFound(f"command not found: {command!r} (not on the PATH the environment sets); "
                              "check the spelling, or install it into the environment")
    return found


def execute(config: Config, name: str, argv: list, notify=lambda m: None):
    """Become ``argv`` inside the environment; returns only on error."""
    if not argv:
        raise PyenvmodError(f"name a command to run: pyenvmod run {name} -- COMMAND [ARGS...]")
    env = environment(config, name, os.environ, notify)
    program = resolve_command(argv[0], env)
    try:
        os.execve(program, argv, env)
    except OSError as exc:
        raise CommandNotFound(f"cannot run {argv[0]!r}: {exc.strerror}") from None
