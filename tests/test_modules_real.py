"""End to end in real Lmod and real Environment Modules 5, in real bash subprocesses."""

import json
import shlex
import shutil

import pytest

from modsys import run_bash, user_env
from sessions import snapshots

pytestmark = pytest.mark.modsys


def next_steps(create_output: str) -> list[str]:
    """The lines create prints after 'To use it, type:', exactly as a user would type them."""
    lines = create_output.splitlines()
    start = lines.index("To use it, type:") + 1
    return [ln.strip() for ln in lines[start:] if ln.strip()]


def modules_dir(cli) -> str:
    return cli("modulepath").stdout.strip()


def session(modsys, cli, body: str) -> str:
    return f"{modsys.init()}\nmodule use {shlex.quote(modules_dir(cli))}\n{body}"


def module_env_roundtrip(modsys, cli, env, tmp_path, load_lines: str, unload_lines: str, preset: str = ""):
    """Run load/unload in bash; return (before, during, after) environments."""
    body = f"snap before\n{load_lines} || exit 11\nsnap during\n{unload_lines} || exit 12\nsnap after"
    result, envs = snapshots(modsys, env, body, tmp_path, [modules_dir(cli)], preset)
    assert result.returncode == 0, result.stdout + result.stderr
    return envs["before"], envs["during"], envs["after"]


@pytest.mark.slow
def test_printed_next_steps_work_as_typed(modsys, cli, env):
    created = cli("create", "alpha", "-p", "six")
    steps = next_steps(created.stdout)
    assert steps[0].startswith("module use ") and steps[-1] == "module load pyenv/alpha"
    script = modsys.init() + "\n" + "\n".join(steps) + """
python -c 'import six, sys; print(sys.prefix); print(six.__file__)'
"""
    result = run_bash(script, env)
    assert result.returncode == 0, result.stderr
    prefix = json.loads(cli("list", "--json").stdout)[0]["prefix"]
    assert result.stdout.splitlines() == [prefix, f"{prefix}/lib/python{_mm(cli)}/site-packages/six.py"]


def _mm(cli) -> str:
    return ".".join(json.loads(cli("list", "--json").stdout)[0]["python"].split(".")[:2])


def test_module_use_is_not_printed_when_already_on_modulepath(cli, env):
    env_with = dict(env, MODULEPATH="/somewhere:" + modules_dir(cli))
    cli.env = env_with
    steps = next_steps(cli("create", "beta").stdout)
    assert steps == ["module load pyenv/beta"]


@pytest.mark.parametrize("preset", [
    "",
    "export VIRTUAL_ENV=/earlier/venv PYTHONNOUSERSITE=yes",
    "export PATH=/opt/tools/bin:$PATH PYTHONNOUSERSITE=0",
    "export VIRTUAL_ENV='/odd path/with \"quotes\" and $dollar'",
])
@pytest.mark.slow
def test_unload_restores_the_environment_exactly(modsys, cli, env, tmp_path, preset):
    cli("create", "alpha", "-p", "six")
    prefix = json.loads(cli("list", "--json").stdout)[0]["prefix"]
    before, during, after = module_env_roundtrip(
        modsys, cli, env, tmp_path, "module load pyenv/alpha", "module unload pyenv/alpha", preset)
    assert during["VIRTUAL_ENV"] == prefix
    assert during["PYTHONNOUSERSITE"] == "1"
    # first the launchers of 'pyenvmod stage' (ROOT/<arch>/images/NAME/bin), then the environment's bin
    assert during["PATH"].split(":")[:2] == [prefix.replace("/envs/alpha", "/images/alpha/bin"),
                                             f"{prefix}/bin"]
    assert "PYTHONHOME" not in during and during.get("LD_LIBRARY_PATH") == before.get("LD_LIBRARY_PATH")
    before, after = user_env(before, after)
    assert before == after


