"""The build plan set up on a real backend object (buildpolicy.prepare, apply, the h5py uv.toml) and
the recorded MPI module loaded with a real Lmod before a build (load_recorded_mpi): in-process, with
Debian's mpich behind the MPI (tests/test_guards_cache_keys.py has the wrapper and library of its own)."""

import os
import shutil
from pathlib import Path

import pytest

from modsys import Lmod, require
from mpienv import mpich_module_tree

from pyenvmod import backends
from pyenvmod.config import SCHEMA
from pyenvmod.packages import buildpolicy, mpi

PARALLEL_HDF5 = "/usr/lib/x86_64-linux-gnu/hdf5/mpich"


def defaults(**changes) -> dict:
    return {**{k: v[0] for k, v in SCHEMA.items()}, **changes}


@pytest.fixture
def home(tmp_path, monkeypatch):
    require(shutil.which("mpicc.mpich") is not None, "Debian's mpich", "apt-get install mpich libmpich-dev")
    for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "UV_CONFIG_FILE", "UV_NO_CONFIG", "UV_CACHE_DIR", "PIP_CACHE_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def mpi_environ(**more) -> dict:
    return {"PATH": "/usr/bin:/bin", "LOADEDMODULES": "mpich/4.0", **more}


def backend(name, home, **env):
    return backends.get(name, {"HOME": str(home), "PIP_NO_BINARY": "six", "UV_ONLY_BINARY": "1", **env})


def test_without_an_mpi_the_switches_become_flags_and_the_caches_stay(home):
    told = []
    uv = backend("uv", home, UV_CACHE_DIR="/c/uv")
    flags, plan = buildpolicy.prepare(defaults(), uv, [], ["mpi4py"], ["numpy"], told.append,
                                      environ={"PIP_NO_BINARY": "six", "UV_ONLY_BINARY": "1"})
    assert flags == ["numpy", "six"] and uv.only_binary == [":all:"] and plan.mpi is None
    assert uv.env["UV_CACHE_DIR"] == "/c/uv" and "PIP_CACHE_DIR" not in uv.env
    assert not [v for v in ("PIP_NO_BINARY", "UV_ONLY_BINARY") if v in uv.env] and told == []


@pytest.mark.parametrize("name", ["uv", "venv"])
def test_with_an_mpi_each_tool_gets_the_cache_of_that_mpi_and_the_wrappers(home, name):
    told = []
    tool = backend(name, home, UV_CACHE_DIR="/c/uv")
    flags, plan = buildpolicy.prepare(defaults(), tool, ["mpich/4.0"], ["mpi4py", "numpy"], [], told.append,
                                      environ=mpi_environ())
    identity = plan.mpi.identity
    assert tool.env["UV_CACHE_DIR"] == f"/c/uv-mpi/{identity}"
    assert tool.env["PIP_CACHE_DIR"] == f"{home}/.cache/pip-mpi/{identity}"
    assert tool.env["MPICC"] == "/usr/bin/mpicc" and tool.env["MPICXX"] == "/usr/bin/mpicxx"
    assert "mpi4py" in flags and "numpy" not in flags and "PIP_NO_BINARY" not in tool.env
    assert told == buildpolicy.describe(plan) and told[0].startswith(
        f"building mpi4py from source against mpich/4.0 ({plan.mpi.version}), with MPICC=/usr/bin/mpicc: ")


def test_the_default_caches_follow_xdg_cache_home(home):
    tool = backend("uv", home, XDG_CACHE_HOME="/x/cache")
    _, plan = buildpolicy.prepare(defaults(), tool, ["mpich/4.0"], ["numpy"], [], lambda m: None,
                                  environ=mpi_environ())
    assert tool.env["UV_CACHE_DIR"] == f"/x/cache/uv-mpi/{plan.mpi.identity}"
    assert tool.env["PIP_CACHE_DIR"] == f"/x/cache/pip-mpi/{plan.mpi.identity}"


def test_conda_pins_the_external_mpi_and_builds_nothing(home):
    told = []
    conda = backends.get("conda", {"HOME": str(home)}, channels=["conda-forge"])
    flags, plan = buildpolicy.prepare(defaults(), conda, ["mpich/4.0"], ["mpi4py"], [], told.append,
                                      environ=mpi_environ())
    assert flags == [] and plan.mpi_built == [] and conda.constraints == ["mpich=*=external_*"]
    assert told == ["pinning mpich=*=external_*: conda packages use the MPI of mpich/4.0, not the channel's own"]
    assert "MPICC" not in conda.env


