"""pyenvmod run: a command in an environment with its recorded modules; the shell is untouched."""

import json
import shlex

import pytest

import sitemodules
from conftest import assert_one_line_error
from sessions import modules_cmd_line, snapshots


def run_fails(cli, args, code, *fragments):
    """``pyenvmod run ARGS`` exits with CODE (what a shell would give) and one line naming FRAGMENTS."""
    result = cli("run", *args, check=False)
    assert result.returncode == code
    assert_one_line_error(result, *fragments)


@pytest.mark.slow
def test_without_a_module_system_the_variables_are_set_and_the_exit_code_passes(cli, root):
    cli("create", "x", "--no-capture", "--modules", "gcc/13.2")
    code = "import os, sys; print(sys.prefix, os.environ['VIRTUAL_ENV'], os.environ['PYTHONNOUSERSITE']); sys.exit(7)"
    result = cli("run", "x", "--", "python", "-c", code, check=False)
    prefix = json.loads(cli("list", "--json").stdout)[0]["prefix"]
    assert result.returncode == 7
    assert result.stdout.split() == [prefix, prefix, "1"]
    assert "no module system" in result.stderr and "gcc/13.2" in result.stderr


@pytest.mark.slow
def test_arguments_and_exit_codes_pass_through(cli):
    cli("create", "x")
    result = cli("run", "x", "--", "sh", "-c", 'echo "$1|$2"; exit 42', "sh", "a b", "--flag", check=False)
    assert result.returncode == 42 and result.stdout == "a b|--flag\n"
    assert cli("run", "x", "--", "true").returncode == 0


@pytest.mark.slow
def test_a_missing_command_exits_127_like_a_shell(cli):
    cli("create", "x")
    run_fails(cli, ["x", "--", "no-such-command-zz"], 127, "command not found: 'no-such-command-zz'")


def test_a_missing_environment_exits_1_with_a_suggestion(cli, root):
    run_fails(cli, ["nothere", "--", "python"], 1, "no environment named 'nothere'")


def test_everything_after_the_name_is_the_command_options_included(cli, root):
    # no "unrecognized arguments: -V": the command's options are its own, with or without --
    run_fails(cli, ["nothere", "python", "-V"], 1, "no environment named 'nothere'")
    run_fails(cli, ["nothere", "python", "--flag", "-c", "x"], 1, "no environment named 'nothere'")


@pytest.mark.slow
def test_a_command_with_options_runs_without_the_double_dash(cli):
    cli("create", "x")
    assert cli("run", "x", "python", "-V").stdout.startswith("Python 3.")
    result = cli("run", "x", "sh", "-c", 'echo "$1"; exit 3', "sh", "--help", check=False)
    assert result.returncode == 3 and result.stdout == "--help\n"
    assert cli("run", "x", "--", "python", "-V").stdout.startswith("Python 3.")


@pytest.mark.slow
def test_unknown_name_suggests_the_closest(cli):
    cli("create", "mylab")
    run_fails(cli, ["mylba", "--", "python"], 1, "did you mean 'mylab'?")
    assert_one_line_error(cli("run", "mylab", check=False), "name a command to run")


@pytest.mark.slow
@pytest.mark.modsys
def test_through_the_module_system_with_recorded_modules_and_the_shell_untouched(modsys, cli, env, tmp_path):
    site = sitemodules.make(tmp_path / "site-modules")
    tree = cli("modulepath").stdout.strip()
    result, _ = snapshots(modsys, env, f"""
module load gcc/13.2 || exit 11
pyenvmod create x --no-kernel || exit 12
module purge
module unuse {shlex.quote(str(site))}
before="$PATH|${{MODULEPATH:-}}|${{LOADEDMODULES:-}}"
pyenvmod run x -- sh -c 'echo "IN GCC=$GCC_HOME VENV=$VIRTUAL_ENV LOADED=$LOADEDMODULES"; exit 5'
echo "rc=$?"
after="$PATH|${{MODULEPATH:-}}|${{LOADEDMODULES:-}}"
[ "$before" = "$after" ] && echo "shell untouched"
echo "OUT GCC=${{GCC_HOME:-none}} VENV=${{VIRTUAL_ENV:-none}}"
""", tmp_path, module_paths=[site], preset=modules_cmd_line(modsys))
    assert result.returncode == 0, result.stdout + result.stderr
    inside = next(ln for ln in result.stdout.splitlines() if ln.startswith("IN "))
    assert "GCC=/opt/gcc/13.2" in inside and "/envs/x" in inside
    assert "gcc/13.2" in inside and "pyenv/x" in inside  # loaded as modules, not just variables
    assert "rc=5" in result.stdout and "shell untouched" in result.stdout
    assert "OUT GCC=none VENV=none" in result.stdout
    assert "no module system" not in result.stderr
    assert tree  # the tree came from the real pyenvmod modulepath
