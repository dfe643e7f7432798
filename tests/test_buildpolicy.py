"""Which packages are built from source: the ecosystem's switches with every backend, and MPI-linked
packages built against a recorded MPI module (real Debian mpich behind a real Lmod module) on
create, install, update, --file and --clone. The MPI-linked package here is a small local one
(tests/mpipkg.py) whose wheel and sdist say which one was installed, so no slow build runs;
tests/test_mpi.py builds the real mpi4py and h5py."""

import json
import os
import shlex
import shutil
from pathlib import Path

import pytest

import condachannel
import mpipkg
from conftest import Cli, assert_one_line_error, clean_env
from modsys import Lmod, require, run_bash
from mpienv import mpich_module_tree, mpich_version

from pyenvmod.packages import buildpolicy, mpi
from pyenvmod.config import SCHEMA

NAME = mpipkg.NAME


def defaults(**changes) -> dict:
    return {**{k: v[0] for k, v in SCHEMA.items()}, **changes}


# ---- pure logic -------------------------------------------------------------------------------

def test_switches_are_read_from_pip_and_uv_variables():
    no, only = buildpolicy.switches({"PIP_NO_BINARY": "Mpi4Py,h5py", "UV_NO_BINARY_PACKAGE": "petsc4py netCDF4",
                                     "PIP_ONLY_BINARY": "numpy", "UV_ONLY_BINARY_PACKAGE": "scipy"})
    assert no == ["mpi4py", "h5py", "petsc4py", "netcdf4"] and only == ["numpy", "scipy"]
    assert buildpolicy.switches({"UV_NO_BINARY": "1", "UV_ONLY_BINARY": "true"}) == ([":all:"], [":all:"])
    assert buildpolicy.switches({"PIP_NO_BINARY": "h5py :none: mpi4py", "UV_NO_BINARY": "0"}) == (["mpi4py"], [])


def test_all_goes_first_so_a_named_package_wins_in_pip_and_uv():
    from pyenvmod import backends

    backend = backends.get("venv", {})
    backend.only_binary = [":all:"]
    assert backend.no_binary_args(["mpi4py"]) == ["--only-binary", ":all:", "--no-binary", "mpi4py"]
    backend.only_binary = ["numpy"]
    assert backend.no_binary_args([":all:"]) == ["--no-binary", ":all:", "--only-binary", "numpy"]


def test_plan_builds_mpi_packages_only_with_an_mpi_module(tmp_path):
    require(shutil.which("mpicc.mpich") is not None, "Debian's mpich", "apt-get install mpich libmpich-dev")
    environ = {"PATH": "/usr/bin:/bin", "LOADEDMODULES": "gcc/13.2:mpich/4.0:site-mpi/2"}
    none = buildpolicy.plan(defaults(), environ, ["gcc/13.2"], ["mpi4py", "numpy"])
    assert none.mpi is None and none.no_binary == []
    with_mpi = buildpolicy.plan(defaults(), environ, ["gcc/13.2", "mpich/4.0"], ["mpi4py", "numpy"])
    assert with_mpi.mpi.module == "mpich/4.0" and with_mpi.mpi.flavor == "mpich"
    assert with_mpi.mpi.library == os.path.realpath(with_mpi.mpi.library) and "libmpich" in with_mpi.mpi.library
    assert set(with_mpi.no_binary) == {"mpi4py", "h5py", "petsc4py", "slepc4py", "mpi4jax", "netcdf4", "adios2"}
    assert with_mpi.mpi_built == ["mpi4py"] and with_mpi.build_env["MPICC"] == "/usr/bin/mpicc"
    assert "several minutes" in buildpolicy.describe(with_mpi)[0]
    opted_out = buildpolicy.plan(defaults(only_binary=["h5py"]), dict(environ, PIP_ONLY_BINARY="mpi4py"),
                                 ["mpich/4.0"], ["mpi4py"])
    assert "mpi4py" not in opted_out.no_binary and "h5py" not in opted_out.no_binary
    assert opted_out.only_binary == ["h5py", "mpi4py"] and opted_out.mpi_built == []
    site = buildpolicy.plan(defaults(mpi_packages=["mpilinkedfake"], mpi_modules=["site-mpi"]), environ,
                            ["site-mpi/2"], [NAME])
    assert site.no_binary == [NAME] and site.mpi_built == [NAME]


