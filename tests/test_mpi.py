"""MPI end to end: Debian's mpich as a module, mpi4py built from source against it by default
(a binary mpi4py wheel waiting in the cache is not taken), a 2-rank run in a fresh shell where
loading the environment brings mpich back, h5py against Debian's parallel HDF5, and the doctor.

The builds are slow (mpi4py ~2.5 min, h5py more, on 2 cores): each is made once per session
(mpi_env lives in mpienv.py, shared with test_srun_mpi.py), under nice; the per-MPI cache they
fill makes later source installs fast."""

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from modsys import MODULE_SYSTEMS, require, run_bash
from mpienv import lmod_script, wheel_tag

# slow: builds mpi4py from source against MPICH
pytestmark = [pytest.mark.modsys, pytest.mark.slow]


@pytest.mark.slow
def test_mpich_is_recorded_and_mpi4py_is_built_against_it_by_default(mpi_env):
    record = mpi_env["record"]
    assert record["modules"] == [f"mpich/{mpi_env['version']}"]
    assert f"building mpi4py from source against mpich/{mpi_env['version']}" in mpi_env["stderr"]
    (ext,) = [p for p in os.popen(f"find {record['prefix']} -name 'MPI*.so'").read().split() if p]
    ldd = subprocess.run(["ldd", ext], capture_output=True, text=True).stdout
    assert re.search(r"libmpich\.so\.\d+ => /", ldd), ldd


@pytest.mark.slow
def test_a_binary_mpi4py_in_the_cache_is_not_taken(mpi_env):
    assert "manylinux" in mpi_env["binary_tag"]  # it was there, in this MPI's own cache
    assert mpi_env["record"]["mpi"]["identity"] == mpi_env["identity"]  # the cache the create used
    assert [p for p in Path(mpi_env["cache"]).rglob("*manylinux*") if "mpi4py" in str(p)], "no binary in the cache"
    tag = wheel_tag(mpi_env["record"]["prefix"], "mpi4py")
    assert "manylinux" not in tag and tag.endswith("linux_x86_64"), tag


@pytest.mark.slow
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


@pytest.mark.slow
def test_export_of_the_mpi_environment_carries_its_modules(mpi_env):
    import yaml

    doc = yaml.safe_load(mpi_env["cli"]("export", "mpi").stdout)
    assert doc["pyenvmod"]["modules"] == [f"mpich/{mpi_env['version']}"]


@pytest.mark.slow
def test_doctor_reports_the_mpi_mpi4py_loads(mpi_env):
    result = run_bash(lmod_script(mpi_env, "pyenvmod doctor mpi --json"), mpi_env["env"], timeout=300)
    findings = [f for f in json.loads(result.stdout)["findings"] if f["check"] == "mpi"]
    messages = " | ".join(f["message"] for f in findings)
    assert all(f["severity"] == "info" for f in findings), messages
    library = mpi_env["record"]["mpi"]["library"]
    assert f"loads {library} (recorded MPI: mpich/{mpi_env['version']})" in messages
    # read from MPI.so's ELF dynamic section: the doctor starts no interpreter of the environment
    assert re.search(r"mpi4py/MPI\.cpython-\d+-[^ ]+\.so loads ", messages), messages
    assert "mpi4py reports" not in messages


@pytest.mark.slow
def test_doctor_flags_binary_mpi_wheels_and_the_rebuild_fixes_them(mpi_env):
    """An environment that took mpi4py's binary wheel (PIP_ONLY_BINARY) and PyPI's mpich: the doctor
    names both with the fix; the fix builds mpi4py against the module (from this MPI's cache)."""
    env, name = dict(mpi_env["env"], PIP_ONLY_BINARY="mpi4py"), "binmpi"
    made = run_bash(lmod_script(mpi_env, f"pyenvmod create {name} -p mpi4py mpich"), env, timeout=900)
    assert made.returncode == 0, made.stderr
    doctor = run_bash(lmod_script(mpi_env, f"pyenvmod doctor {name} --json"), mpi_env["env"], timeout=300)
    errors = [f for f in json.loads(doctor.stdout)["findings"] if f["check"] == "mpi" and f["severity"] == "error"]
    assert doctor.returncode == 1
    by_text = {f["message"].split(":")[1].split()[0]: f for f in errors}
    assert set(by_text) == {"mpich", "mpi4py"}, errors
    assert "binary MPI from PyPI" in by_text["mpich"]["message"]
    assert f"pyenvmod remove {name} mpich" in by_text["mpich"]["fix"]
    assert "installed from a binary wheel" in by_text["mpi4py"]["message"]
    assert by_text["mpi4py"]["fix"].startswith(f"pyenvmod install {name} mpi4py --rebuild")

    fix = f"pyenvmod remove {name} mpich && pyenvmod install {name} mpi4py --rebuild"
    fixed = run_bash(lmod_script(mpi_env, fix), mpi_env["env"], timeout=1800)
    assert fixed.returncode == 0, fixed.stderr
    assert "rebuilding mpi4py" in fixed.stderr and "building mpi4py from source" in fixed.stderr
    prefix = mpi_env["base"] / "root"
    (site,) = prefix.glob(f"*/envs/{name}")
    assert "manylinux" not in wheel_tag(site, "mpi4py")
    again = run_bash(lmod_script(mpi_env, f"pyenvmod doctor {name} --json"), mpi_env["env"], timeout=300)
    left = [f for f in json.loads(again.stdout)["findings"] if f["check"] == "mpi" and f["severity"] != "info"]
    assert left == []


