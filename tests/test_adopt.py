"""pyenvmod adopt: modulefiles for an environment pyenvmod did not make, which it never changes."""

import json
import os
import shlex
import subprocess
import sys

import pytest

from conftest import assert_one_line_error, leftovers
from modsys import run_bash


def snapshot(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_mtime_ns) for p in folder.rglob("*") if not p.is_symlink())


@pytest.fixture
def foreign_venv(tmp_path):
    prefix = tmp_path / "colleague" / "analysis"
    subprocess.run([sys.executable, "-m", "venv", prefix], check=True)
    subprocess.run([prefix / "bin" / "python", "-m", "pip", "install", "-q", "six"], check=True)
    return prefix


@pytest.mark.slow
def test_adopt_then_load_in_both_module_systems_without_changing_it(modsys, cli, env, foreign_venv):
    before = snapshot(foreign_venv)
    out = cli("adopt", foreign_venv, "--name", "lab").stdout
    assert "Adopted" in out and "module load pyenv/lab" in out
    (entry,) = json.loads(cli("list", "--json").stdout)
    assert entry["name"] == "lab" and entry["prefix"] == str(foreign_venv) and entry["health"] == "ok"
    assert entry["backend"] == "venv"
    script = f"""{modsys.init()}
module use {shlex.quote(cli('modulepath').stdout.strip())}
module load pyenv/lab || exit 11
python -c 'import six, sys; print(sys.prefix)'
"""
    result = run_bash(script, env)
    assert result.returncode == 0 and result.stdout.strip() == str(foreign_venv), result.stderr
    assert snapshot(foreign_venv) == before, "the adopted environment is not modified"


@pytest.mark.slow
def test_delete_of_an_adopted_environment_keeps_the_environment(cli, foreign_venv, root):
    cli("adopt", foreign_venv)
    cli("delete", "analysis", "--yes")
    assert (foreign_venv / "bin" / "python").exists()
    assert json.loads(cli("list", "--json").stdout) == []
    assert not [p for p in leftovers(root) if "/modules/pyenv/analysis" in "/" + p]  # tombstones aside


@pytest.mark.slow
def test_pyenvmod_does_not_change_an_adopted_environment(cli, foreign_venv, env):
    cli("adopt", foreign_venv)
    assert_one_line_error(cli("install", "analysis", "iniconfig", check=False), "was adopted")
    assert_one_line_error(cli("kernel", "analysis", check=False, extra_env={"JUPYTER_DATA_DIR": env["HOME"]}),
                          "install ipykernel into")


def test_adopt_a_conda_environment_reads_its_packages(cli, tmp_path):
    prefix = tmp_path / "condaenv"
    (prefix / "bin").mkdir(parents=True)
    os.symlink(os.path.realpath(sys.executable), prefix / "bin" / "python")
    (prefix / "conda-meta").mkdir()
    (prefix / "conda-meta" / "zlib-1.3-h1.json").write_text(json.dumps({"name": "zlib", "version": "1.3"}))
    cli("adopt", prefix, "--modules", "gcc/13.2")
    record = json.loads(next((tmp_path / "root").glob("*/meta/condaenv.json")).read_text())
    assert record["backend"] == "conda" and record["packages"]["zlib"] == "1.3" and record["adopted"]
    assert record["modules"] == ["gcc/13.2"]


@pytest.mark.parametrize("make,fragment", [
    (lambda p: p.mkdir(), "no bin/python"),
    (lambda p: ((p / "bin").mkdir(parents=True), os.symlink(sys.executable, p / "bin" / "python")),
     "neither a virtual environment"),
])
def test_adopt_refuses_what_is_not_an_environment(cli, tmp_path, make, fragment):
    target = tmp_path / "notenv"
    make(target)
    assert_one_line_error(cli("adopt", target, check=False), fragment)


@pytest.mark.slow
def test_adopt_refuses_a_taken_name(cli, foreign_venv):
    cli("create", "analysis")
    assert_one_line_error(cli("adopt", foreign_venv, check=False), "already exists", "--name")
