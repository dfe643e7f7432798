"""Issue 23, cache keys: each input a key must depend on is changed alone, and the key (or what it
selects) changes with it. The MPI a build links (uv's and pip's cache folders per MPI) and the
configuration cache (one entry per file and text). The image stamp's are in test_guards_staging.py."""

import os
import shutil

import pytest

from pyenvmod import backends, config_cache
from pyenvmod.packages import buildpolicy, mpi

MPI_PATTERNS = ["mpich", "openmpi"]


def _wrapper(folder, show):
    """An MPI compiler wrapper (a real sh script) that prints its link line for -show."""
    path = folder / "bin" / "mpicc"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\n[ "$1" = -show ] && {{ echo "{show}"; exit 0; }}\nexit 1\n')
    path.chmod(0o755)
    return path


def _install(folder, data=b"\x7fELF library one"):
    """An MPI installation: its library and the wrapper linking it."""
    lib = folder / "lib"
    lib.mkdir(parents=True, exist_ok=True)
    (lib / "libmpich.so.12").write_bytes(data)
    if not (lib / "libmpich.so").is_symlink():
        (lib / "libmpich.so").symlink_to("libmpich.so.12")
    _wrapper(folder, f"gcc -I{folder}/include -L{lib} -lmpich")
    return folder


def _detect(folder, module="mpich/4.1"):
    environ = {"PATH": f"{folder}/bin:/usr/bin:/bin", "LOADEDMODULES": module}
    return mpi.detect([module], environ, MPI_PATTERNS)


def test_the_mpi_identity_follows_the_library_not_the_module_name(tmp_path):
    one = _install(tmp_path / "one")
    first = _detect(one)
    assert first.library == str(one / "lib" / "libmpich.so.12") and first.mpicc == str(one / "bin" / "mpicc")
    assert len(first.identity) == 16 and _detect(one).identity == first.identity  # stable
    assert _detect(one, module="mpich/4.1-debug").identity == first.identity  # the same MPI, another name


@pytest.mark.parametrize("change", ["library content", "library time", "another copy", "link line", "wrapper",
                                    "library re-pointed"])