def test_a_loaded_module_whose_mpicc_is_on_path_is_the_mpi(tmp_path):
    require(shutil.which("mpicc.mpich") is not None, "Debian's mpich", "apt-get install mpich libmpich-dev")
    bindir = tmp_path / "sitempi" / "bin"
    bindir.mkdir(parents=True)
    os.symlink(shutil.which("mpicc.mpich"), bindir / "mpicc")
    modulefile = tmp_path / "modules" / "toolchain" / "1.lua"
    modulefile.parent.mkdir(parents=True)
    modulefile.write_text(f'prepend_path("PATH", "{bindir}")\n')
    environ = {"PATH": f"{bindir}:/usr/bin:/bin", "LOADEDMODULES": "toolchain/1", "_LMFILES_": str(modulefile)}
    found = mpi.detect(["toolchain/1"], environ, ["mpich"])
    assert found.module == "toolchain/1" and found.mpicc == str(bindir / "mpicc")
    assert mpi.detect(["toolchain/1"], {"PATH": "/usr/bin:/bin"}, ["mpich"]) is None  # system mpicc: no module


def test_each_mpi_gets_its_own_cache(tmp_path):
    """The same MPI behind two modules shares a cache; another copy of the library is another MPI."""
    require(shutil.which("mpicc.mpich") is not None, "Debian's mpich", "apt-get install mpich libmpich-dev")
    first = mpi.detect(["mpich/4.0"], {"PATH": "/usr/bin:/bin", "LOADEDMODULES": "mpich/4.0"}, ["mpich"])
    again = mpi.detect(["mpich/4.0-b"], {"PATH": "/usr/bin:/bin", "MPICC": "/usr/bin/mpicc.mpich",
                                         "LOADEDMODULES": "mpich/4.0-b"}, ["mpich"])
    assert first.identity == again.identity
    # a second install of the library (a site's other build), with its own wrapper
    libdir = tmp_path / "other" / "lib"
    libdir.mkdir(parents=True)
    shutil.copy(first.library, libdir / "libmpich.so.12")
    (libdir / "libmpich.so").symlink_to("libmpich.so.12")
    wrapper = tmp_path / "other" / "bin" / "mpicc"
    wrapper.parent.mkdir()
    show = f"gcc -I/usr/include/x86_64-linux-gnu/mpich -L{libdir} -lmpich"
    wrapper.write_text(f'#!/bin/sh\n[ "$1" = -show ] && {{ echo "{show}"; exit 0; }}\nexec {show} "$@"\n')
    wrapper.chmod(0o755)
    other = mpi.detect(["mpich/other"], {"PATH": f"{wrapper.parent}:/usr/bin:/bin", "LOADEDMODULES": "mpich/other"},
                       ["mpich"])
    assert other.library == str(libdir / "libmpich.so.12") and other.version == first.version
    assert other.identity != first.identity
    base = str(tmp_path / "cache" / "uv")
    assert buildpolicy.cache_folder(base, first.identity) != buildpolicy.cache_folder(base, other.identity)
    assert buildpolicy.cache_folder(base, first.identity) == f"{base}-mpi/{first.identity}"


def test_parallel_hdf5_is_told_from_its_header(tmp_path):
    debian = "/usr/lib/x86_64-linux-gnu/hdf5/mpich"
    require(os.path.isfile(f"{debian}/include/H5pubconf.h"), "Debian's parallel HDF5",
            "apt-get install libhdf5-mpich-dev")
    assert mpi.parallel_hdf5({"HDF5_DIR": debian}) == debian
    serial = tmp_path / "include"
    serial.mkdir()
    (serial / "H5pubconf.h").write_text("/* #undef H5_HAVE_PARALLEL */\n")
    assert mpi.parallel_hdf5({"HDF5_DIR": str(tmp_path)}) == ""
    assert mpi.parallel_hdf5({}) == ""
    require(shutil.which("mpicc.mpich") is not None, "Debian's mpich", "apt-get install mpich libmpich-dev")
    environ = {"PATH": "/usr/bin:/bin", "LOADEDMODULES": "mpich/4.0", "HDF5_DIR": debian}
    h5 = buildpolicy.plan(defaults(), environ, ["mpich/4.0"], ["h5py"])
    assert h5.build_env["HDF5_MPI"] == "ON" and h5.build_env["CC"] == "/usr/bin/mpicc" and h5.extra == ["mpi4py"]
    assert "HDF5_MPI" not in buildpolicy.plan(defaults(), dict(environ, HDF5_DIR=str(tmp_path)), ["mpich/4.0"],
                                              ["h5py"]).build_env


