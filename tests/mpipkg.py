"""A find-links folder holding one small "MPI-linked" project as both a wheel and an sdist,
so a test sees which one an install took: the wheel's module says FLAVOR = "wheel"; the sdist
is built by an in-tree PEP 517 backend (no network, no setuptools) whose module says
FLAVOR = "sdist" and records the MPICC, HDF5_MPI and CC its build saw."""

import io
import tarfile
from pathlib import Path

from localpkg import PYPROJECT, WHEEL_WRITER, write_wheel

NAME = "mpilinkedfake"

BACKEND = WHEEL_WRITER + '''
NAME, VERSION = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "nv.txt")).read().split()


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    seen = {k: os.environ.get(k) for k in ("MPICC", "HDF5_MPI", "CC")}
    files = {f"{NAME}.py": f"FLAVOR = 'sdist'\\nBUILD_ENV = {seen!r}\\n"}
    return write_wheel(wheel_directory, NAME, VERSION, files, generator="mpipkg")
'''

def make(folder: Path, versions=("1.0", "1.1")) -> Path:
    """Write the wheel and the sdist of each version into ``folder`` (a find-links folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    for version in versions:
        write_wheel(str(folder), NAME, version, {f"{NAME}.py": "FLAVOR = 'wheel'\n"}, generator="mpipkg")
        members = {"pyproject.toml": PYPROJECT.format(name=NAME, version=version, backend="mpibackend"),
                   "mpibackend.py": BACKEND, "nv.txt": f"{NAME} {version}\n",
                   "PKG-INFO": f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {version}\n"}
        with tarfile.open(folder / f"{NAME}-{version}.tar.gz", "w:gz") as tar:
            for rel, text in members.items():
                data = text.encode()
                info = tarfile.TarInfo(f"{NAME}-{version}/{rel}")
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    return folder


def flavor(prefix) -> dict:
    """What the environment at ``prefix`` got: {"FLAVOR": ..., "BUILD_ENV": ...} read from the module."""
    (module,) = Path(prefix).glob(f"lib/python*/site-packages/{NAME}.py")
    namespace: dict = {}
    exec(module.read_text(), namespace)
    return {"FLAVOR": namespace["FLAVOR"], "BUILD_ENV": namespace.get("BUILD_ENV")}
