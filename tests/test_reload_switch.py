"""reload, switch and refresh, then unload or purge: the shell is restored exactly (issue 13, item 4).

Environment Modules 5 forgets the value saved before the first pushenv when one command
empties the stack and fills it again; the Tcl modulefile saves it itself.
"""

import pytest

from conftest import Cli, clean_env
from modsys import MODULE_SYSTEMS
from sessions import assert_restored, snapshots

pytestmark = [pytest.mark.modsys, pytest.mark.slow]

PRESET = "export VIRTUAL_ENV=/orig/venv PYTHONNOUSERSITE=yes CONDA_PREFIX=/orig/conda"

# module system -> the commands under test, then the command that takes everything off again
OPERATIONS = {
    "reload": ("module load pyenv/a", "module reload", "module unload pyenv/a"),
    "switch": ("module load pyenv/a", "module switch pyenv/a pyenv/b", "module purge"),
    "refresh": ("module load pyenv/a", "module refresh", "module unload pyenv/a"),
    "reload-stacked": ("module load pyenv/a pyenv/b", "module reload", "module unload pyenv/b pyenv/a"),
}


@pytest.fixture(scope="module")
def two_envs(tmp_path_factory):
    base = tmp_path_factory.mktemp("reload")
    env = clean_env(base)
    cli = Cli(env)
    cli("create", "a")
    cli("create", "b")
    return env, cli("modulepath").stdout.strip(), base


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("system", sorted(MODULE_SYSTEMS))
def test_unload_after_reload_switch_refresh_restores_exactly(two_envs, system, operation, tmp_path):
    modsys = MODULE_SYSTEMS[system]().require()
    env, modules_dir, base = two_envs
    load, change, unload = OPERATIONS[operation]
    body = f"snap before\n{load} || exit 11\n{change} || exit 12\nsnap during\n{unload} || exit 13\nsnap after"
    result, envs = snapshots(modsys, env, body, tmp_path, [modules_dir], PRESET)
    assert result.returncode == 0, result.stdout + result.stderr
    during = envs["during"]
    expected = "b" if operation.startswith("switch") or operation == "reload-stacked" else "a"
    assert during["VIRTUAL_ENV"].startswith(f"{base}/root/") and during["VIRTUAL_ENV"].endswith(f"/envs/{expected}")
    assert during["PYTHONNOUSERSITE"] == "1"
    assert_restored(envs)
