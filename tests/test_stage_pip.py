"""pip after 'pyenvmod stage' changes the shared environment, never the node-local copy (issue 24, item 1).

Through a module loaded with real Lmod: 'pip install', 'pip3', 'pip3.12', 'python -m pip' and
'uv pip' after staging all install into the shared prefix; 'pyenvmod list' shows the package, the
copy is no longer used (the environment is newer than its image), and the next 'stage' packs and
stages the new version, which has the package.
"""

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import localpkg
from conftest import Cli, clean_env
from modsys import Lmod, run_bash

WHERE = "import sys, {0}; print('{0}', {0}.__file__); print('exe', sys.executable)"


@pytest.mark.slow
def test_pip_after_stage_installs_into_the_shared_environment_and_the_next_stage_restages(tmp_path):
    Lmod().require()
    env = clean_env(tmp_path)
    stage_dir = tmp_path / "local"
    stage_dir.mkdir()
    env["PYENVMOD_STAGE_DIR"] = str(stage_dir)
    cli = Cli(env)
    cli("create", "e", "--python", "3.12")
    first = cli("stage", "e").stdout
    assert first.startswith("Staged 'e'"), first
    copy = Path(first.split(": ")[-1].strip())
    pkgs = {}
    for name in ("pkga", "pkgb", "pkgc", "pkgd", "pkge"):
        pkgs[name], _ = localpkg.make(tmp_path / name, name, {f"{name}.py": "X = 1\n"})
    tree = next(p for p in Path(env["PYENVMOD_ROOT"]).iterdir() if p.is_dir())
    shared = tree / "envs" / "e"
    script = f"""source {Lmod.INIT}
module use {shlex.quote(cli('modulepath').stdout.strip())}
module load pyenv/e || exit 11
python -c 'import sys; print("before", sys.executable)'
pip install -q --no-build-isolation {shlex.quote(pkgs['pkga'])} || exit 12
pip3 install -q --no-build-isolation {shlex.quote(pkgs['pkgb'])} || exit 13
pip3.12 install -q --no-build-isolation {shlex.quote(pkgs['pkgc'])} || exit 14
python -m pip install -q --no-build-isolation {shlex.quote(pkgs['pkgd'])} || exit 15
{shlex.quote(str(Path(sys.executable).parent / 'uv'))} pip install -q {shlex.quote(pkgs['pkge'])} || exit 16
python -c {shlex.quote(WHERE.format('pkga'))} || exit 17
"""
    result = run_bash(script, env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert f"before {copy}/env/bin/python" in lines, lines  # the module ran python from the copy
    site_packages = shared / "lib" / "python3.12" / "site-packages"
    for name in pkgs:  # every way of pip put the package into the shared environment, none into the copy
        assert (site_packages / f"{name}.py").is_file(), name
        assert not (copy / "env" / "lib" / "python3.12" / "site-packages" / f"{name}.py").exists(), name
    # the copy is of the old version now: python runs from the shared environment, which has the package
    assert f"pkga {site_packages / 'pkga.py'}" in lines and f"exe {shared / 'bin' / 'python'}" in lines, lines
    listed = cli("list", "e").stdout
    assert all(name in listed for name in pkgs), listed
    second = cli("stage", "e").stdout
    assert second.startswith("Staged 'e'") and "packed first" in second, second
    new_copy = Path(second.split(": ")[-1].strip())
    assert new_copy != copy and not copy.exists()
    out = subprocess.run([str(tree / "images" / "e" / "bin" / "python"), "-c", WHERE.format("pkge")], env=env,
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == [f"pkge {new_copy}/env/lib/python3.12/site-packages/pkge.py", f"exe {new_copy}/env/bin/python"]
