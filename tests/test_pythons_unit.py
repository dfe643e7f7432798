"""Where --python looks and what 'pyenvmod pythons' lists (backends/pythons.py), in-process on real
interpreters (Debian's and pyenv's, linked into private folders) and a real Lmod with Python
modules: the order of the places, one entry per interpreter, and a Python module loaded for a
version."""

import os
import shutil

import pytest

from conftest import PYENV_ROOT
from modsys import lmod_in_process, require

from pyenvmod.backends import pythons
from pyenvmod.errors import PyenvmodError

REAL = {mm: os.path.join(PYENV_ROOT, "versions", v, "bin", f"python{mm}")
        for mm, v in (("3.10", "3.10.13"), ("3.12", "3.12.1"), ("3.13", "3.13.0"))}
SYSTEM = "/usr/bin/python3.11"


def link(folder, name, target):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).symlink_to(target)
    return str(folder / name)


@pytest.fixture
def places(tmp_path, monkeypatch):
    """PATH with python3.12 (pyenv's 3.12.1) and a broken python3.10; a pyenv root with 3.13 and 3.10;
    a uv folder with 3.10; no module system."""
    require(all(os.path.exists(p) for p in REAL.values()), "pyenv's 3.10, 3.12 and 3.13", "tests/setup")
    for var in ("LMOD_CMD", "MODULES_CMD", "MODULEPATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    bindir = tmp_path / "bin"
    link(bindir, "python3.12", REAL["3.12"])
    broken = bindir / "python3.10"
    broken.write_text("#!/bin/sh\nexit 127\n")
    broken.chmod(0o755)
    pyenv = tmp_path / "pyenv"
    link(pyenv / "versions" / "3.13.0" / "bin", "python3.13", REAL["3.13"])
    link(pyenv / "versions" / "3.10.13" / "bin", "python3.10", REAL["3.10"])
    uv = tmp_path / "uv"
    link(uv / "cpython-3.10.13-linux-x86_64-gnu" / "bin", "python3.10", REAL["3.10"])
    monkeypatch.setenv("PATH", f"{bindir}::/nonexistent")
    monkeypatch.setenv("PYENV_ROOT", str(pyenv))
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(uv))
    pythons._AVAILABLE.clear()
    yield {"bin": bindir, "pyenv": pyenv, "uv": uv}
    pythons._AVAILABLE.clear()


CONFIG = {"python_modules": ["Python", "python"], "python_from": "path", "module_owners": []}


def test_the_places_a_version_is_looked_for_in_order(places, tmp_path):
    assert list(pythons._sourced_candidates("3", "10")) == [
        ("PATH", f"{places['bin']}/python3.10"), ("PATH", "/nonexistent/python3.10"),
        ("pyenv", f"{places['pyenv']}/versions/3.10.13/bin/python3.10"),
        ("uv", f"{places['uv']}/cpython-3.10.13-linux-x86_64-gnu/bin/python3.10"),
        ("system", "/usr/local/bin/python3.10"), ("system", "/usr/bin/python3.10")]
    assert [p for _, p in pythons._sourced_candidates("3", "10")] == list(pythons._candidates("3", "10"))


def test_without_pyenv_root_or_uv_folder_their_default_places(places, tmp_path, monkeypatch):
    monkeypatch.delenv("PYENV_ROOT")
    monkeypatch.delenv("UV_PYTHON_INSTALL_DIR")
    home = tmp_path / "home"
    link(home / ".pyenv" / "versions" / "3.13.0" / "bin", "python3.13", REAL["3.13"])
    link(home / ".local" / "share" / "uv" / "python" / "cpython-3.13.0-x" / "bin", "python3.13", REAL["3.13"])
    assert [s for s, _ in pythons._sourced_candidates("3", "13")] == ["PATH", "PATH", "pyenv", "uv", "system",
                                                                        "system"]


def test_a_version_takes_the_first_place_that_runs_it(places):
    assert pythons.locate("3.10")[0].version == "3.10.13"  # the broken one on PATH passed over: pyenv's
    assert pythons.locate("3.12") == (pythons.PythonInfo(f"{places['bin']}/python3.12", "3.12.1"), None)
    with pytest.raises(PyenvmodError) as caught:
        pythons.resolve("3.12.2")
    assert caught.value.message == ("no Python 3.12.2 found; looked on PATH and in pyenv and uv folders; pass --python "
                                    "with a path to a python executable, or load a python module first")


def test_the_inventory_lists_each_interpreter_once_in_pythons_order(places):
    found = pythons.inventory(CONFIG)
    assert [(f.source, f.where) for f in found] == [
        ("pyenv", f"{places['pyenv']}/versions/3.10.13/bin/python3.10"), ("system", SYSTEM),
        ("PATH", f"{places['bin']}/python3.12"), ("pyenv", f"{places['pyenv']}/versions/3.13.0/bin/python3.13")]
    assert [f.version.rsplit(".", 1)[0] for f in found] == ["3.10", "3.11", "3.12", "3.13"]