# ---- real pyenvmod runs -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def links(tmp_path_factory):
    return mpipkg.make(tmp_path_factory.mktemp("links"))


def local_env(base: Path, links: Path) -> dict:
    env = clean_env(base)
    env.update(PIP_FIND_LINKS=str(links), UV_FIND_LINKS=str(links))
    return env


def prefix_of(cli, name) -> str:
    return next(e["prefix"] for e in json.loads(cli("list", "--json").stdout) if e["name"] == name)


SWITCHES = {
    "PIP_NO_BINARY": ({"PIP_NO_BINARY": NAME}, None, "sdist"),
    "UV_NO_BINARY_PACKAGE": ({"UV_NO_BINARY_PACKAGE": NAME}, None, "sdist"),
    "PIP_NO_BINARY-all": ({"PIP_NO_BINARY": ":all:"}, None, "sdist"),
    "config-no_binary": ({}, f"no_binary: [{NAME}]\n", "sdist"),
    "config-all-and-PIP_ONLY_BINARY": ({"PIP_ONLY_BINARY": NAME}, "no_binary: [':all:']\n", "wheel"),
    "PIP_ONLY_BINARY-all-and-UV_NO_BINARY_PACKAGE": ({"PIP_ONLY_BINARY": ":all:", "UV_NO_BINARY_PACKAGE": NAME},
                                                     None, "sdist"),
    "nothing": ({}, None, "wheel"),
}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["uv", "venv"])
@pytest.mark.parametrize("case", sorted(SWITCHES))
def test_every_backend_honours_the_binary_switches(tmp_path, links, backend, case):
    variables, config, expected = SWITCHES[case]
    env = local_env(tmp_path, links)
    # uv reuses a wheel it built from an sdist before: each case gets a cache of its own
    env.update(UV_CACHE_DIR=str(tmp_path / "uv-cache"), PIP_CACHE_DIR=str(tmp_path / "pip-cache"))
    if config:
        (Path(env["XDG_CONFIG_HOME"]) / "pyenvmod").mkdir(parents=True)
        (Path(env["XDG_CONFIG_HOME"]) / "pyenvmod" / "config.yaml").write_text(config)
    cli = Cli(env)
    cli("create", "sw", "--backend", backend, "-p", NAME, extra_env=variables)
    assert mpipkg.flavor(prefix_of(cli, "sw"))["FLAVOR"] == expected


@pytest.fixture(scope="module")
def mpich_site(tmp_path_factory):
    version = mpich_version()
    lmod = Lmod().require()
    base = tmp_path_factory.mktemp("mpisite")
    site, bindir = mpich_module_tree(base / "site", version)
    return {"lmod": lmod, "site": site, "bindir": bindir, "module": f"mpich/{version}"}


def in_lmod(mpich_site, env, commands: str, load=True, timeout=300):
    script = f"""{mpich_site['lmod'].init()}
module use {shlex.quote(str(mpich_site['site']))}
{'module load ' + mpich_site['module'] + ' || exit 11' if load else ''}
{commands}
"""
    return run_bash(script, env, timeout=timeout)


