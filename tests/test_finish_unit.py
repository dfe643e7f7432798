"""The last touches of a node-local copy (staging/finish.py), in-process on a real copy of pyenv's
CPython 3.12 (its RUNPATH made $ORIGIN/../lib as pack makes it): which interpreters get an RPATH,
which interpreter compiles the rewritten files, and which pip programs are pointed at the shared
environment with which mode. tests/test_stage_units.py covers the rest."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import PYENV_ROOT
from modsys import require

from pyenvmod.staging import finish, image, relocate

BASE = os.path.join(PYENV_ROOT, "versions", "3.12.1")
STAMP = "0" * 64


def manifest(**changes):
    values = dict(stamp=STAMP, name="e", python_mm="3.12", backend="uv", trees={"env": "/shared/envs/e"},
                  site_packages={"env": "lib/python3.12/site-packages"})
    values.update(changes)
    return image.Manifest(**values)


def relocated_python(path: Path) -> Path:
    """pyenv's python3.12 with its RUNPATH made $ORIGIN/../lib, as pack leaves it."""
    data = relocate.relative_runpath(Path(BASE, "bin", "python3.12").read_bytes(), BASE, "../lib")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o755)
    return path


def has_rpath(path: Path) -> bool:
    return finish.runpath_tag_at(path.read_bytes()) is None and b"$ORIGIN/../lib" in path.read_bytes()


@pytest.fixture
def copy(tmp_path):
    require(os.path.isfile(os.path.join(BASE, "lib", "libpython3.12.so.1.0")), "pyenv's shared CPython 3.12.1",
            "tests/setup")
    top = tmp_path / "copy"
    (top / "base" / "lib").mkdir(parents=True)
    for name in ("libpython3.12.so.1.0", "python3.12"):
        (top / "base" / "lib" / name).symlink_to(os.path.join(BASE, "lib", name))
    relocated_python(top / "base" / "bin" / "python3.12")
    (top / "env" / "bin").mkdir(parents=True)
    return top


def test_every_python_of_the_copy_gets_an_rpath_and_nothing_else_changes(copy):
    env_python = relocated_python(copy / "env" / "bin" / "python3.12")
    tool = relocated_python(copy / "env" / "bin" / "tool")
    (copy / "env" / "bin" / "python").symlink_to("python3.12")
    before = tool.read_bytes()
    finish.finish(copy, manifest(trees={}), [])
    assert has_rpath(copy / "base" / "bin" / "python3.12") and has_rpath(env_python)
    assert tool.read_bytes() == before and (copy / "env" / "bin" / "python").is_symlink()
    result = subprocess.run([str(copy / "base" / "bin" / "python3.12"), "-I", "-S", "-c", "print(1)"],
                            capture_output=True, text=True, env={"LD_LIBRARY_PATH": "/nonexistent"})
    assert result.stdout == "1\n", result.stderr


def test_the_rewritten_files_are_compiled_by_the_copys_own_interpreter(copy):
    hook = copy / "env" / "lib" / "python3.12" / "site-packages" / "_pyenvmod_stack.py"
    hook.parent.mkdir(parents=True)
    hook.write_text("VALUE = 1\n")
    finish.finish(copy, manifest(trees={}), [str(hook), str(copy / "missing.py")])
    assert [p.name for p in (hook.parent / "__pycache__").iterdir()] == ["_pyenvmod_stack.cpython-312.pyc"]


def test_without_an_interpreter_in_the_copy_nothing_is_compiled(copy):
    shutil.rmtree(copy / "base")
    hook = copy / "hook.py"
    hook.write_text("VALUE = 1\n")
    finish.finish(copy, manifest(trees={}), [str(hook)])
    assert not (copy / "__pycache__").exists()


def test_pip_is_compiled_too_once_pointed_at_the_shared_environment(copy):
    site = copy / "env" / "lib" / "python3.12" / "site-packages"
    (site / "pip").mkdir(parents=True)
    (site / "pip" / "__main__.py").write_text("print('the copy's pip')\n")
    finish.finish(copy, manifest(), [])
    assert "/shared/envs/e/bin/python" in (site / "pip" / "__main__.py").read_text()
    assert [p.name for p in (site / "pip" / "__pycache__").iterdir()] == ["__main__.cpython-312.pyc"]


@pytest.mark.parametrize("missing", ["trees", "site_packages"])
def test_pip_stays_when_the_copy_has_no_environment_tree(copy, missing):
    site = copy / "env" / "lib" / "python3.12" / "site-packages"
    (site / "pip").mkdir(parents=True)
    (site / "pip" / "__main__.py").write_text("original\n")
    (copy / "env" / "bin" / "pip").write_text("original\n")
    finish.finish(copy, manifest(**{missing: {}}), [])
    assert (site / "pip" / "__main__.py").read_text() == "original\n"
    assert (copy / "env" / "bin" / "pip").read_text() == "original\n"


def test_the_pip_programs_keep_their_mode_without_write_for_others(copy):
    for name, mode in (("pip", 0o775), ("pip3", 0o750), ("pip3.12", 0o755)):
        (copy / "env" / "bin" / name).write_text("#!/bin/sh\n")
        (copy / "env" / "bin" / name).chmod(mode)
    finish.finish(copy, manifest(), [])
    modes = {n: os.lstat(copy / "env" / "bin" / n).st_mode & 0o777 for n in ("pip", "pip3", "pip3.12")}
    assert modes == {"pip": 0o755, "pip3": 0o750, "pip3.12": 0o755}
    assert "exec '/shared/envs/e/bin/pip3' \"$@\"" in (copy / "env" / "bin" / "pip3").read_text()


def test_without_a_bin_folder_pip_is_only_redirected_in_site_packages(copy):
    shutil.rmtree(copy / "env" / "bin")
    site = copy / "env" / "lib" / "python3.12" / "site-packages"
    (site / "pip").mkdir(parents=True)
    (site / "pip" / "__main__.py").write_text("original\n")
    finish.finish(copy, manifest(), [])
    assert "/shared/envs/e/bin/python" in (site / "pip" / "__main__.py").read_text()


def test_the_interpreter_that_compiles_in_order_of_preference(tmp_path):
    def make(rel):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)

    assert finish._interpreter(tmp_path, manifest()) is None
    (tmp_path / "env" / "bin" / "python3.12").mkdir(parents=True)  # a folder is no interpreter
    assert finish._interpreter(tmp_path, manifest()) is None
    make("env/bin/python")
    assert finish._interpreter(tmp_path, manifest()) == tmp_path / "env" / "bin" / "python"
    (tmp_path / "env" / "bin" / "python3.12").rmdir()
    make("env/bin/python3.12")
    assert finish._interpreter(tmp_path, manifest()) == tmp_path / "env" / "bin" / "python3.12"
    make("base/bin/python3")
    assert finish._interpreter(tmp_path, manifest()) == tmp_path / "base" / "bin" / "python3"
    make("base/bin/python3.12")
    assert finish._interpreter(tmp_path, manifest()) == tmp_path / "base" / "bin" / "python3.12"
    assert finish._interpreter(tmp_path, manifest(python_mm="3.13")) == tmp_path / "base" / "bin" / "python3"
