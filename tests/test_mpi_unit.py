"""The MPI of the recorded modules (packages/mpi.py), in-process: real wrappers (sh scripts and
Debian's mpicc), real libraries on real folders, real modulefiles. Which module is the MPI, which
library a wrapper links, its flavor, and the one-line refusals."""

import os
import shutil

import pytest

from modsys import require

from pyenvmod.config import SCHEMA
from pyenvmod.errors import PyenvmodError
from pyenvmod.packages import mpi

PATTERNS = SCHEMA["mpi_modules"][0]
DEBIAN_LIB = "/usr/lib/x86_64-linux-gnu/libmpich.so.12.2.2"


def script(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("module, yes", [
    ("mpich/4.1", True), ("MPICH/4.1", True), ("openmpi/4.1.5-GCC-12.3.0", True), ("mvapich2/2.3", True),
    ("cray-mpich/8.1", True), ("mpi/openmpi-x86_64", True), ("compiler/openmpi/4.1", True), ("compiler/openmpi4", False), ("mpich", True),
    ("gcc/13.2", False), ("mpi4py/3.1", False), ("hdf5/1.14-mpich", False), ("Python/3.12", False)])
def test_which_module_names_are_an_mpi(module, yes):
    assert mpi.is_mpi_module(module, PATTERNS) is yes


def test_family_is_the_name_without_the_last_version():
    assert mpi.family("mpi/openmpi/4.1") == "mpi/openmpi" and mpi.family("mpich") == "mpich"
    assert mpi.is_mpi_module("Site-MPI/2", ["site-mpi"]) and not mpi.is_mpi_module("site-mpi2/2", ["site-mpi"])


@pytest.mark.parametrize("version, library, module, flavor", [
    ("Open MPI v4.1.5, package: Open MPI", "", "x/1", "openmpi"),
    ("", "/opt/lib/libmpi.so.40.30.5", "x/1", "openmpi"),
    ("", "", "openmpi/4.1", "openmpi"),
    ("MPICH Version: 4.0 MPICH Release date: ...", "/usr/lib/libmpich.so.12", "x/1", "mpich"),
    ("", "/opt/lib/libmpi.so.12", "mpich/4.1", "mpich"),  # MPICH's libmpi.so: the module says which
    # Intel MPI and MVAPICH link a libmpi.so.12 too: their version line tells the MPICH family
    ("Intel(R) MPI Library 2021.9 for Linux* OS", "/opt/intel/mpi/lib/release/libmpi.so.12.0.0", "impi/2021.9",
     "mpich"),
    ("MVAPICH2 Version      :\t2.3.7", "/opt/mvapich2/lib/libmpi.so.12.1.1", "mvapich2/2.3.7", "mpich"),
    ("MVAPICH2 Version 2.3.7", "", "x/1", "mpich"), ("", "", "cray-mpich/8.1", "mpich"),
    ("", "", "impi/2021", "mpich"), ("Some MPI 1.0", "/opt/lib/libsomempi.so", "site/1", "other"),
])
def test_the_flavor_is_the_abi_family(version, library, module, flavor):
    assert mpi.flavor_of(version, library, module) == flavor


def test_the_library_the_wrapper_links(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "libmpi.so.40.30.5").write_bytes(b"x")
    (lib / "libmpi.so.40").symlink_to("libmpi.so.40.30.5")
    (lib / "libmpicxx.so").write_bytes(b"x")
    (lib / "libmpi_other.so").write_bytes(b"x")
    real = str(lib / "libmpi.so.40.30.5")
    assert mpi._library(f"gcc -I/x -L{lib} -lmpicxx -lmpi") == real
    assert mpi._library(f"gcc -Wl,-rpath,/nowhere,{lib} -lmpi") == real
    assert mpi._library(f"gcc -L/nowhere -L{lib} -lmpi -lpthread") == real
    assert mpi._library(f"gcc -L{lib} -lmpicxx -lmpifort") == ""
    assert mpi._library(f"gcc -L{lib} -lpthread") == "" and mpi._library("") == ""


def test_a_library_without_a_folder_on_the_line_is_found_where_the_system_keeps_it():
    require(os.path.exists(DEBIAN_LIB), "Debian's mpich", "apt-get install libmpich-dev")
    assert mpi._library("gcc -I/usr/include/x86_64-linux-gnu/mpich -lmpich") == DEBIAN_LIB
    assert mpi._library("gcc -L/nowhere -lmpich") == DEBIAN_LIB
    assert mpi._library("gcc -lmpi_no_such_library") == ""


def test_the_link_line_from_show_or_showme(tmp_path):
    mpich = script(tmp_path / "a" / "mpicc", '[ "$1" = -show ] && { echo "gcc -lmpich"; exit 0; }\nexit 1\n')
    openmpi = script(tmp_path / "b" / "mpicc", '[ "$1" = --showme ] && { echo "gcc -lmpi"; exit 0; }\nexit 1\n')
    silent = script(tmp_path / "c" / "mpicc", "exit 0\n")
    assert mpi._show(str(mpich), {}) == "gcc -lmpich" and mpi._show(str(openmpi), {}) == "gcc -lmpi"
    assert mpi._show(str(silent), {}) == "" and mpi._show(str(tmp_path / "none"), {}) == ""


def test_the_wrapper_is_mpicc_from_the_variable_or_path(tmp_path):
    first = script(tmp_path / "first" / "mpicc", "exit 0\n")
    second = script(tmp_path / "second" / "mpicc-site", "exit 0\n")
    path = f"{first.parent}:{second.parent}"
    assert mpi._mpicc({"PATH": path}) == str(first)
    assert mpi._mpicc({"PATH": path, "MPICC": str(second)}) == str(second)
    assert mpi._mpicc({"PATH": path, "MPICC": "mpicc-site"}) == str(second)
    assert mpi._mpicc({"PATH": "/nowhere"}) == "" and mpi._mpicc({}) == ""
    (tmp_path / "plain").write_text("")
    assert mpi._mpicc({"PATH": path, "MPICC": str(tmp_path / "plain")}) == ""


def test_the_modulefile_of_a_loaded_module_and_what_it_names(tmp_path):
    environ = {"LOADEDMODULES": "gcc/13:tool/1", "_LMFILES_": "/m/gcc/13.lua:/m/tool/1.lua"}
    assert mpi._modulefile_of(environ, "tool/1") == "/m/tool/1.lua" and mpi._modulefile_of(environ, "x") == ""
    assert mpi._modulefile_of({}, "tool/1") == ""
    modulefile = tmp_path / "1.lua"
    modulefile.write_text('prepend_path("PATH", "/opt/site-mpi/bin")\n')
    assert mpi._provides(str(modulefile), "/opt/site-mpi/bin")
    assert mpi._provides(str(modulefile), "/opt/site-mpi/other")  # the folder above: the module's root
    assert not mpi._provides(str(modulefile), "/opt/else/bin")
    modulefile.write_text('prepend_path("PATH", "/usr/bin")\n')
    assert not mpi._provides(str(modulefile), "/usr/bin") and not mpi._provides(str(modulefile), "/bin/x")
    assert not mpi._provides(str(tmp_path / "missing.lua"), "/opt/site-mpi/bin")


def test_a_recorded_mpi_module_that_is_not_loaded_is_still_the_mpi(tmp_path):
    require(shutil.which("mpicc.mpich") is not None, "Debian's mpich", "apt-get install mpich libmpich-dev")
    found = mpi.detect(["gcc/13", "mpich/4.1"], {"PATH": "/usr/bin:/bin", "LOADEDMODULES": "gcc/13"}, PATTERNS)
    assert found.module == "mpich/4.1" and found.mpicc == "" and found.library == "" and found.flavor == "mpich"
    other = mpi.detect(["mpich/4.2"], {"PATH": "/usr/bin:/bin"}, PATTERNS)
    assert other.identity != found.identity  # the module's name is all there is: it keys the cache
    loaded = mpi.detect(["mpich/4.1"], {"PATH": "/usr/bin:/bin", "LOADEDMODULES": "mpich/4.1"}, PATTERNS)
    assert loaded.mpicc == "/usr/bin/mpicc" and loaded.library == DEBIAN_LIB
    assert loaded.version.startswith("MPICH Version:") and loaded.as_dict() == dict(loaded._asdict())
    assert list(loaded.as_dict()) == ["module", "mpicc", "library", "version", "flavor", "identity"]
    assert mpi.detect(["gcc/13"], {"PATH": "/usr/bin:/bin", "LOADEDMODULES": "gcc/13"}, PATTERNS) is None


def test_the_library_version_is_its_first_line(tmp_path):
    require(os.path.exists(DEBIAN_LIB), "Debian's mpich", "apt-get install libmpich-dev")
    version = mpi.library_version(DEBIAN_LIB)
    assert version.startswith("MPICH Version:") and "\n" not in version and "  " not in version
    assert mpi.library_version("") == ""
    (tmp_path / "libnot.so").write_bytes(b"not a library")
    assert mpi.library_version(str(tmp_path / "libnot.so")) == ""


def test_parallel_hdf5_from_a_header_beside_or_in_include(tmp_path):
    (tmp_path / "H5pubconf.h").write_text("#define H5_HAVE_PARALLEL 1\n")
    assert mpi.parallel_hdf5({"HDF5_DIR": str(tmp_path)}) == str(tmp_path)
    (tmp_path / "include").mkdir()
    (tmp_path / "include" / "H5pubconf.h").write_text("#define  H5_HAVE_PARALLEL   1\n")
    (tmp_path / "H5pubconf.h").write_text("/* serial */\n")
    assert mpi.parallel_hdf5({"HDF5_DIR": str(tmp_path)}) == str(tmp_path)
    (tmp_path / "include" / "H5pubconf.h").write_text("#define H5_HAVE_PARALLEL 0\n")
    assert mpi.parallel_hdf5({"HDF5_DIR": str(tmp_path)}) == ""
    assert mpi.parallel_hdf5({"HDF5_DIR": str(tmp_path / "missing")}) == ""


def test_a_build_against_an_mpi_without_a_wrapper_is_refused_word_for_word():
    mpi.require_compiler(mpi.Mpi("mpich/4.1", "/usr/bin/mpicc", "", "", "mpich", "0" * 16))
    with pytest.raises(PyenvmodError) as caught:
        mpi.require_compiler(mpi.Mpi("mpich/4.1", "", "", "", "mpich", "0" * 16))
    assert caught.value.message == (
        "the MPI module mpich/4.1 is recorded but no mpicc is on PATH (nor in $MPICC), so packages that link MPI "
        "cannot be built against it; load it first (module load mpich/4.1), or set only_binary for those packages")


def test_a_loaded_module_without_lmfiles_has_no_modulefile():
    assert mpi._modulefile_of({"LOADEDMODULES": "tool/1"}, "tool/1") == ""


def test_what_a_modulefile_names_is_read_from_its_first_200000_characters(tmp_path):
    modulefile = tmp_path / "1.lua"
    modulefile.write_bytes(b"-- \xff not UTF-8\n" + b'prepend_path("PATH", "/opt/site-mpi/bin")\n')
    assert mpi._provides(str(modulefile), "/opt/site-mpi/bin")
    modulefile.write_text("-" * 200_000 + 'prepend_path("PATH", "/opt/site-mpi/bin")\n')
    assert not mpi._provides(str(modulefile), "/opt/site-mpi/bin")
    # a folder right under / (its parent is never counted) whose last character is the 200,001st
    modulefile.write_text("-" * (200_001 - len("/mpi")) + "/mpi\n")
    assert not mpi._provides(str(modulefile), "/mpi")
    modulefile.write_text("-" * (200_000 - len("/mpi")) + "/mpi\n")
    assert mpi._provides(str(modulefile), "/mpi")


def test_the_root_folder_is_never_what_a_modulefile_names(tmp_path):
    modulefile = tmp_path / "1.lua"
    modulefile.write_text('setenv("SITE_DATA", "/srv/data")\n')
    assert not mpi._provides(str(modulefile), "/mpich")


def test_a_hdf5_header_with_bytes_that_are_not_utf8_is_read(tmp_path):
    (tmp_path / "H5pubconf.h").write_bytes(b"/* \xa9 The HDF Group */\n#define H5_HAVE_PARALLEL 1\n")
    assert mpi.parallel_hdf5({"HDF5_DIR": str(tmp_path)}) == str(tmp_path)


def test_the_wrapper_runs_with_the_environment_given(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "libmpi.so.40").write_bytes(b"x")
    wrapper = script(tmp_path / "bin" / "mpicc", '[ "$1" = -show ] && echo "gcc -L$SITE_MPI_LIB -lmpi"\n')
    environ = {"PATH": f"{wrapper.parent}:/usr/bin:/bin", "LOADEDMODULES": "openmpi/4.1", "SITE_MPI_LIB": str(lib)}
    found = mpi.detect(["openmpi/4.1"], environ, PATTERNS)
    assert found.mpicc == str(wrapper) and found.library == str(lib / "libmpi.so.40")


def test_a_wrapper_that_fails_on_show_is_asked_with_showme(tmp_path):
    wrapper = script(tmp_path / "mpicc", '[ "$1" = -show ] && { echo "unknown option"; exit 1; }\n'
                                         '[ "$1" = --showme ] && echo "gcc -lmpi"\n')
    assert mpi._show(str(wrapper), {}) == "gcc -lmpi"


def test_an_rpath_adds_to_the_library_folders_before_it(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "libmpi.so.40").write_bytes(b"x")
    assert mpi._library(f"gcc -L{tmp_path}/lib -Wl,-rpath,/nowhere -lmpi") == str(tmp_path / "lib" / "libmpi.so.40")


def test_the_library_version_is_asked_of_an_isolated_python(tmp_path, monkeypatch):
    require(os.path.exists(DEBIAN_LIB), "Debian's mpich", "apt-get install libmpich-dev")
    (tmp_path / "ctypes").mkdir()
    (tmp_path / "ctypes" / "__init__.py").write_text("raise SystemExit('a ctypes on PYTHONPATH ran')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    assert mpi.library_version(DEBIAN_LIB).startswith("MPICH Version:")


@pytest.mark.parametrize("version, library", [("Intel(R) MPI Library 2021.9 for Linux* OS", ""),
                                              ("", "/opt/cray/pe/lib64/libmpi_cray.so.12")])
def test_intel_and_cray_mpi_are_of_the_mpich_family_by_their_version_or_library(version, library):
    assert mpi.flavor_of(version, library, "site/1") == "mpich"
