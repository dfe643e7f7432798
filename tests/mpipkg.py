"""A find-links folder holding one small "MPI-linked" project as both a wheel and an sdist,
so a test sees which one an install took: the wheel's module says FLAVOR = "wheel"; the sdist
is built by an in-tree PEP 517 backend (no network, no setuptools) whose module says
FLAVOR = "sdist" and records the MPICC, HDF5_MPI and CC its build saw."""

import base64
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

NAME = "mpilinkedfake"

WRITE = '''
import base64, hashlib, os, zipfile


def write(directory, name, version, files):
    dist = f"{name}-{version}.dist-info"
    files = dict(files)
    files[f"{dist}/METADATA"] = f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n"
    files[f"{dist}/WHEEL"] = "Wheel-Version: 1.0\\nGenerator: mpipkg\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{dist}/RECORD"] = "\\n".join(record + [f"{dist}/RECORD,,"]) + "\\n"
    wheel = f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, wheel), "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel
'''

BACKEND = WRITE + '''
NAME, VERSION = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "nv.txt")).read().split()


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    seen = {k: os.environ.get(k) for k in ("MPICC", "HDF5_MPI", "CC")}
    files = {f"{NAME}.py": f"FLAVOR = 'sdist'\\nBUILD_ENV = {seen!r}\\n"}
    return write(wheel_directory, NAME, VERSION, files)
'''

PYPROJECT = """[build-system]
requires = []
build-backend = "mpibackend"
backend-path = ["."]

[project]
name = "{name}"
version = "{version}"
"""


def make(folder: Path, versions=("1.0", "1.1")) -> Path:
    """Write the wheel and the sdist of each version into ``folder`` (a find-links folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    namespace: dict = {}
    exec(WRITE, namespace)
    for version in versions:
        namespace["write"](str(folder), NAME, version, {f"{NAME}.py": "FLAVOR = 'wheel'\n"})
        members = {"pyproject.toml": PYPROJECT.format(name=NAME, version=version), "mpibackend.py": BACKEND,
                   "nv.txt": f"{NAME} {version}\n",
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