def test_a_version_that_is_missing_names_what_there_is(places):
    with pytest.raises(PyenvmodError) as caught:
        pythons.resolve("3.9", CONFIG)
    system = next(f.version for f in pythons.inventory(CONFIG) if f.source == "system")
    assert caught.value.message == (
        f"no Python 3.9 found; there are pyenv: 3.10.13, 3.13.0; system: {system}; PATH: 3.12.1 (pyenvmod pythons "
        "lists them); pass --python with a path to a python executable, or load a python module first")


def test_pick_says_where_the_interpreter_comes_from(places):
    found = pythons.inventory(CONFIG)
    assert pythons.pick(CONFIG, "3.12", found)[1] == "first on PATH"
    assert pythons.pick(CONFIG, "3.13", found)[1] == "not on PATH; in pyenv's folder"
    assert pythons.pick(CONFIG, "3.9", found) == (None, "")
    uv = [pythons.Found("3.10.13", "uv", "/x/python3.10"), pythons.Found("3.11.2", "system", SYSTEM)]
    assert pythons.pick(CONFIG, "3.10", uv)[1] == "not on PATH; in uv's folder"
    assert pythons.pick(CONFIG, "3.11", uv) == (uv[1], "a system interpreter")


# ---- Python modules, with a real Lmod -------------------------------------------------------------

@pytest.fixture
def lmod(places, tmp_path, monkeypatch):
    tree = tmp_path / "modulefiles"
    for module, target in (("Python/3.12.1", REAL["3.12"]), ("python/3.13", REAL["3.13"])):
        bindir = tmp_path / "module-bin" / module.replace("/", "-")
        link(bindir, f"python{module.split('/')[1][:4]}", target)
        (tree / module.split("/")[0]).mkdir(parents=True, exist_ok=True)
        (tree / f"{module}.lua").write_text(f'prepend_path("PATH", "{bindir}")\n')
    (tree / "Python" / "3.14.9.lua").write_text('LmodError("this module is broken")\n')
    (tree / "Python" / "3.10.1.lua").write_text('setenv("NO_PYTHON_HERE", "1")\n')
    with lmod_in_process(monkeypatch, tree):
        yield tree


def test_with_python_from_modules_the_module_is_loaded_for_the_version(lmod):
    told = []
    info, module = pythons.locate("3.12", dict(CONFIG, python_from="modules"), told.append)
    assert module == "Python/3.12.1" and info.version == "3.12.1"
    assert os.path.dirname(info.executable) == str(lmod.parent / "module-bin" / "Python-3.12.1")
    assert told == ["loading the Python module Python/3.12.1 with Lmod for Python 3.12"]
    assert os.environ["LOADEDMODULES"] == "Python/3.12.1"


def test_an_interpreter_outside_modules_comes_first_unless_modules_are_preferred(lmod, places):
    assert pythons.locate("3.12", CONFIG) == (pythons.PythonInfo(f"{places['bin']}/python3.12", "3.12.1"), None)
    assert "LOADEDMODULES" not in os.environ


def test_a_module_is_the_last_resort_for_a_version_found_nowhere_else(lmod, places):
    shutil.rmtree(places["pyenv"] / "versions" / "3.13.0")
    info, module = pythons.locate("3.13", CONFIG)
    assert module == "python/3.13" and info.version == "3.13.0"


def test_a_module_that_fails_to_load_is_named_with_its_message(lmod):
    with pytest.raises(PyenvmodError) as caught:
        pythons.locate("3.14.9", dict(CONFIG, python_from="modules"))
    assert caught.value.message.startswith("the Python module Python/3.14.9 (for --python 3.14.9) does not load "
                                           "with Lmod: ")
    assert "this module is broken" in caught.value.message
    assert caught.value.message.endswith("; nothing was created; ask your site's staff, or pass --python with "
                                         "another version or a path")


def test_a_module_that_brings_no_python_of_its_version_is_refused(lmod):
    with pytest.raises(PyenvmodError) as caught:
        pythons.locate("3.10.1", dict(CONFIG, python_from="modules"))
    assert caught.value.message == ("the module Python/3.10.1 loaded, but no Python 3.10.1 came with it on PATH; "
                                    "ask your site's staff, or pass --python with a path")


def test_the_inventory_lists_the_python_modules_after_the_interpreters(lmod):
    found = pythons.inventory(CONFIG)
    modules = [f for f in found if f.source == "module"]
    assert sorted(f.where for f in modules) == ["Python/3.10.1", "Python/3.12.1", "Python/3.14.9", "python/3.13"]
    assert found[:len(found) - len(modules)] == [f for f in found if f.source != "module"]
    assert {f.version for f in modules} == {"3.10.1", "3.12.1", "3.14.9", "3.13"}
