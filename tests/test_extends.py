"""create --extends BASE: a small environment layered on another, instead of a clone."""

import json
import os
import shlex
import subprocess

import pytest

from conftest import Cli, assert_one_line_error, clean_env
from modsys import MODULE_SYSTEMS, parse_env0, run_bash, user_env

# slow: creates layered environments with real installs
pytestmark = pytest.mark.slow


def site_packages(prefix):
    (lib,) = [p for p in os.listdir(f"{prefix}/lib") if p.startswith("python")]
    return f"{prefix}/lib/{lib}/site-packages"


def installed(prefix):
    return sorted(p.split("-")[0].lower() for p in os.listdir(site_packages(prefix)) if p.endswith(".dist-info"))


@pytest.fixture(scope="module")
def layered(tmp_path_factory):
    base = tmp_path_factory.mktemp("extends")
    env = clean_env(base)
    cli = Cli(env)
    cli("create", "base", "--python", "3.12", "-p", "six", "iniconfig")
    out = cli("create", "child", "--extends", "base", "-p", "six", "packaging")
    records = {r["name"]: r for r in json.loads(cli("list", "--json").stdout)}
    return {"env": env, "cli": cli, "records": records, "out": out, "modules": cli("modulepath").stdout.strip()}


def test_only_what_the_base_lacks_is_installed(layered):
    child, base = layered["records"]["child"], layered["records"]["base"]
    assert "packaging" in installed(child["prefix"])
    assert "six" not in installed(child["prefix"]) and "iniconfig" not in installed(child["prefix"])
    assert child["extends"] == "base" and child["python"] == base["python"]


def test_the_base_packages_import_even_when_run_by_path(layered):
    child = layered["records"]["child"]["prefix"]
    result = subprocess.run([f"{child}/bin/python", "-c", "import six, iniconfig, packaging; print(six.__file__)"],
                            capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(layered["records"]["base"]["prefix"])


def test_list_shows_the_base(layered):
    table = layered["cli"]("list").stdout
    line = next(ln for ln in table.splitlines() if ln.startswith("child"))
    assert " base " in line


@pytest.fixture(params=sorted(MODULE_SYSTEMS))
def ms(request):
    return MODULE_SYSTEMS[request.param]().require()


def test_loading_the_child_loads_the_base_and_pip_sees_it(ms, layered, tmp_path):
    child, base = (layered["records"][n]["prefix"] for n in ("child", "base"))
    files = {k: tmp_path / k for k in ("before", "after")}
    script = f"""{ms.init()}
module use {shlex.quote(layered['modules'])}
env -0 > {files['before']}
module load pyenv/child || exit 11
module list 2>&1
echo "python=$(command -v python)"
pip install iniconfig 2>&1 | tail -1
module unload pyenv/child || exit 12
module list 2>&1
env -0 > {files['after']}
"""
    result = run_bash(script, layered["env"])
    assert result.returncode == 0, result.stdout + result.stderr
    loaded, unloaded = result.stdout.split("python=")
    assert "pyenv/base/py3.12" in loaded and "pyenv/child/py3.12" in loaded
    assert unloaded.startswith(child.replace("/envs/child", "/images/child/bin/python"))  # stage's launcher
    assert "already satisfied" in unloaded and base in unloaded
    assert "pyenv/base" not in unloaded.split("already satisfied")[1]
    assert "iniconfig" not in installed(child)
    before, after = user_env(*(parse_env0(files[k].read_bytes()) for k in ("before", "after")))
    assert before == after


def test_a_base_in_another_tree_is_found_by_its_folder(ms, layered, tmp_path):
    """A group's or site's base: the child's modulefile adds the base's tree to MODULEPATH."""
    env = clean_env(tmp_path)
    cli = Cli(env)
    base_prefix = layered["records"]["base"]["prefix"]
    cli("create", "mine", "--extends", base_prefix, "-p", "packaging")
    (entry,) = json.loads(cli("list", "--json").stdout)
    assert entry["extends"] == "base"
    script = f"""{ms.init()}
module use {shlex.quote(cli('modulepath').stdout.strip())}
module load pyenv/mine || exit 11
python -c 'import six, packaging, sys; print(sys.prefix)'
"""
    result = run_bash(script, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == entry["prefix"]


def test_python_version_must_match_the_base(layered):
    result = layered["cli"]("create", "odd", "--extends", "base", "--python", "3.11", check=False)
    assert_one_line_error(result, "Python 3.11", "'base' uses Python 3.12", "same Python version")


@pytest.mark.parametrize("spec,fragment", [("ghost", "no environment named 'ghost'"),
                                           ("/tmp/not/an/env", "not an environment made by pyenvmod")])
def test_unknown_base(layered, spec, fragment):
    assert_one_line_error(layered["cli"]("create", "odd", "--extends", spec, check=False), fragment)


def test_a_base_cannot_be_deleted_while_extended(layered):
    result = layered["cli"]("delete", "base", "--yes", check=False)
    assert_one_line_error(result, "'base' is the base of 'child'", "delete those first")


def test_a_missing_base_is_reported_by_list(tmp_path):
    import shutil

    cli = Cli(clean_env(tmp_path))
    cli("create", "b0", "--python", "3.12")
    cli("create", "c0", "--extends", "b0")
    records = {r["name"]: r for r in json.loads(cli("list", "--json").stdout)}
    shutil.rmtree(records["b0"]["prefix"])
    records = {r["name"]: r for r in json.loads(cli("list", "--json").stdout)}
    assert records["c0"]["health"] == "broken"
    assert any("base environment 'b0'" in p for p in records["c0"]["problems"])