def test_a_parallel_h5py_builds_with_the_environments_mpi4py_through_a_uv_toml(home):
    require(os.path.isfile(f"{PARALLEL_HDF5}/include/H5pubconf.h"), "Debian's parallel HDF5",
            "apt-get install libhdf5-mpich-dev")
    tool = backend("uv", home)
    _, plan = buildpolicy.prepare(defaults(), tool, ["mpich/4.0"], ["h5py"], [], lambda m: None,
                                  environ=mpi_environ(HDF5_DIR=PARALLEL_HDF5))
    toml = Path(tool.env["UV_CACHE_DIR"]).parent / "pyenvmod-h5py-uv.toml"
    assert tool.env["UV_CONFIG_FILE"] == str(toml) and tool.env["H5PY_SETUP_REQUIRES"] == "0"
    assert toml.read_text().endswith('[extra-build-dependencies]\nh5py = ["mpi4py"]\n')
    assert tool.env["HDF5_MPI"] == "ON" and plan.extra == ["mpi4py"]


@pytest.mark.parametrize("case", ["layered", "pip", "UV_CONFIG_FILE", "UV_NO_CONFIG", "user uv.toml"])
def test_the_h5py_uv_toml_never_replaces_a_configuration_of_the_users(home, case):
    require(os.path.isfile(f"{PARALLEL_HDF5}/include/H5pubconf.h"), "Debian's parallel HDF5",
            "apt-get install libhdf5-mpich-dev")
    env = {"UV_CONFIG_FILE": "/mine/uv.toml"} if case == "UV_CONFIG_FILE" else \
        {"UV_NO_CONFIG": "1"} if case == "UV_NO_CONFIG" else {}
    if case == "user uv.toml":
        (home / ".config" / "uv").mkdir(parents=True)
        (home / ".config" / "uv" / "uv.toml").write_text("")
    tool = backend("venv" if case == "pip" else "uv", home, **env)
    buildpolicy.prepare(defaults(), tool, ["mpich/4.0"], ["h5py"], [], lambda m: None, layered=case == "layered",
                        environ=mpi_environ(HDF5_DIR=PARALLEL_HDF5))
    assert tool.env.get("UV_CONFIG_FILE") == env.get("UV_CONFIG_FILE") and "H5PY_SETUP_REQUIRES" not in tool.env
    assert not (Path(tool.env["UV_CACHE_DIR"]).parent / "pyenvmod-h5py-uv.toml").exists()


def test_the_user_uv_toml_is_looked_for_in_xdg_config_home(home):
    require(os.path.isfile(f"{PARALLEL_HDF5}/include/H5pubconf.h"), "Debian's parallel HDF5",
            "apt-get install libhdf5-mpich-dev")
    config = home.parent / "xdg-config"
    (config / "uv").mkdir(parents=True)
    (config / "uv" / "uv.toml").write_text("")
    tool = backend("uv", home, XDG_CONFIG_HOME=str(config))
    buildpolicy.prepare(defaults(), tool, ["mpich/4.0"], ["h5py"], [], lambda m: None,
                        environ=mpi_environ(HDF5_DIR=PARALLEL_HDF5))
    assert "UV_CONFIG_FILE" not in tool.env


# ---- the recorded MPI module, loaded before a build -----------------------------------------------

