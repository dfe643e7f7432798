"""A small local conda channel, built by the tests: noarch packages written here, indexed by
py-rattler. No conda Python can be downloaded on these machines, so the channel's 'python'
package links to a local CPython and carries a pyvenv.cfg, which makes the conda environment
its sys.prefix, as a real conda python would."""

import asyncio
import hashlib
import io
import json
import os
import tarfile
import time
from pathlib import Path


def package(channel: Path, name, version, files, depends=(), links=None, build="0", build_number=0):
    """Write NAME-VERSION-BUILD.tar.bz2 (noarch: generic) with ``files`` {path: text} and ``links`` {path: target}."""
    out = channel / "noarch"
    out.mkdir(parents=True, exist_ok=True)
    index = {"name": name, "version": version, "build": build, "build_number": build_number, "depends": list(depends),
             "noarch": "generic", "subdir": "noarch", "timestamp": int(time.time() * 1000), "license": "MIT"}
    paths = []
    with tarfile.open(out / f"{name}-{version}-{build}.tar.bz2", "w:bz2") as tar:
        def add(arc, data, mode=0o644):
            info = tarfile.TarInfo(arc)
            info.size, info.mode, info.mtime = len(data), mode, time.time()
            tar.addfile(info, io.BytesIO(data))

        for rel, text in files.items():
            data = text.encode()
            add(rel, data, 0o755 if rel.startswith("bin/") else 0o644)
            paths.append({"_path": rel, "path_type": "hardlink", "sha256": hashlib.sha256(data).hexdigest(),
                          "size_in_bytes": len(data)})
        for rel, target in (links or {}).items():
            info = tarfile.TarInfo(rel)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
            paths.append({"_path": rel, "path_type": "softlink"})
        add("info/index.json", json.dumps(index).encode())
        add("info/paths.json", json.dumps({"paths": paths, "paths_version": 1}).encode())
        add("info/files", ("\n".join(p["_path"] for p in paths) + "\n").encode())


def make(channel: Path, python: str = "/usr/bin/python3") -> tuple[str, str]:
    """Build the channel; return (its folder, the Python version its 'python' package provides)."""
    import subprocess

    from rattler.index import index_fs

    real = os.path.realpath(python)
    version = subprocess.run([real, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    mm = ".".join(version.split(".")[:2])
    package(channel, "python", version,
            {"pyvenv.cfg": f"home = {os.path.dirname(real)}\ninclude-system-site-packages = false\n"
                           f"version = {version}\n",
             f"lib/python{mm}/site-packages/.conda-keep": ""},
            links={"bin/python": real, "bin/python3": "python"})
    package(channel, "hello-activate", "1.0",
            {"etc/conda/activate.d/hello.sh": 'export HELLO_DATA="$CONDA_PREFIX/share/hello"\n'
                                              'export PATH="$CONDA_PREFIX/share/hello/bin:$PATH"\n',
             "etc/conda/deactivate.d/hello.sh": "unset HELLO_DATA\n",
             "share/hello/data.txt": "hello data\n"})
    package(channel, "hello-cli", "1.0", {"bin/hello-cli": "#!/bin/sh\necho hello from a conda console script\n"},
            depends=["python"])
    asyncio.run(index_fs(channel))
    return str(channel), version


def mpi(channel: Path) -> None:
    """Add an MPI as conda-forge ships it: the channel's own mpich build (the higher build number, so
    a solver prefers it) and an external_ build standing for the system's MPI; and a package using it."""
    from rattler.index import index_fs

    package(channel, "mpich", "4.0", {"lib/libmpich-conda.txt": "the channel's own MPI\n"}, build="h0001_1",
            build_number=1)
    package(channel, "mpich", "4.0", {"share/mpich-external.txt": "uses the MPI of the system or module\n"},
            build="external_0", build_number=0)
    package(channel, "mpi-user", "1.0", {"share/mpi-user.txt": "links MPI\n"}, depends=["mpich"])
    asyncio.run(index_fs(channel))
