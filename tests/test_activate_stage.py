"""Activation scripts put the staging launchers (ROOT/<arch>/images/NAME/bin, see
staging/launchers.py) first on PATH, as the modulefiles do: in bash, zsh, tcsh and fish an
activated environment runs python from this node's staged copy once 'pyenvmod stage' made
one, and deactivation restores PATH exactly."""

import json
import shlex
from pathlib import Path

import pytest

from conftest import Cli, clean_env
from modsys import parse_env0
from test_shells import NOISE, SHELLS, shell_run

pytestmark = pytest.mark.slow

CODE = "import os, shutil, sys; print(*os.environ['PATH'].split(':')[:2]); print(shutil.which('python')); " \
       "print(sys.executable)"


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    base = tmp_path_factory.mktemp("activate-stage")
    env = clean_env(base)
    env["PYENVMOD_FORMATS"] = "lua,tcl,bash,csh,fish"
    env["PYENVMOD_STAGE_DIR"] = str(base / "local")
    (base / "local").mkdir()
    cli = Cli(env)
    cli("create", "alpha")
    (entry,) = json.loads(cli("list", "--json").stdout)
    tree = Path(env["PYENVMOD_ROOT"]) / entry["platform"]
    return {"env": env, "cli": cli, "prefix": entry["prefix"], "tree": tree}


def run_activated(staged, shell, tmp_path, stage_dir):
    file, source = SHELLS[shell]
    script = staged["tree"] / "activate" / "alpha" / file
    before, after = tmp_path / "before", tmp_path / "after"
    body = "\n".join([f"env -0 > {before}", f"{source} {shlex.quote(str(script))}",
                      f"python -c {shlex.quote(CODE)}", "pyenvmod_deactivate", f"env -0 > {after}"])
    result = shell_run(shell, body, dict(staged["env"], PYENVMOD_STAGE_DIR=str(stage_dir)))
    assert result.returncode == 0, result.stdout + result.stderr
    a, b = (({k: v for k, v in parse_env0(p.read_bytes()).items() if k not in NOISE}) for p in (before, after))
    assert a == b  # deactivation takes the launchers folder off PATH again
    return result.stdout.splitlines()


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_activation_puts_the_launchers_first_and_runs_the_shared_copy_until_staged(staged, shell, tmp_path):
    launchers = staged["tree"] / "images" / "alpha" / "bin"
    lines = run_activated(staged, shell, tmp_path, tmp_path / "nothing-staged-here")
    assert lines == [f"{launchers} {staged['prefix']}/bin", f"{launchers}/python", f"{staged['prefix']}/bin/python"]


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_an_activated_environment_runs_from_the_staged_copy(staged, shell, tmp_path):
    out = staged["cli"]("stage", "alpha").stdout
    copy = out.split(": ")[-1].strip()
    assert copy.startswith(str(staged["env"]["PYENVMOD_STAGE_DIR"])), out
    lines = run_activated(staged, shell, tmp_path, staged["env"]["PYENVMOD_STAGE_DIR"])
    assert lines[2] == f"{copy}/env/bin/python"