@pytest.mark.slow
def test_mpi_linked_packages_are_built_against_the_module_everywhere(tmp_path, links, mpich_site):
    env = local_env(tmp_path, links)
    Path(env["PYENVMOD_SITE_CONFIG"]).write_text(f"mpi_packages: [{NAME}]\n")  # a site's own list
    cli = Cli(env)
    mpicc = str(mpich_site["bindir"] / "mpicc")

    def check(name, version, flavor="sdist"):
        got = mpipkg.flavor(prefix_of(cli, name))
        assert got["FLAVOR"] == flavor, (name, got)
        if flavor == "sdist":
            assert got["BUILD_ENV"]["MPICC"] == mpicc
        record = json.loads(next(Path(env["PYENVMOD_ROOT"]).glob(f"*/meta/{name}.json")).read_text())
        assert record["packages"][NAME] == version
        return record

    made = in_lmod(mpich_site, env, f"pyenvmod create a -p {NAME}==1.0")
    assert made.returncode == 0, made.stdout + made.stderr
    assert f"building {NAME} from source against {mpich_site['module']}" in made.stderr
    assert "several minutes" in made.stderr and "a binary wheel would bring its own MPI" in made.stderr
    record = check("a", "1.0")
    assert record["mpi"]["module"] == mpich_site["module"] and "libmpich" in record["mpi"]["library"]
    identity = record["mpi"]["identity"]
    assert (Path(env["UV_CACHE_DIR"] + "-mpi") / identity).is_dir()  # this MPI's own cache

    # without the module: the wheel
    cli("create", "plain", "-p", NAME)
    check("plain", "1.1", "wheel")

    # install into an environment whose MPI module is not loaded in this shell: pyenvmod loads it
    assert in_lmod(mpich_site, env, "pyenvmod create c").returncode == 0
    installed = in_lmod(mpich_site, env, f"pyenvmod install c {NAME}", load=False)
    assert installed.returncode == 0, installed.stderr
    assert f"loading {mpich_site['module']} with Lmod" in installed.stderr
    check("c", "1.1")

    updated = in_lmod(mpich_site, env, f"pyenvmod update a {NAME}")
    assert updated.returncode == 0, updated.stderr
    check("a", "1.1")

    # rollback to the create: 1.0 again, built against the module (the default cache has only 1.1's wheel)
    rolled = in_lmod(mpich_site, env, "pyenvmod rollback a --to 1", load=False)
    assert rolled.returncode == 0, rolled.stderr
    check("a", "1.0")
    assert in_lmod(mpich_site, env, f"pyenvmod update a {NAME}").returncode == 0
    check("a", "1.1")

    (tmp_path / "a.yaml").write_text(cli("export", "a").stdout)
    from_file = in_lmod(mpich_site, env, f"pyenvmod create d --file {tmp_path / 'a.yaml'}", load=False)
    assert from_file.returncode == 0, from_file.stderr
    check("d", "1.1")
    cloned = in_lmod(mpich_site, env, "pyenvmod create e --clone a", load=False)
    assert cloned.returncode == 0, cloned.stderr
    check("e", "1.1")

    # a package named in PIP_ONLY_BINARY keeps its wheel even with the MPI module
    env_only = dict(env, PIP_ONLY_BINARY=NAME)
    assert in_lmod(mpich_site, env_only, f"pyenvmod create f -p {NAME}").returncode == 0
    check("f", "1.1", "wheel")


@pytest.mark.slow
def test_an_mpi_module_without_mpicc_is_a_clear_error(tmp_path, links, mpich_site):
    env = local_env(tmp_path, links)
    Path(env["PYENVMOD_SITE_CONFIG"]).write_text(f"mpi_packages: [{NAME}]\n")
    result = Cli(env)("create", "x", "--modules", "mpich/9.9", "-p", NAME, check=False)
    assert_one_line_error(result, "mpich/9.9", "no mpicc", "module load mpich/9.9")
    assert not list(Path(env["PYENVMOD_ROOT"]).glob("*/envs/x"))


# ---- conda: the channel's external MPI build --------------------------------------------------

@pytest.fixture(scope="module")
def mpi_channel(tmp_path_factory):
    try:
        import rattler  # noqa: F401
    except ImportError:
        require(False, "py-rattler", "pip install 'pyenvmod[conda]'")
    folder = tmp_path_factory.mktemp("channel") / "local"
    condachannel.make(folder)
    condachannel.mpi(folder)
    return str(folder)


@pytest.mark.slow
def test_conda_pins_the_external_mpi_build_when_an_mpi_module_is_recorded(tmp_path, mpi_channel, mpich_site):
    env = clean_env(tmp_path)
    made = in_lmod(mpich_site, env, f"pyenvmod create cm --backend conda -c {mpi_channel} -p mpi-user")
    assert made.returncode == 0, made.stdout + made.stderr
    assert "pinning mpich=*=external_*" in made.stderr
    meta = [p.name for p in Path(env["PYENVMOD_ROOT"]).glob("*/envs/cm/conda-meta/mpich-*.json")]
    assert meta == ["mpich-4.0-external_0.json"], meta
    plain = Cli(env)("create", "cp", "--backend", "conda", "-c", mpi_channel, "-p", "mpi-user")
    assert "pinning" not in plain.stderr
    meta = [p.name for p in Path(env["PYENVMOD_ROOT"]).glob("*/envs/cp/conda-meta/mpich-*.json")]
    assert meta == ["mpich-4.0-h0001_1.json"], meta  # the channel's own MPI wins without the module

