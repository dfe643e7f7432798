"""Which packages are built from source and which come as wheels, the same for every backend.

The ecosystem's switches are read once and handed to pip and uv as explicit flags (uv ignores
PIP_NO_BINARY; ``uv pip`` ignores UV_NO_BINARY_PACKAGE):

    PIP_NO_BINARY, UV_NO_BINARY_PACKAGE, UV_NO_BINARY=1, 'no_binary' setting, --no-binary  -> from source
    PIP_ONLY_BINARY, UV_ONLY_BINARY_PACKAGE, UV_ONLY_BINARY=1, 'only_binary' setting      -> wheels only

Each takes package names or ``:all:``; a package named on its own wins over ``:all:`` (as in
pip and uv), and a name in both lists is built from source. With an MPI module recorded
(``mpi.detect``), the ``mpi_packages`` are built from source against it unless named in the
only-binary list, with MPICC and friends from the module and a cache folder of that MPI.
"""

import os
import re

from pyenvmod.packages import mpi as mpi_mod

NO_BINARY_VARS = ("PIP_NO_BINARY", "UV_NO_BINARY_PACKAGE")
ONLY_BINARY_VARS = ("PIP_ONLY_BINARY", "UV_ONLY_BINARY_PACKAGE")
_TRUE = ("1", "true", "yes", "on")
ALL = ":all:"


def _names(value) -> list[str]:
    """Names from a variable or setting ('a,b c'; ':none:' drops what came before)."""
    out = []
    for item in re.split(r"[,\s]+", value) if isinstance(value, str) else value:
        if item == ":none:":
            out.clear()
        elif item == ALL:
            out.append(ALL)
        elif item:
            out.append(mpi_mod.canonical(item))
    return out


def switches(environ) -> tuple[list, list]:
    """(no_binary, only_binary) asked for by the process environment."""
    no_binary, only_binary = [], []
    for var in NO_BINARY_VARS:
        no_binary += _names(environ.get(var, ""))
    for var in ONLY_BINARY_VARS:
        only_binary += _names(environ.get(var, ""))
    if environ.get("UV_NO_BINARY", "").lower() in _TRUE:
        no_binary.append(ALL)
    if environ.get("UV_ONLY_BINARY", "").lower() in _TRUE:
        only_binary.append(ALL)
    return list(dict.fromkeys(no_binary)), list(dict.fromkeys(only_binary))


class Plan:
    """How the packages of one install are built (a plain class: see config.Config)."""

    def __init__(self, no_binary=None, only_binary=None):
        self.no_binary = list(no_binary or [])  # names (canonical) or ':all:'
        self.only_binary = list(only_binary or [])
        self.mpi = None  # mpi.Mpi, or None
        self.mpi_built = []  # requested packages built from source against the MPI
        self.build_env = {}  # variables for the builds (MPICC, HDF5_MPI, ...)
        self.hdf5 = ""  # a parallel HDF5's HDF5_DIR
        self.extra = []  # packages to install too (a parallel h5py needs mpi4py)


def _requested_names(packages) -> list[str]:
    from packaging.requirements import InvalidRequirement, Requirement

    out = []
    for spec in packages:
        try:
            out.append(mpi_mod.canonical(Requirement(spec).name))
        except InvalidRequirement:
            continue
    return out


def plan(config, environ, modules, packages, no_binary=(), conda=False) -> Plan:
    """The build plan for installing ``packages`` into an environment recording ``modules``."""
    env_no, env_only = switches(environ)
    setting_only = _names(config["only_binary"])
    wanted_no = list(dict.fromkeys([*_names(config["no_binary"]), *_names(list(no_binary)), *env_no]))
    only = [n for n in dict.fromkeys([*setting_only, *env_only]) if n == ALL or n not in wanted_no]
    result = Plan(no_binary=wanted_no, only_binary=only)
    found = mpi_mod.detect(modules, environ, config["mpi_modules"])
    if found is None:
        return result
    result.mpi = found
    if conda:
        return result
    linked = [mpi_mod.canonical(n) for n in config["mpi_packages"]]
    built = [n for n in linked if n not in only]
    result.no_binary = list(dict.fromkeys([*wanted_no, *built]))
    requested = _requested_names(packages)
    result.mpi_built = [n for n in built if n in requested]
    if result.mpi_built:
        mpi_mod.require_compiler(found)
    if found.mpicc:
        folder = os.path.dirname(found.mpicc)
        result.build_env["MPICC"] = found.mpicc
        for var, tool in (("MPICXX", "mpicxx"), ("MPIFC", "mpifort"), ("MPIF90", "mpif90")):
            path = os.path.join(folder, tool)
            if os.access(path, os.X_OK):
                result.build_env[var] = path
        result.hdf5 = mpi_mod.parallel_hdf5(environ)
        if result.hdf5 and "h5py" in built:
            result.build_env.update(HDF5_MPI="ON", CC=found.mpicc, HDF5_DIR=result.hdf5)
            if "h5py" in requested and "mpi4py" not in requested:
                # the index's metadata of h5py (from its wheels) lacks the mpi4py a parallel build needs
                result.extra = ["mpi4py"]
    return result


