"""Loaded compiler/MPI modules recorded at create time and emitted as dependencies."""

import json
import shlex

import pytest

import sitemodules
from conftest import assert_one_line_error
from modsys import parse_env0, run_bash, user_env

pytestmark = pytest.mark.modsys


@pytest.fixture
def site_tree(tmp_path):
    return sitemodules.make(tmp_path / "site-modules")


def shell(modsys, site_tree, cli, body, purge=False):
    return f"""{modsys.init()}
module use {shlex.quote(str(site_tree))}
module use {shlex.quote(cli('modulepath').stdout.strip())}
{body}
"""


def create_in_shell(modsys, site_tree, cli, env, load, args="", extra_env=""):
    script = shell(modsys, site_tree, cli, f"module load {load} || exit 11\n{extra_env}\npyenvmod create x {args}")
    result = run_bash(script, env)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(cli("list", "--json").stdout)[0], result


@pytest.mark.slow
def test_loaded_modules_are_recorded_without_sticky_and_pyenv_ones(modsys, site_tree, cli, env, root):
    cli("create", "other")
    entry, result = create_in_shell(modsys, site_tree, cli, env, "StdEnv/2025 gcc/13.2 mpich/4.0 pyenv/other")
    record = json.loads(next(root.glob("*/meta/x.json")).read_text())
    assert record["modules"] == ["gcc/13.2", "mpich/4.0"]
    assert "Recorded modules (loaded with it): gcc/13.2 mpich/4.0" in result.stdout


@pytest.mark.slow
def test_modules_flag_adds_and_overrides_and_no_capture(modsys, site_tree, cli, env, root):
    create_in_shell(modsys, site_tree, cli, env, "gcc/13.2 mpich/4.0", "--modules gcc/14.1,extra/1.0")
    meta = next(root.glob("*/meta/x.json"))
    assert json.loads(meta.read_text())["modules"] == ["mpich/4.0", "gcc/14.1", "extra/1.0"]
    cli("delete", "x", "--yes")
    create_in_shell(modsys, site_tree, cli, env, "gcc/13.2", "--no-capture --modules mpich/4.0")
    assert json.loads(meta.read_text())["modules"] == ["mpich/4.0"]


def test_site_exclude_patterns(modsys, site_tree, cli, env, root):
    create_in_shell(modsys, site_tree, cli, env, "gcc/13.2 mpich/4.0", extra_env="export PYENVMOD_CAPTURE_EXCLUDE='mpich/*'")
    assert json.loads(next(root.glob("*/meta/x.json")).read_text())["modules"] == ["gcc/13.2"]


@pytest.mark.parametrize("bad", ["gcc 13", "a;rm", "$(id)", "-x", "g\"cc"])
def test_bad_module_names_are_refused(cli, root, bad):
    result = cli("create", "x", f"--modules={bad}", check=False)
    assert_one_line_error(result, "invalid module name")


def test_after_purge_loading_the_environment_loads_its_modules_and_unload_restores(
        modsys, site_tree, cli, env, tmp_path):
    create_in_shell(modsys, site_tree, cli, env, "gcc/13.2 mpich/4.0")
    files = {k: tmp_path / k for k in ("before", "after")}
    result = run_bash(shell(modsys, site_tree, cli, f"""
module purge
env -0 > {files['before']}
module load pyenv/x || exit 11
module list 2>&1
echo "GCC_HOME=$GCC_HOME MPICH_HOME=$MPICH_HOME"
module unload pyenv/x || exit 12
module list 2>&1
env -0 > {files['after']}
"""), env)
    assert result.returncode == 0, result.stdout + result.stderr
    loaded, unloaded = result.stdout.split("GCC_HOME=")
    assert "gcc/13.2" in loaded and "mpich/4.0" in loaded and "pyenv/x" in loaded
    assert unloaded.startswith("/opt/gcc/13.2 MPICH_HOME=/opt/mpich/4.0")
    assert "gcc" not in unloaded.split("\n", 1)[1]
    before, after = user_env(*(parse_env0(files[k].read_bytes()) for k in ("before", "after")))
    assert before == after


def test_unload_keeps_modules_the_user_loaded_before(modsys, site_tree, cli, env):
    create_in_shell(modsys, site_tree, cli, env, "gcc/13.2")
    result = run_bash(shell(modsys, site_tree, cli, """
module purge
module load gcc/13.2 || exit 10
module load pyenv/x || exit 11
module unload pyenv/x || exit 12
echo "GCC_HOME=${GCC_HOME:-}"
"""), env)
    assert result.returncode == 0 and "GCC_HOME=/opt/gcc/13.2" in result.stdout, result.stdout + result.stderr


def test_require_policy_refuses_naming_missing_modules(modsys, site_tree, cli, env):
    create_in_shell(modsys, site_tree, cli, env, "gcc/13.2 mpich/4.0")
    cli("module", "x", extra_env={"PYENVMOD_DEPENDENCIES": "require"})
    result = run_bash(shell(modsys, site_tree, cli, """
module purge
module load gcc/13.2
module load pyenv/x; echo "rc=$?"
echo "VE=${VIRTUAL_ENV:-}"
module load mpich/4.0 pyenv/x || exit 13
echo "VE=${VIRTUAL_ENV:-}"
"""), env)
    assert "mpich/4.0" in result.stderr and "rc=0" not in result.stdout, result.stdout + result.stderr
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("VE=")]
    assert lines[0] == "VE=" and lines[1].endswith("/envs/x")


@pytest.mark.slow
def test_none_policy_ignores_recorded_modules(modsys, site_tree, cli, env):
    create_in_shell(modsys, site_tree, cli, env, "gcc/13.2")
    cli("module", "x", extra_env={"PYENVMOD_DEPENDENCIES": "none"})
    result = run_bash(shell(modsys, site_tree, cli, "module purge\nmodule load pyenv/x || exit 11\necho \"G=${GCC_HOME:-}\""),
                      env)
    assert result.returncode == 0 and "G=\n" in result.stdout + "\n", result.stdout + result.stderr


def test_site_environment_variables_are_set_and_restored(modsys, site_tree, cli, env, tmp_path):
    cli("create", "x", extra_env={"PYENVMOD_ENVIRONMENT": "OMP_NUM_THREADS=1,SITE_NOTE=a b $c"})
    files = {k: tmp_path / k for k in ("before", "after")}
    result = run_bash(shell(modsys, site_tree, cli, f"""
export OMP_NUM_THREADS=8
env -0 > {files['before']}
module load pyenv/x || exit 11
echo "OMP=$OMP_NUM_THREADS NOTE=$SITE_NOTE"
module unload pyenv/x
env -0 > {files['after']}
"""), env)
    assert "OMP=1 NOTE=a b $c" in result.stdout, result.stdout + result.stderr
    before, after = user_env(*(parse_env0(files[k].read_bytes()) for k in ("before", "after")))
    assert before == after