def test_the_mpi_identity_changes_with_each_input(tmp_path, change):
    one = _install(tmp_path / "one")
    first = _detect(one)
    folder = one
    library = one / "lib" / "libmpich.so.12"
    if change == "library content":  # rebuilt in place, same path
        library.write_bytes(b"\x7fELF library two, longer")
    elif change == "library time":  # same size, rebuilt
        stat = library.stat()
        os.utime(library, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    elif change == "another copy":  # the same bytes installed elsewhere (a site's second build)
        folder = _install(tmp_path / "two")
        shutil.copystat(library, folder / "lib" / "libmpich.so.12")
    elif change == "link line":  # the wrapper now adds flags (another configuration of the same library)
        _wrapper(one, f"gcc -I{one}/include -L{one}/lib -lmpich -lpmi")
    elif change == "library re-pointed":  # libmpich.so now names another soname, same bytes and times
        shutil.copy2(library, one / "lib" / "libmpich.so.13")
        (one / "lib" / "libmpich.so").unlink()
        (one / "lib" / "libmpich.so").symlink_to("libmpich.so.13")
    else:  # another wrapper for the same library and link line
        other = tmp_path / "wrappers"
        _wrapper(other, f"gcc -I{one}/include -L{one}/lib -lmpich")
        folder = other
    assert _detect(folder).identity != first.identity


def test_without_a_wrapper_the_module_is_the_identity(tmp_path):
    environ = {"PATH": "/nonexistent", "LOADEDMODULES": ""}
    a = mpi.detect(["mpich/4.1"], environ, MPI_PATTERNS)
    b = mpi.detect(["mpich/4.2"], environ, MPI_PATTERNS)
    assert a.mpicc == "" and a.identity != b.identity
    assert mpi.detect(["mpich/4.1"], environ, MPI_PATTERNS).identity == a.identity


def _apply(tmp_path, found, backend_name="uv", env=None):
    plan = buildpolicy.Plan()
    plan.mpi = found
    backend = backends.get(backend_name, env or {"HOME": str(tmp_path / "home"),
                                                  "UV_CACHE_DIR": str(tmp_path / "cache" / "uv"),
                                                  "PIP_CACHE_DIR": str(tmp_path / "cache" / "pip")})
    buildpolicy.apply(backend, plan)
    return backend.env


@pytest.mark.parametrize("backend_name", ["uv", "venv"])
def test_uv_and_pip_get_a_cache_folder_of_each_mpi(tmp_path, backend_name):
    one, two = _detect(_install(tmp_path / "one")), _detect(_install(tmp_path / "two"))
    first, second = _apply(tmp_path, one, backend_name), _apply(tmp_path, two, backend_name)
    for var, tool in (("UV_CACHE_DIR", "uv"), ("PIP_CACHE_DIR", "pip")):
        assert first[var] == f"{tmp_path}/cache/{tool}-mpi/{one.identity}"
        assert second[var] == f"{tmp_path}/cache/{tool}-mpi/{two.identity}"
    assert _apply(tmp_path, None, backend_name)["UV_CACHE_DIR"] == f"{tmp_path}/cache/uv"  # no MPI: the usual one


def test_the_default_caches_get_a_folder_of_each_mpi_too(tmp_path):
    found = _detect(_install(tmp_path / "one"))
    env = _apply(tmp_path, found, env={"HOME": str(tmp_path / "home")})
    assert env["UV_CACHE_DIR"] == f"{tmp_path}/home/.cache/uv-mpi/{found.identity}"
    assert env["PIP_CACHE_DIR"] == f"{tmp_path}/home/.cache/pip-mpi/{found.identity}"
    env = _apply(tmp_path, found, env={"HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path / "xdg")})
    assert env["UV_CACHE_DIR"] == f"{tmp_path}/xdg/uv-mpi/{found.identity}"


# --- the configuration cache: an entry serves one file's one text -------------------------------------

@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def test_a_config_cache_entry_serves_only_its_own_file_and_text(cache_home):
    site, user = cache_home / "site.yaml", cache_home / "user.yaml"
    text = "python: '3.12'\n"
    config_cache.keep(site, text, [("python", "3.12", "site.yaml:1")])
    assert config_cache.entries(site, text) == [("python", "3.12", "site.yaml:1")]
    assert config_cache.entries(user, text) is None  # another file with the same text: parsed for itself
    assert config_cache.entries(site, text + "# more\n") is None  # the same file, another text
    assert config_cache.entries(site, text.replace("12", "13")) is None  # same size, other text
    config_cache.keep(user, text, [("python", "3.12", "user.yaml:1")])  # the same text, its own entries
    assert config_cache.entries(user, text) == [("python", "3.12", "user.yaml:1")]
    assert config_cache.entries(site, text) == [("python", "3.12", "site.yaml:1")]


def test_the_config_cache_follows_xdg_cache_home(cache_home, monkeypatch):
    path, text = cache_home / "c.yaml", "a: 1\n"
    config_cache.keep(path, text, [("a", 1, "c.yaml:1")])
    assert (cache_home / "cache" / "pyenvmod" / "config.json").is_file()
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home / "other"))  # another user's view: its own cache
    assert config_cache.entries(path, text) is None


# --- which mpicc is the MPI's: $MPICC first, then PATH; never one of a module that is not loaded ------

def test_mpicc_from_the_environment_comes_before_the_one_on_path(tmp_path):
    one, two = _install(tmp_path / "one"), _install(tmp_path / "two")
    environ = {"PATH": f"{one}/bin:/usr/bin:/bin", "MPICC": str(two / "bin" / "mpicc"), "LOADEDMODULES": "mpich/4.1"}
    found = mpi.detect(["mpich/4.1"], environ, MPI_PATTERNS)
    assert found.mpicc == str(two / "bin" / "mpicc") and found.library == str(two / "lib" / "libmpich.so.12")
    environ["MPICC"] = "mpicc"  # a name: looked up on PATH
    assert mpi.detect(["mpich/4.1"], environ, MPI_PATTERNS).mpicc == str(one / "bin" / "mpicc")
    environ["MPICC"] = str(tmp_path / "missing" / "mpicc")  # not there: none (never PATH's in its place)
    assert mpi.detect(["mpich/4.1"], environ, MPI_PATTERNS).mpicc == ""


def test_a_recorded_mpi_that_is_not_loaded_never_takes_the_mpicc_on_path(tmp_path):
    one = _install(tmp_path / "one")
    loaded = mpi.detect(["mpich/4.1"], {"PATH": f"{one}/bin", "LOADEDMODULES": "mpich/4.1"}, MPI_PATTERNS)
    other = mpi.detect(["mpich/4.1"], {"PATH": f"{one}/bin", "LOADEDMODULES": "openmpi/5"}, MPI_PATTERNS)
    assert loaded.mpicc and other.mpicc == "" and other.identity != loaded.identity
