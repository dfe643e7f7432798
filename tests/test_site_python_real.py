"""Python from the site's module system, for real (issue 26): an EasyBuild-style Python module
wrapping an interpreter that is on no PATH and in no pyenv or uv folder the test leaves visible,
with its GCCcore, in real Lmod and Environment Modules 5 trees."""

import json
import os
import shlex
from pathlib import Path

import pytest

import sitemodules
from conftest import PYENV_ROOT, assert_one_line_error, leftovers
from modsys import require, run_bash
from sessions import modules_cmd_line

pytestmark = pytest.mark.modsys


@pytest.fixture
def stack(tmp_path, env):
    bindir, version = sitemodules.off_path_python(PYENV_ROOT)
    require(bool(bindir), "a CPython 3.10-3.13 off the test PATH", "build one with pyenv (pyenv install 3.12)")
    tree = sitemodules.make(tmp_path / "site-modules")
    module = sitemodules.make_python_stack(tree, bindir, version)
    # pyenv's folder shows one other interpreter only (a link to a real one), uv's none
    fake_pyenv = tmp_path / "pyenv"
    (fake_pyenv / "versions").mkdir(parents=True)
    env["PYENV_ROOT"] = str(fake_pyenv)
    env["UV_PYTHON_INSTALL_DIR"] = str(tmp_path / "no-uv-pythons")
    return tree, module, version


def in_shell(modsys, tree, cli, body):
    return f"""{modsys.init()}
{modules_cmd_line(modsys)}
module use {shlex.quote(str(tree))}
module use {shlex.quote(cli('modulepath').stdout.strip())}
{body}
"""


def test_create_finds_records_and_reloads_the_python_module(modsys, stack, cli, env, root):
    tree, module, version = stack
    major_minor = ".".join(version.split(".")[:2])
    result = run_bash(in_shell(modsys, tree, cli, f"module purge\npyenvmod create x --python {major_minor}"), env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"loading the Python module {module}" in result.stderr
    record = json.loads(next(root.glob("*/meta/x.json")).read_text())
    assert record["python"] == version and module in record["modules"] and "GCCcore/13.2.0" in record["modules"]
    assert f"Recorded modules (loaded with it): GCCcore/13.2.0 {module}" in result.stdout
    # a fresh shell, nothing loaded: the environment brings its Python module back
    result = run_bash(in_shell(modsys, tree, cli, """module purge
module load pyenv/x || exit 11
python -c 'import sys; print("V=%d.%d.%d" % sys.version_info[:3], sys.prefix)'
echo "EB=$EBROOTPYTHON LOADED=$LOADEDMODULES"
"""), env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"V={version} " in result.stdout and "/envs/x" in result.stdout
    assert f"EB={os.path.dirname(record['base_python'])}" in result.stdout and module in result.stdout


def test_pythons_lists_every_source_and_explains_the_choice(modsys, stack, cli, env, tmp_path):
    tree, module, version = stack
    major_minor = ".".join(version.split(".")[:2])
    # pyenv: a real 3.11 build under the fake root; a second module of the same version
    other = next(p for p in sorted((Path(PYENV_ROOT) / "versions").glob("3.1[0-3].*"))
                 if not p.name.startswith(major_minor + "."))
    (tmp_path / "pyenv" / "versions" / other.name).symlink_to(other)
    sitemodules._write(tree / "python", major_minor, [f'prepend_path("PATH", "{stack_bindir(version)}")'],
                       [f"prepend-path PATH {stack_bindir(version)}"])
    result = run_bash(in_shell(modsys, tree, cli, "module purge\npyenvmod pythons --json"), env)
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    sources = {(f["source"], f["where"]) for f in data["pythons"]}
    assert ("module", module) in sources and ("module", f"python/{major_minor}") in sources
    assert any(s == "pyenv" and other.name in w for s, w in sources) and any(s == "PATH" for s, w in sources)
    pick = data["picks"][major_minor]
    assert pick["where"] == module and pick["source"] == "module", pick
    assert "none outside the module system" in pick["why"] and f"python/{major_minor} gives the same version" in pick["why"]
    # the text form says the same; a site preferring modules takes the module for a version pyenv has too
    text = run_bash(in_shell(modsys, tree, cli, f"pyenvmod pythons {major_minor}"), env)
    assert f"--python {major_minor}: module {module} (Python {version}" in text.stdout, text.stdout + text.stderr
    other_mm = ".".join(other.name.split(".")[:2])
    sitemodules._write(tree / "Python", other.name, [f'prepend_path("PATH", "{other}/bin")'],
                       [f"prepend-path PATH {other}/bin"])
    preferred = run_bash(in_shell(modsys, tree, cli, f"PYENVMOD_PYTHON_FROM=modules pyenvmod pythons {other_mm} --json"),
                         env)
    assert json.loads(preferred.stdout)["picks"][other_mm]["where"] == f"Python/{other.name}", preferred.stdout


def stack_bindir(version):
    return os.path.join(PYENV_ROOT, "versions", version, "bin")


def test_a_version_no_source_has_lists_what_exists(modsys, stack, cli, env, root):
    tree, module, version = stack
    result = run_bash(in_shell(modsys, tree, cli, "pyenvmod create y --python 3.9"), env)
    line = assert_one_line_error(result, "no Python 3.9 found", f"module: {module}", "PATH: 3.")
    assert "pyenvmod pythons" in line
    assert leftovers(root) == []


def test_a_python_module_that_fails_to_load_creates_nothing(modsys, stack, cli, env, root):
    tree, module, version = stack
    broken = sitemodules.make_broken_python(tree)
    result = run_bash(in_shell(modsys, tree, cli, "pyenvmod create y --python 3.14"), env)
    line = assert_one_line_error(result, f"the Python module {broken} (for --python 3.14) does not load")
    assert "nothing was created" in line
    assert leftovers(root) == []