PARALLEL_HDF5 = "/usr/lib/x86_64-linux-gnu/hdf5/mpich"


@pytest.fixture(scope="module")
def h5_env(mpi_env):
    """h5py with a parallel HDF5 module loaded: Debian's libhdf5-mpich-dev behind a modulefile that sets
    HDF5_DIR and puts mpicc first (made after mpi_env: its mpi4py comes from this MPI's cache)."""
    require(os.path.isfile(f"{PARALLEL_HDF5}/include/H5pubconf.h"), "Debian's parallel HDF5",
            "apt-get install libhdf5-mpich-dev")
    tree = Path(mpi_env["site"]) / "hdf5-mpich"
    tree.mkdir()
    bindir = mpi_env["bindir"]
    (tree / "1.10.lua").write_text(f'setenv("HDF5_DIR", "{PARALLEL_HDF5}")\nprepend_path("PATH", "{bindir}")\n')
    (tree / "1.10").write_text(f"#%Module1.0\nsetenv HDF5_DIR {PARALLEL_HDF5}\nprepend-path PATH {bindir}\n")
    modules = [f"mpich/{mpi_env['version']}", "hdf5-mpich/1.10"]
    result = run_bash(lmod_script(mpi_env, "nice -n 10 pyenvmod create h5 -p h5py", modules), mpi_env["env"],
                      timeout=2400)
    assert result.returncode == 0, result.stdout + result.stderr
    return {"modules": modules, "stderr": result.stderr}


@pytest.mark.slow
def test_h5py_is_built_with_parallel_hdf5_and_writes_from_two_ranks(mpi_env, h5_env, tmp_path):
    assert "HDF5_MPI=ON" in h5_env["stderr"]
    code = ("import h5py; from mpi4py import MPI; assert h5py.get_config().mpi; c = MPI.COMM_WORLD\n"
            f"f = h5py.File({str(tmp_path / 'p.h5')!r}, 'w', driver='mpio', comm=c)\n"
            "d = f.create_dataset('x', (c.Get_size(),), dtype='i'); d[c.Get_rank()] = c.Get_rank() + 10\n"
            "f.close(); print('rank', c.Get_rank(), 'mpi', h5py.get_config().mpi)")
    script = f"""{mpi_env['lmod'].init()}
module purge
module use {shlex.quote(str(mpi_env['site']))}
module use {shlex.quote(mpi_env['cli']('modulepath').stdout.strip())}
module load pyenv/h5 || exit 11
mpiexec -n 2 python -c {shlex.quote(code)} || exit 12
python -c "import h5py; print(list(h5py.File({str(tmp_path / 'p.h5')!r})['x']))"
"""
    result = run_bash(script, mpi_env["env"], timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(ln for ln in result.stdout.splitlines() if ln.startswith("rank")) == ["rank 0 mpi True",
                                                                                       "rank 1 mpi True"]
    assert "[np.int32(10), np.int32(11)]" in result.stdout or "[10, 11]" in result.stdout


@pytest.mark.slow
def test_h5py_build_isolation_took_no_binary_nor_pinned_mpi4py(mpi_env, h5_env):
    (prefix,) = (mpi_env["base"] / "root").glob("*/envs/h5")
    assert "manylinux" not in wheel_tag(prefix, "mpi4py") and "manylinux" not in wheel_tag(prefix, "h5py")
    # h5py pins mpi4py==4.0.0 for its isolated build; it got the environment's own mpi4py instead
    versions = {p.name.split("-")[0].removesuffix(".msgpack") for p in Path(mpi_env["cache"]).glob("*/pypi/mpi4py/*")}
    assert versions and "4.0.0" not in versions, versions  # what h5py pins was neither built nor downloaded