def test_a_variable_set_empty_before_load(modsys, cli, env, tmp_path):
    """Environment Modules restores an empty value exactly; Lmod's pushenv cannot tell empty
    from unset and leaves it unset (documented in the user guide; Python treats both alike)."""
    cli("create", "alpha")
    before, during, after = module_env_roundtrip(
        modsys, cli, env, tmp_path, "module load pyenv/alpha", "module unload pyenv/alpha",
        "export PYTHONNOUSERSITE=")
    before, after = user_env(before, after)
    if modsys.name == "lmod":
        assert after.get("PYTHONNOUSERSITE") is None
        before.pop("PYTHONNOUSERSITE")
    assert before == after


@pytest.mark.slow
def test_python_resolves_into_the_environment(modsys, cli, env):
    cli("create", "alpha", "-p", "six", "--description", "first env")
    prefix = json.loads(cli("list", "--json").stdout)[0]["prefix"]
    script = session(modsys, cli, """
module load pyenv/alpha || exit 11
command -v python
python -c 'import six, sys, site; print(six.__file__); print(sys.flags.no_user_site)'
command -v pip && pip --version
""")
    result = run_bash(script, env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    launchers = prefix.replace("/envs/alpha", "/images/alpha/bin")  # 'pyenvmod stage': they run prefix/bin/*
    assert lines[0] == f"{launchers}/python"
    assert lines[1].startswith(f"{prefix}/lib/") and lines[2] == "1"
    assert lines[3] == f"{launchers}/pip" and prefix in lines[4]


@pytest.mark.slow
def test_two_environments_loaded_at_once_and_listed_by_avail(modsys, cli, env, tmp_path):
    cli("create", "alpha", "-p", "six")
    cli("create", "beta", "-p", "iniconfig")
    records = {r["name"]: r for r in json.loads(cli("list", "--json").stdout)}
    script = session(modsys, cli, """
module avail pyenv 2>&1
echo @@SEP@@
module load pyenv/alpha pyenv/beta || exit 11
module list 2>&1
echo @@SEP@@
command -v python
echo "$PATH"
""")
    result = run_bash(script, env)
    assert result.returncode == 0, result.stderr
    avail, loaded, rest = result.stdout.split("@@SEP@@\n")
    for name in ("alpha", "beta"):
        assert records[name]["module"] in avail
        assert records[name]["module"] in loaded
    python, path = rest.splitlines()
    launchers = {n: records[n]["prefix"].replace(f"/envs/{n}", f"/images/{n}/bin") for n in records}
    assert python == f"{launchers['beta']}/python"  # most recent first (the launcher of 'pyenvmod stage')
    entries = path.split(":")
    assert entries[:4] == [launchers["beta"], f"{records['beta']['prefix']}/bin",
                           launchers["alpha"], f"{records['alpha']['prefix']}/bin"]
    before, during, after = module_env_roundtrip(
        modsys, cli, env, tmp_path, "module load pyenv/alpha pyenv/beta",
        "module unload pyenv/beta; module unload pyenv/alpha")
    before, after = user_env(before, after)
    assert before == after


def test_whatis_and_help_show_the_description(modsys, cli, env):
    cli("create", "alpha", "--description", 'Stable "stack" $(id) ]] {x}')
    script = session(modsys, cli, "module whatis pyenv/alpha 2>&1; module help pyenv/alpha 2>&1")
    result = run_bash(script, env)
    assert result.stdout.count('Stable "stack" $(id) ]] {x}') >= 2, result.stdout + result.stderr
    assert "uid=" not in result.stdout


def test_loading_a_deleted_environment_fails_clearly(modsys, cli, env, root):
    cli("create", "alpha")
    prefix = json.loads(cli("list", "--json").stdout)[0]["prefix"]
    shutil.rmtree(prefix)
    script = session(modsys, cli, "module load pyenv/alpha; echo \"rc=$?\"; echo \"VE=${VIRTUAL_ENV:-}\"")
    result = run_bash(script, env)
    assert "missing" in result.stderr and prefix in result.stderr
    assert "VE=\n" in result.stdout or result.stdout.endswith("VE=\n")


def test_module_load_by_short_name_picks_the_only_version(modsys, cli, env):
    cli("create", "alpha")
    script = session(modsys, cli, "module load pyenv/alpha && module list 2>&1")
    result = run_bash(script, env)
    assert result.returncode == 0 and "pyenv/alpha/py" in result.stdout, result.stderr