def describe(result: Plan) -> list[str]:
    """What to tell the user before a long build (nothing when nothing MPI-linked is built)."""
    if result.mpi is None or not result.mpi_built:
        return []
    mpi = result.mpi
    what = f"{mpi.module}" + (f" ({mpi.version})" if mpi.version else "")
    lines = [f"building {', '.join(result.mpi_built)} from source against {what}, with MPICC={mpi.mpicc}: "
             "they link MPI, and a binary wheel would bring its own MPI (or none) instead of the module's; "
             "this can take several minutes"]
    if result.hdf5 and "h5py" in result.mpi_built:
        lines.append(f"h5py: parallel HDF5 from HDF5_DIR={result.hdf5} (HDF5_MPI=ON, CC=mpicc)")
    return lines


def cache_folder(base: str, identity: str) -> str:
    """The cache of one MPI, beside ``base`` (uv's or pip's): BASE-mpi/IDENTITY."""
    return os.path.join(os.path.normpath(base) + "-mpi", identity)


def _default_cache(env, tool: str) -> str:
    xdg = env.get("XDG_CACHE_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, tool)


def apply(backend, result: Plan, *, layered: bool = False) -> list:
    """Set ``backend`` up for the plan; returns the no_binary list to pass to its install."""
    env = backend.env
    for var in (*NO_BINARY_VARS, *ONLY_BINARY_VARS, "UV_NO_BINARY", "UV_ONLY_BINARY"):
        env.pop(var, None)  # folded into the plan: explicit flags, in an order both tools read alike
    backend.only_binary = list(result.only_binary)
    if result.mpi is None:
        return list(result.no_binary)
    if backend.name == "conda":
        if result.mpi.flavor in ("mpich", "openmpi"):
            backend.constraints = [f"{result.mpi.flavor}=*=external_*"]
        return []
    env.update(result.build_env)
    for var, tool in (("UV_CACHE_DIR", "uv"), ("PIP_CACHE_DIR", "pip")):
        env[var] = cache_folder(env.get(var) or _default_cache(env, tool), result.mpi.identity)
    if "HDF5_MPI" in result.build_env and backend.name == "uv" and not layered:
        _h5py_builds_with_the_env_mpi4py(env)
    return list(result.no_binary)


def _h5py_builds_with_the_env_mpi4py(env) -> None:
    """h5py asks for a pinned mpi4py in its isolated build (a second MPI build, or a binary
    wheel); instead it gets the newest mpi4py, the one the environment gets, built once against
    this MPI (uv's extra-build-dependencies). Only when no uv.toml of the user's or site's would
    be replaced by ours; otherwise h5py builds its own pinned mpi4py from source."""
    xdg = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".config")
    if env.get("UV_CONFIG_FILE") or env.get("UV_NO_CONFIG") or any(
            os.path.exists(p) for p in (os.path.join(xdg, "uv", "uv.toml"), "/etc/uv/uv.toml")):
        return
    path = os.path.join(os.path.dirname(env["UV_CACHE_DIR"]), "pyenvmod-h5py-uv.toml")
    try:
        from pathlib import Path

        from pyenvmod.trust import files

        files.make_root(os.path.dirname(path))
        files.write_atomic(Path(path), "# written by pyenvmod: h5py builds with the environment's mpi4py, built "
                           'against this MPI\n[extra-build-dependencies]\nh5py = ["mpi4py"]\n')
    except OSError:
        return  # h5py then builds its own pinned mpi4py, from source too
    env["UV_CONFIG_FILE"] = path
    env["H5PY_SETUP_REQUIRES"] = "0"


def prepare(config, backend, modules, packages, no_binary, notify, *, layered=False, environ=None) -> tuple:
    """Plan and set up ``backend`` for installing ``packages``; say what is built from source and
    why. Returns (the no_binary list for the backend's install, the plan)."""
    environ = os.environ if environ is None else environ
    conda = backend.name == "conda"
    result = plan(config, environ, modules, packages, no_binary, conda=conda)
    flags = apply(backend, result, layered=layered)
    for line in describe(result):
        notify(line)
    for constraint in getattr(backend, "constraints", []) if conda else []:
        notify(f"pinning {constraint}: conda packages use the MPI of {result.mpi.module}, not the channel's own")
    return flags, result


def load_recorded_mpi(config, backend, modules, notify) -> None:
    """Before installing into an environment whose MPI module is not loaded, load its recorded
    modules into this process (as 'module load pyenv/NAME' would), so builds use that MPI."""
    from pyenvmod.modules import module_system

    loaded = set(m for m in os.environ.get("LOADEDMODULES", "").split(":") if m)
    wanted = [m for m in modules if mpi_mod.is_mpi_module(m, config["mpi_modules"])]
    system = module_system.current()
    if not wanted or all(m in loaded for m in wanted) or system is None:
        return
    notify(f"loading {' '.join(modules)} with {system.name} before building (the environment's modules)")
    before = dict(os.environ)
    system.load(list(modules))
    backend.env.update({k: v for k, v in os.environ.items() if before.get(k) != v})
