"""Layered configuration: defaults < site file < user file < PYENVMOD_* variables < flags.

Each value remembers where it came from (``origin``), so errors and ``config show``
can name the file and line.
"""

import os
import re
from pathlib import Path

from pyenvmod.records import platform_tag
from pyenvmod.errors import PyenvmodError

SITE_FILE = "/etc/pyenvmod/config.yaml"
BACKENDS = ("uv", "venv", "conda")


def _positive_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


# key: (default, check, what the check wants)
SCHEMA = {
    "root": (None, lambda v: isinstance(v, str) and v != "", "a path"),
    "backend": ("uv", lambda v: v in BACKENDS, "one of " + ", ".join(BACKENDS)),
    "python": ("python3", lambda v: isinstance(v, str) and v != "", "a Python version or path"),
    # --python VERSION: where interpreters come from ('any': PATH, pyenv, uv, then the module system;
    # 'modules': the module system first), and the names of the modules that are a Python
    "python_from": ("any", lambda v: v in ("any", "modules"), "any or modules"),
    "python_modules": (["python", "Python", "cpython"], lambda v: isinstance(v, list) and all(
        isinstance(x, str) and x and "/" not in x for x in v), "a list of module names (without version)"),
    # accounts whose modulefiles pyenvmod runs ('module show', spider) like root's: the account that
    # builds the site's modules (EasyBuild, Spack). A modulefile anyone else could write is never run.
    "module_owners": ([], lambda v: isinstance(v, list) and all(isinstance(x, str) and x for x in v),
                      "a list of account names"),
    "lock_timeout": (10, _positive_number, "a number of seconds >= 0"),
    # where package caches go during every create and install (pip/, uv/ below it); unset: the tools' own
    "cache_dir": (None, lambda v: isinstance(v, str) and v != "", "a path"),
    # package sources: the index (and extra ones) every backend uses, and the sources a site allows
    # (URL prefixes; empty: any). Checked before anything is downloaded, for pip and uv alike.
    "index_url": (None, lambda v: isinstance(v, str) and v != "", "a URL"),
    "extra_index_urls": ([], lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of URLs"),
    "allowed_sources": ([], lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
                        "a list of URL prefixes"),
    # research groups' shared trees: {name: folder}; 'pyenvmod --group NAME ...' works in that tree
    "groups": ({}, lambda v: isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, str)
                                                          for k, x in v.items()), "a mapping of names to folders"),
    # conda backend: channels (URLs, paths or names), channel priority, and its package folder
    "channels": ([], lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of channels"),
    "channel_priority": ("strict", lambda v: v in ("strict", "disabled"), "strict or disabled"),
    # loaded modules never recorded as an environment's dependencies (fnmatch patterns)
    "capture_exclude": (["StdEnv", "StdEnv/*", "pyenvmod", "pyenvmod/*"],
                        lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of patterns"),
    # how modulefiles treat the recorded modules: load them, require them loaded, or ignore them
    "dependencies": ("load", lambda v: v in ("load", "require", "none"), "one of load, require, none"),
    # packages always built from source against the loaded modules (e.g. mpi4py, h5py)
    "no_binary": ([], lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of package names"),
    # packages only ever installed from wheels (like PIP_ONLY_BINARY); ':all:' for every package
    "only_binary": ([], lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
                    "a list of package names"),
    # MPI: packages that link MPI, built from source against a recorded MPI module (docs/user-guide/mpi.md),
    # and the module names (fnmatch, without version) that are an MPI
    "mpi_packages": (["mpi4py", "h5py", "petsc4py", "slepc4py", "mpi4jax", "netCDF4", "adios2"],
                     lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of package names"),
    "mpi_modules": (["mpich", "openmpi", "open-mpi", "ompi", "mvapich*", "impi", "intel-mpi", "intelmpi",
                     "intel-oneapi-mpi", "cray-mpich*", "hpcx*", "mpt", "hpe-mpt", "psmpi", "spectrum-mpi",
                     "mpi", "mpi/*", "*/mpich*", "*/openmpi*"],
                    lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of patterns"),
    # what is generated for each environment: modulefiles (lua, tcl) and activation scripts (bash, csh, fish)
    "formats": (["lua", "tcl"], lambda v: isinstance(v, list) and v and all(
        x in ("lua", "tcl", "bash", "csh", "fish") for x in v), "a list from lua, tcl, bash, csh, fish"),
    # Jupyter: make a kernel with every create (also: create --kernel / --no-kernel)
    "kernel": (False, lambda v: isinstance(v, bool), "true or false"),
    "kernel_display_name": ("Python ({name})", lambda v: isinstance(v, str) and v != "", "a text; {name} is replaced"),
    # folders searched for templates before the built-in ones (site, then user)
    "templates": ([], lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of folders"),
    # pyenvmod stage: the node-local folder for copies of environments (unset: $TMPDIR, else /tmp)
    "stage_dir": (None, lambda v: isinstance(v, str) and v != "", "a path"),
    # pyenvmod stage in a job script (not inside srun): how the image reaches the nodes. sbcast: read
    # once, copied to every node by Slurm; shared: every node reads it from the shared file system
    "stage_transport": ("sbcast", lambda v: v in ("sbcast", "shared"), "sbcast or shared"),
    # variables every modulefile sets (pushenv), e.g. {OMP_NUM_THREADS: "1"}; default none
    "environment": ({}, lambda v: isinstance(v, dict) and all(
        isinstance(k, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k) and isinstance(x, (str, int, float))
        and not isinstance(x, bool) for k, x in v.items()), "a mapping of VARIABLE names to values"),
    # Lmod spider caches (spider_cache.py): a command rebuilding the site's system cache, and the
    # timestamp file its lmodrc.lua names, touched after every change; default neither
    "lmod_cache_update": ("", lambda v: isinstance(v, str), "a command line"),
    "lmod_cache_timestamp": ("", lambda v: isinstance(v, str), "a path"),
}
ENV_PREFIX = "PYENVMOD_"
MERGED = {"templates"}  # keys where the user file adds to the site file instead of replacing it


# Set by the command line's global --group option: work in a group's shared tree.
GROUP: dict = {}


class Config:
    """The effective settings (``values``), where each came from (``origins``), what the site locked
    (``locked``: key -> the site file line that locked it) and the group tree this command works in
    (``group``; '' is the user's own root). A plain class: importing dataclasses took a tenth of a
    command's start-up (issue 14)."""

    def __init__(self, values=None, origins=None, locked=None, group: str = ""):
        self.values = {} if values is None else values
        self.origins = {} if origins is None else origins
        self.locked = {} if locked is None else locked
        self.group = group

    def __repr__(self):
        return f"Config(group={self.group!r}, values={self.values!r})"

    def __getitem__(self, key):
        return self.values[key]

    def set(self, key, value, origin):
        default, check, wanted = SCHEMA[key]
        if not check(value):
            raise PyenvmodError(f"{origin}: {key} must be {wanted}, got {value!r}")
        self.values[key] = value
        self.origins[key] = origin

    @property
    def root_is_default(self) -> bool:
        return self.origins.get("root") == "default"

    @property
    def root(self) -> Path:
        return Path(self.values["root"])


def _xdg_data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def default_root() -> Path:
    return _xdg_data_home() / "pyenvmod"


def user_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "pyenvmod" / "config.yaml"


def site_file() -> Path:
    """The site file 'pyenvmod site' writes and messages name: $PYENVMOD_SITE_CONFIG, else the fixed one."""
    return Path(os.environ.get(ENV_PREFIX + "SITE_CONFIG") or SITE_FILE)


def site_files() -> list:
    """The site files read, in order: the fixed ones (/etc/pyenvmod/config.yaml, then the one in
    the installation's own prefix, for a site that installs pyenvmod in a folder of its own), then
    $PYENVMOD_SITE_CONFIG. The variable only ADDS a file: what a fixed file locks stays locked
    whatever the user's environment says (pointing it at /nonexistent drops nothing)."""
    import sys

    found = [Path(SITE_FILE), Path(sys.prefix) / "etc" / "pyenvmod" / "config.yaml"]
    extra = os.environ.get(ENV_PREFIX + "SITE_CONFIG")
    if extra and Path(extra) not in found:
        found.append(Path(extra))
    return list(dict.fromkeys(found))


# A configuration is a few dozen values (see yaml_files for the alias bombs this stops)
MAX_VALUES = 10_000
MAX_BYTES = 1_000_000


def _read_file(path: Path, site: bool = False):
    """Yield (key, value, line) from a YAML mapping file; errors name the file and line.

    ``site``: a site file. One that locks keys is parsed every time, never taken from the user's
    configuration cache: the user writes that cache, and an entry of theirs must not drop a lock
    (a key spelled with an escape, possible only in quotes with a backslash, counts as locking)."""
    from pyenvmod.trust import private_files

    private_files.check(path, "configuration file")
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise PyenvmodError(f"{path}: larger than {MAX_BYTES // 1000} kB, which no configuration is; "
                                "point PYENVMOD_SITE_CONFIG or XDG_CONFIG_HOME at the right file")
        text = data.decode("utf-8")
    except FileNotFoundError:
        return
    except OSError as exc:
        raise PyenvmodError(f"cannot read configuration file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise PyenvmodError(f"{path}: not UTF-8 text; fix the configuration file") from None
    from pyenvmod import config_cache

    trusted_only = site and ("locked" in text or "\\" in text)
    found = None if trusted_only else config_cache.entries(path, text)  # this text, parsed before
    if found is None:
        found = list(_parse(path, text))
        if not trusted_only:
            config_cache.keep(path, text, found)
    yield from found


def _parse(path: Path, text: str):
    """Yield (key, value, line) from the YAML mapping ``text`` of ``path``."""
    import yaml  # only when a file exists and is not in the cache: the import alone takes 10 ms
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise PyenvmodError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if node is None:
        return
    if not isinstance(node, yaml.MappingNode):
        raise PyenvmodError(f"{path}: the configuration must be a mapping of keys to values")
    from pyenvmod import yaml_files

    if yaml_files.expanded_size(node, MAX_VALUES) > MAX_VALUES:
        raise yaml_files.too_big(path, MAX_VALUES)
    loader = yaml.SafeLoader("")
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        key = loader.construct_object(key_node, deep=True)
        value = loader.construct_object(value_node, deep=True)
        yield key, value, f"{path}:{line}"


def expand_path(value: str, origin: str, python: str = "python3") -> str:
    """Expand ``~``, ``$VARS``, ``{arch}`` (the platform tag) and ``{python}`` (the default
    Python's major.minor); the result must be an absolute path usable in PATH."""
    expanded = os.path.expanduser(os.path.expandvars(value)).replace("{arch}", platform_tag.current())
    if "{python}" in expanded:
        from pyenvmod.backends import pythons

        expanded = expanded.replace("{python}", pythons.resolve(python).major_minor)
    if "$" in expanded:
        raise PyenvmodError(f"{origin}: {value!r} names an unset variable; set it or use a plain path")
    if not os.path.isabs(expanded):
        raise PyenvmodError(f"{origin}: {value!r} is not an absolute path; give a path starting with /")
    if any(c in expanded for c in ":\n\r\0"):
        raise PyenvmodError(
            f"{origin}: the path {expanded!r} contains ':' or a control character, "
            "which breaks PATH and MODULEPATH; choose another directory"
        )
    return os.path.normpath(expanded)


def _check_lock(locked: dict, key: str, origin: str) -> None:
    if key in locked:
        raise PyenvmodError(f"{origin}: {key!r} is locked by the site ({locked[key]}) and cannot be changed; "
                            "remove the setting, or ask the site's staff")


def load(overrides: dict | None = None) -> Config:
    """Build the effective configuration. ``overrides`` are command-line flags (None = not given).
    Later wins: the defaults, the site's files, the user's file, $PYENVMOD_* variables, the flags;
    a key the site locked refuses every later setting."""
    config = Config()
    for key, (default, _check, _wanted) in SCHEMA.items():
        config.values[key] = default
        config.origins[key] = "default"
    config.values["root"] = str(default_root())
    locked = _apply_files(config)
    _apply_environment(config, locked)
    for key, value in (overrides or {}).items():
        if value is not None:
            _check_lock(locked, key, f"--{key.replace('_', '-')}")
            config.set(key, value, f"--{key.replace('_', '-')}")
    config.locked = locked
    _apply_group(config)
    _expand_folders(config)
    return config


def _apply_files(config: Config) -> dict:
    """The site's files, then the user's, into ``config``. Returns the locked keys: key -> where the
    site locked it."""
    locked = {}
    sites = site_files()
    for path in (*sites, user_file()):
        for key, value, origin in _read_file(path, site=path in sites):
            if key == "locked" and path in sites:
                if not isinstance(value, list) or not all(isinstance(k, str) and k in SCHEMA for k in value):
                    raise PyenvmodError(f"{origin}: locked must be a list of keys from {', '.join(sorted(SCHEMA))}")
                locked.update({k: origin for k in value})
                continue
            if key not in SCHEMA:
                known = ", ".join(sorted(SCHEMA))
                raise PyenvmodError(f"{origin}: unknown key {key!r}; known keys are {known}")
            _check_lock(locked, key, origin)
            if key in MERGED and config.origins[key] != "default":
                # the user's folders are searched first, then the site's
                config.set(key, list(value) + list(config.values[key]), f"{origin} + {config.origins[key]}")
                continue
            config.set(key, value, origin)
    return locked


def _apply_environment(config: Config, locked: dict) -> None:
    """$PYENVMOD_<KEY> into ``config``: a list comma-separated, a mapping as k=v,k=v, a flag 1/true/yes/on."""
    for key in SCHEMA:
        env_name = ENV_PREFIX + key.upper()
        raw = os.environ.get(env_name)
        if raw:
            _check_lock(locked, key, f"${env_name}")
            value = raw
            if isinstance(SCHEMA[key][0], list):
                value = [item for item in raw.split(",") if item]
            elif isinstance(SCHEMA[key][0], bool):
                value = raw.lower() in ("1", "true", "yes", "on")
            elif isinstance(SCHEMA[key][0], dict):
                value = dict(item.split("=", 1) for item in raw.split(",") if "=" in item)
            if key == "lock_timeout":
                try:
                    value = float(raw)
                except ValueError:
                    pass
            config.set(key, value, f"${env_name}")


def _apply_group(config: Config) -> None:
    """--group: the root becomes the group's folder (a name from the 'groups' setting, or a folder)."""
    if GROUP.get("spec"):
        spec = GROUP["spec"]
        groups = config.values["groups"]
        folder = groups.get(spec, spec)
        if "/" not in folder:
            known = ", ".join(sorted(groups)) or "none configured"
            raise PyenvmodError(f"--group {spec}: not a folder, nor a group in the 'groups' setting ({known})")
        config.values["root"], config.origins["root"], config.group = folder, f"--group {spec}", spec


def _expand_folders(config: Config) -> None:
    """root, cache_dir and stage_dir as absolute paths (see ``expand_path``); stage_dir without variables."""
    python = config.values["python"]
    config.values["root"] = expand_path(config.values["root"], config.origins["root"], python)
    if config.values["cache_dir"]:
        config.values["cache_dir"] = expand_path(config.values["cache_dir"], config.origins["cache_dir"], python)
    if config.values["stage_dir"]:
        if "$" in config.values["stage_dir"]:  # the launchers must find the same folder on every node
            raise PyenvmodError(f"{config.origins['stage_dir']}: stage_dir must be a fixed folder, without "
                                "variables; per-job folders come through $TMPDIR, the default")
        config.values["stage_dir"] = expand_path(config.values["stage_dir"], config.origins["stage_dir"], python)
