"""MPI end to end: Debian's mpich as a module, mpi4py built from source against it, and a
2-rank run in a fresh shell where loading the environment brings mpich back."""

import json
import os
import re
import shlex
import shutil
import subprocess

import pytest

from conftest import Cli, clean_env
from modsys import MODULE_SYSTEMS, Lmod, require, run_bash

# slow: builds mpi4py from source against MPICH
pytestmark = [pytest.mark.modsys, pytest.mark.slow]


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


@pytest.fixture(scope="module")
def mpi_env(tmp_path_factory):
    version = mpich_version()
    lmod = Lmod().require()
    base = tmp_path_factory.mktemp("mpi")
    env = clean_env(base)
    cli = Cli(env)
    site, bindir = mpich_module_tree(base / "site", version)
    script = f"""{lmod.init()}
module use {shlex.quote(str(site))}
module load mpich/{version} || exit 11
pyenvmod create mpi -p mpi4py --no-binary mpi4py
"""
    result = run_bash(script, env, timeout=1200)
    assert result.returncode == 0, result.stdout + result.stderr
    (record,) = json.loads(cli("list", "--json").stdout)
    return {"env": env, "cli": cli, "site": site, "bindir": bindir, "version": version, "record": record}


def test_mpich_is_recorded_and_mpi4py_is_built_against_it(mpi_env):
    record = mpi_env["record"]
    assert record["modules"] == [f"mpich/{mpi_env['version']}"]
    (ext,) = [p for p in os.popen(f"find {record['prefix']} -name 'MPI*.so'").read().split() if p]
    ldd = subprocess.run(["ldd", ext], capture_output=True, text=True).stdout
    assert re.search(r"libmpich\.so\.\d+ => /", ldd), ldd


@pytest.mark.parametrize("system", sorted(MODULE_SYSTEMS))
def test_two_ranks_in_a_fresh_shell(mpi_env, system):
    ms = MODULE_SYSTEMS[system]().require()
    code = "from mpi4py import MPI; c = MPI.COMM_WORLD; print('rank', c.Get_rank(), 'of', c.Get_size())"
    script = f"""{ms.init()}
module purge
module use {shlex.quote(str(mpi_env['site']))}
module use {shlex.quote(mpi_env['cli']('modulepath').stdout.strip())}
module load pyenv/mpi || exit 11
module list 2>&1
echo "mpiexec=$(command -v mpiexec)"
mpiexec -n 2 python -c {shlex.quote(code)} || exit 12
"""
    result = run_bash(script, mpi_env["env"], timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"mpich/{mpi_env['version']}" in result.stdout
    assert f"mpiexec={mpi_env['bindir']}/mpiexec" in result.stdout
    ranks = sorted(ln for ln in result.stdout.splitlines() if ln.startswith("rank "))
    assert ranks == ["rank 0 of 2", "rank 1 of 2"]


def test_export_of_the_mpi_environment_carries_modules_and_no_binary(mpi_env):
    import yaml

    doc = yaml.safe_load(mpi_env["cli"]("export", "mpi").stdout)
    assert doc["pyenvmod"]["modules"] == [f"mpich/{mpi_env['version']}"]
    assert doc["pyenvmod"]["no_binary"] == ["mpi4py"]