@pytest.fixture
def lmod(home, tmp_path, monkeypatch):
    Lmod().require()
    tree, bindir = mpich_module_tree(tmp_path / "site", "4.0")
    for var in ("LOADEDMODULES", "_LMFILES_", "MODULES_CMD", "MPICC"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LMOD_CMD", Lmod.modulecmd())
    monkeypatch.setenv("MODULEPATH", str(tree))
    saved = dict(os.environ)
    yield bindir
    os.environ.clear()  # a load changes this process's environment (PATH, Lmod's own variables)
    os.environ.update(saved)


def test_the_recorded_mpi_module_is_loaded_before_building(lmod, monkeypatch):
    told = []
    tool = backends.get("uv", {"PATH": "/usr/bin:/bin"})
    buildpolicy.load_recorded_mpi(defaults(), tool, ["mpich/4.0"], told.append)
    assert told == ["loading mpich/4.0 with Lmod before building (the environment's modules)"]
    assert os.environ["LOADEDMODULES"] == "mpich/4.0" and tool.env["MPICC"] == f"{lmod}/mpicc"
    assert tool.env["PATH"].split(":")[0] == str(lmod)
    told.clear()
    buildpolicy.load_recorded_mpi(defaults(), tool, ["mpich/4.0"], told.append)  # loaded already: nothing
    assert told == []


def test_nothing_is_loaded_without_an_mpi_module_or_a_module_system(lmod, monkeypatch):
    told = []
    tool = backends.get("uv", {"PATH": "/usr/bin:/bin"})
    buildpolicy.load_recorded_mpi(defaults(), tool, ["gcc/13.2"], told.append)
    monkeypatch.delenv("LMOD_CMD")
    buildpolicy.load_recorded_mpi(defaults(), tool, ["mpich/4.0"], told.append)
    assert told == [] and "MPICC" not in tool.env and "LOADEDMODULES" not in os.environ


def test_an_mpi_module_of_the_sites_patterns_is_loaded(lmod, tmp_path, monkeypatch):
    site = tmp_path / "site" / "modules" / "site-mpi"
    site.mkdir()
    (site / "2.lua").write_text('setenv("SITE_MPI", "2")\n')
    (site.parent / "gcc").mkdir()
    (site.parent / "gcc" / "13.2.lua").write_text('setenv("GCC_HOME", "/opt/gcc")\n')
    tool = backends.get("uv", {})
    told = []
    buildpolicy.load_recorded_mpi(defaults(mpi_modules=["site-mpi"]), tool, ["gcc/13.2", "site-mpi/2"], told.append)
    assert tool.env.get("SITE_MPI") == "2" and told and "gcc/13.2 site-mpi/2" in told[0]


def test_the_mpi_of_an_environment_is_what_its_record_says():
    class Record:
        mpi = {"module": "mpich/4.0", "identity": "x"}

    assert mpi.recorded(Record()) == Record.mpi
    Record.mpi = {"module": ""}
    assert mpi.recorded(Record()) is None
    Record.mpi = "mpich/4.0"
    assert mpi.recorded(Record()) is None
    assert mpi.recorded(object()) is None


# ---- whose uv.toml counts: the build's HOME, then this process's --------------------------------------

def _h5py_uv_toml(tool):
    require(os.path.isfile(f"{PARALLEL_HDF5}/include/H5pubconf.h"), "Debian's parallel HDF5",
            "apt-get install libhdf5-mpich-dev")
    buildpolicy.prepare(defaults(), tool, ["mpich/4.0"], ["h5py"], [], lambda m: None,
                        environ=mpi_environ(HDF5_DIR=PARALLEL_HDF5))
    return tool.env.get("UV_CONFIG_FILE")


def test_the_user_uv_toml_is_looked_for_in_the_builds_home_not_this_processs(home):
    builder = home.parent / "builder"
    (builder / ".config" / "uv").mkdir(parents=True)
    (builder / ".config" / "uv" / "uv.toml").write_text("")
    assert _h5py_uv_toml(backends.get("uv", {"HOME": str(builder)})) is None
    assert _h5py_uv_toml(backends.get("uv", {"HOME": str(home.parent / "other")})) is not None


def test_without_home_in_the_builds_environment_this_processs_home_counts(home):
    (home / ".config" / "uv").mkdir(parents=True)
    (home / ".config" / "uv" / "uv.toml").write_text("")
    tool = backends.get("uv", {"PATH": "/usr/bin:/bin", "UV_CACHE_DIR": str(home.parent / "cache" / "uv")})
    assert "HOME" not in tool.env and _h5py_uv_toml(tool) is None


def test_a_uv_config_folder_without_a_uv_toml_is_no_configuration(home):
    (home / ".config" / "uv").mkdir(parents=True)
    toml = _h5py_uv_toml(backends.get("uv", {"HOME": str(home)}))
    assert toml is not None and Path(toml).name == "pyenvmod-h5py-uv.toml"


def test_an_mpi_module_loaded_among_others_is_not_loaded_again(lmod, monkeypatch):
    told = []
    monkeypatch.setenv("LOADEDMODULES", "gcc/13.2:mpich/4.0:tool/1")
    buildpolicy.load_recorded_mpi(defaults(), backends.get("uv", {}), ["gcc/13.2", "mpich/4.0"], told.append)
    assert told == []


def test_only_what_the_load_changed_goes_to_the_build(lmod, monkeypatch):
    monkeypatch.setenv("UNRELATED_SETTING", "kept out")
    tool = backends.get("uv", {"PATH": "/usr/bin:/bin"})
    buildpolicy.load_recorded_mpi(defaults(), tool, ["mpich/4.0"], lambda m: None)
    assert tool.env["MPICC"] == f"{lmod}/mpicc" and "UNRELATED_SETTING" not in tool.env


def test_without_home_or_xdg_in_the_builds_environment_the_caches_are_under_this_processs_home(home):
    tool = backends.get("uv", {"PATH": "/usr/bin:/bin"})
    _, plan = buildpolicy.prepare(defaults(), tool, ["mpich/4.0"], ["numpy"], [], lambda m: None,
                                  environ=mpi_environ())
    assert tool.env["UV_CACHE_DIR"] == f"{home}/.cache/uv-mpi/{plan.mpi.identity}"
    assert tool.env["PIP_CACHE_DIR"] == f"{home}/.cache/pip-mpi/{plan.mpi.identity}"


def test_the_h5py_uv_toml_says_who_wrote_it(home):
    toml = _h5py_uv_toml(backends.get("uv", {"HOME": str(home)}))
    assert Path(toml).read_text().startswith("# written by pyenvmod")


def test_the_process_environment_is_planned_for_by_default(home, monkeypatch):
    for var, value in mpi_environ().items():
        monkeypatch.setenv(var, value)
    monkeypatch.delenv("MPICC", raising=False)
    _, plan = buildpolicy.prepare(defaults(), backends.get("uv", {"HOME": str(home)}), ["mpich/4.0"], ["mpi4py"], [],
                                  lambda m: None)
    assert plan.mpi.module == "mpich/4.0" and plan.mpi_built == ["mpi4py"]


def test_every_binary_switch_of_the_backends_environment_is_folded_into_flags(home):
    tool = backend("uv", home, UV_NO_BINARY="1", UV_NO_BINARY_PACKAGE="six", PIP_ONLY_BINARY="numpy")
    buildpolicy.prepare(defaults(), tool, [], ["six"], [], lambda m: None, environ={"UV_NO_BINARY": "1"})
    assert not [v for v in (*buildpolicy.NO_BINARY_VARS, *buildpolicy.ONLY_BINARY_VARS, "UV_NO_BINARY",
                            "UV_ONLY_BINARY") if v in tool.env]


def test_an_install_that_is_not_layered_gets_the_h5py_uv_toml_by_default(home):
    require(os.path.isfile(f"{PARALLEL_HDF5}/include/H5pubconf.h"), "Debian's parallel HDF5",
            "apt-get install libhdf5-mpich-dev")
    plan = buildpolicy.plan(defaults(), mpi_environ(HDF5_DIR=PARALLEL_HDF5), ["mpich/4.0"], ["h5py"])
    tool = backends.get("uv", {"HOME": str(home)})
    buildpolicy.apply(tool, plan)
    assert tool.env["UV_CONFIG_FILE"].endswith("pyenvmod-h5py-uv.toml")


@pytest.mark.parametrize("flavor, pinned", [("openmpi", ["openmpi=*=external_*"]), ("mpich", ["mpich=*=external_*"]),
                                            ("other", [])])
def test_conda_pins_the_external_build_of_each_mpi_family_it_knows(home, flavor, pinned):
    plan = buildpolicy.Plan()
    plan.mpi = mpi.Mpi(f"{flavor}/1", "", "", "", flavor, "0" * 16)
    conda = backends.get("conda", {"HOME": str(home)}, channels=["conda-forge"])
    assert buildpolicy.apply(conda, plan) == [] and conda.constraints == pinned


# ---- the plan's lists and wrappers, and what the user is told ----------------------------------------

def test_a_spec_that_is_not_a_requirement_does_not_hide_the_ones_after_it(home):
    plan = buildpolicy.plan(defaults(), mpi_environ(), ["mpich/4.0"], ["./local", "mpi4py"])
    assert plan.mpi_built == ["mpi4py"]


def test_a_name_in_both_lists_is_built_from_source_and_all_stays_only_binary(home):
    plan = buildpolicy.plan(defaults(only_binary=[":all:", "six"], no_binary=["six", ":all:"]), {}, [], ["six"])
    assert plan.only_binary == [":all:"] and plan.no_binary == ["six", ":all:"]


def test_the_fortran_and_cxx_wrappers_beside_mpicc_go_to_the_build(home, tmp_path):
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("mpicc", "mpifort"):
        (folder / tool).write_text("#!/bin/sh\nexit 1\n")
        (folder / tool).chmod(0o755)
    (folder / "mpif90").write_text("not executable\n")
    plan = buildpolicy.plan(defaults(), mpi_environ(MPICC=str(folder / "mpicc")), ["mpich/4.0"], ["mpi4py"])
    assert plan.build_env == {"MPICC": f"{folder}/mpicc", "MPIFC": f"{folder}/mpifort"}
    debian = buildpolicy.plan(defaults(), mpi_environ(), ["mpich/4.0"], ["mpi4py"])
    assert {k: debian.build_env[k] for k in ("MPICXX", "MPIFC", "MPIF90")} == {
        "MPICXX": "/usr/bin/mpicxx", "MPIFC": "/usr/bin/mpifort", "MPIF90": "/usr/bin/mpif90"}


def _plan(built, version="", hdf5=""):
    plan = buildpolicy.Plan()
    plan.mpi = mpi.Mpi("mpich/4.1", "/opt/mpich/bin/mpicc", "", version, "mpich", "0" * 16)
    plan.mpi_built, plan.hdf5 = built, hdf5
    return plan


def test_what_the_user_is_told_before_a_build_word_for_word():
    assert buildpolicy.describe(_plan(["mpi4py", "h5py"], hdf5="/opt/hdf5")) == [
        "building mpi4py, h5py from source against mpich/4.1, with MPICC=/opt/mpich/bin/mpicc: they link MPI, and "
        "a binary wheel would bring its own MPI (or none) instead of the module's; this can take several minutes",
        "h5py: parallel HDF5 from HDF5_DIR=/opt/hdf5 (HDF5_MPI=ON, CC=mpicc)"]
    told = buildpolicy.describe(_plan(["mpi4py"], version="MPICH Version: 4.1", hdf5="/opt/hdf5"))
    assert len(told) == 1 and told[0].startswith("building mpi4py from source against mpich/4.1 (MPICH Version: 4.1), ")
    assert buildpolicy.describe(_plan([])) == []


@pytest.mark.parametrize("value, on", [("True", True), ("YES", True), ("on", True), ("0", False), ("", False)])
def test_uv_binary_switches_are_read_in_any_case(value, on):
    assert buildpolicy.switches({"UV_NO_BINARY": value, "UV_ONLY_BINARY": value}) == (
        ([":all:"], [":all:"]) if on else ([], []))
    assert buildpolicy.switches({"PIP_NO_BINARY": ":all:"}) == ([":all:"], [])


@pytest.mark.parametrize("packages, extra", [(["h5py"], ["mpi4py"]), (["h5py", "mpi4py"], []), (["numpy"], [])])
def test_a_parallel_h5py_gets_mpi4py_only_when_it_is_asked_for_without_it(home, packages, extra):
    require(os.path.isfile(f"{PARALLEL_HDF5}/include/H5pubconf.h"), "Debian's parallel HDF5",
            "apt-get install libhdf5-mpich-dev")
    plan = buildpolicy.plan(defaults(), mpi_environ(HDF5_DIR=PARALLEL_HDF5), ["mpich/4.0"], packages)
    assert plan.extra == extra
    assert (plan.build_env["HDF5_MPI"], plan.build_env["CC"], plan.build_env["HDF5_DIR"]) == (
        "ON", "/usr/bin/mpicc", PARALLEL_HDF5)


def test_a_plan_adds_no_package_and_no_hdf5_line_by_default():
    assert buildpolicy.plan(defaults(), {}, [], ["six"]).extra == []
    plan = buildpolicy.Plan()
    plan.mpi, plan.mpi_built = mpi.Mpi("mpich/4.1", "/opt/mpich/bin/mpicc", "", "", "mpich", "0" * 16), ["h5py"]
    assert len(buildpolicy.describe(plan)) == 1
