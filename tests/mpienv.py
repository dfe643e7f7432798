"""The MPI session fixture: Debian's mpich behind a module, and an environment 'mpi' whose mpi4py is
built from source against it (with mpi4py's binary wheel waiting in that MPI's cache, not to be taken).

The build takes minutes on 2 cores, so it is made once per session, under nice, and shared by every
test module (tests/conftest.py provides the fixture; importing it into a module would make a second one)."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Cli, clean_env
from modsys import Lmod, require, run_bash


def mpich_version() -> str:
    require(shutil.which("mpichversion") is not None and shutil.which("mpiexec") is not None,
            "Debian's mpich", "apt-get install mpich libmpich-dev")
    out = subprocess.run(["mpichversion"], capture_output=True, text=True).stdout
    return re.search(r"MPICH Version:\s*(\S+)", out).group(1)


def mpich_module_tree(root, version):
    """mpich/<version> in both formats: its own bin folder (links to Debian's mpich) first on PATH."""
    bindir = root / "mpich-bin"
    bindir.mkdir(parents=True)
    for tool in ("mpicc", "mpiexec", "mpirun", "hydra_pmi_proxy"):
        target = shutil.which(f"{tool}.mpich") or shutil.which(tool)
        os.symlink(target, bindir / tool)
    tree = root / "modules" / "mpich"
    tree.mkdir(parents=True)
    (tree / f"{version}.lua").write_text(
        f'setenv("MPICH_HOME", "{bindir}")\nsetenv("MPICC", "{bindir}/mpicc")\n'
        f'prepend_path("PATH", "{bindir}")\n')
    (tree / version).write_text(
        f"#%Module1.0\nsetenv MPICH_HOME {bindir}\nsetenv MPICC {bindir}/mpicc\nprepend-path PATH {bindir}\n")
    return root / "modules", bindir


def wheel_tag(prefix, name) -> str:
    (wheel,) = Path(prefix).glob(f"lib/python*/site-packages/{name}-*.dist-info/WHEEL")
    return next(ln.split(":", 1)[1].strip() for ln in wheel.read_text().splitlines() if ln.startswith("Tag:"))


def lmod_script(mpi_env, commands: str, modules=None) -> str:
    modules = modules if modules is not None else [f"mpich/{mpi_env['version']}"]
    return f"""{mpi_env['lmod'].init()}
module use {shlex.quote(str(mpi_env['site']))}
{'module load ' + ' '.join(modules) + ' || exit 11' if modules else ''}
{commands}
"""


def put_binary_mpi4py_in_the_cache(cache: str, base: Path) -> str:
    """Install mpi4py's binary wheel from PyPI into a scratch venv through ``cache``, leaving it there."""
    from uv import find_uv_bin

    uv, scratch = find_uv_bin(), base / "scratch"
    env = dict(os.environ, UV_CACHE_DIR=cache)
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, scratch], env=env, check=True)
    subprocess.run([uv, "pip", "install", "-q", "--python", scratch / "bin" / "python", "--only-binary", "mpi4py",
                    "mpi4py"], env=env, check=True, timeout=600)
    return wheel_tag(scratch, "mpi4py")


@pytest.fixture(scope="session")
def mpi_env(tmp_path_factory):
    """Environment 'mpi' with mpi4py built from source against mpich/<version> (a Lmod module over
    Debian's mpich), once per session: test_mpi.py and test_srun_mpi.py share it."""
    from pyenvmod.packages import buildpolicy, mpi

    version = mpich_version()
    lmod = Lmod().require()
    base = tmp_path_factory.mktemp("mpi")
    env = clean_env(base)
    cli = Cli(env)
    site, bindir = mpich_module_tree(base / "site", version)
    module = f"mpich/{version}"
    identity = mpi.detect([module], {"PATH": f"{bindir}:/usr/bin:/bin", "MPICC": str(bindir / "mpicc"),
                                     "LOADEDMODULES": module}, ["mpich"]).identity
    cache = buildpolicy.cache_folder(env["UV_CACHE_DIR"], identity)
    binary_tag = put_binary_mpi4py_in_the_cache(cache, base)
    result = run_bash(lmod_script({"lmod": lmod, "site": site, "version": version},
                                  "nice -n 10 pyenvmod create mpi -p mpi4py"), env, timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    (meta,) = (base / "root").glob("*/meta/mpi.json")
    record = json.loads(meta.read_text())
    return {"env": env, "cli": cli, "site": site, "bindir": bindir, "version": version, "record": record,
            "lmod": lmod, "base": base, "stderr": result.stderr, "binary_tag": binary_tag, "cache": cache,
            "identity": identity}
