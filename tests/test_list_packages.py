"""pyenvmod list NAME (the packages of one environment, where each comes from) and the loaded
marks of pyenvmod list."""

import json
import shlex
import subprocess

import pytest

import localpkg
from conftest import assert_one_line_error
from modsys import run_bash


def sources(cli, name) -> dict:
    return {p["name"]: (p["version"], p["source"]) for p in json.loads(cli("list", name, "--json").stdout)}


@pytest.mark.slow
def test_requested_dependency_base_and_outside(cli, tmp_path):
    cli("create", "base", "-p", "six")
    cli("create", "child", "--extends", "base", "-p", "requests")
    requirement, _ = localpkg.make(tmp_path / "extra", "extrapkg", {"extrapkg.py": "X = 1\n"}, version="1.5")
    prefix = cli("prefix", "child").stdout.strip()
    subprocess.run([f"{prefix}/bin/python", "-m", "pip", "install", "-q", requirement], check=True,
                   env=cli.env, capture_output=True)  # a pip install after 'module load'
    found = sources(cli, "child")
    assert found["requests"][1] == "requested"
    assert found["urllib3"][1] == "dependency" and found["idna"][1] == "dependency"
    assert found["six"][1] == "base"
    assert found["extrapkg"] == ("1.5", "outside")
    table = cli("list", "child").stdout.splitlines()
    assert table[0].startswith("# packages in 'child'") and table[1].split() == ["NAME", "VERSION", "FROM"]
    assert any(ln.split()[:2] == ["six", found["six"][0]] and ln.endswith("base (base)") for ln in table)
    assert any(ln.startswith("extrapkg ") and ln.endswith("outside pyenvmod") for ln in table)
    assert all(v[1] in ("requested", "dependency") for v in sources(cli, "base").values())


def test_list_of_an_unknown_environment(cli, root):
    assert_one_line_error(cli("list", "nothere", check=False), "no environment named 'nothere'")


@pytest.mark.slow
@pytest.mark.modsys
def test_loaded_environments_are_marked(modsys, cli, env):
    cli("create", "a")
    cli("create", "b")
    result = run_bash(f"""{modsys.init()}
module use {shlex.quote(cli('modulepath').stdout.strip())}
module load pyenv/a || exit 11
pyenvmod list
pyenvmod list --json
""", env)
    assert result.returncode == 0, result.stdout + result.stderr
    table, _, data = result.stdout.partition("[")
    rows = {ln.split()[0]: ln for ln in table.splitlines()[1:] if ln and ln[0] in "ab"}
    assert rows["a"].split()[1] == "*" and rows["b"].split()[1] != "*"
    assert "* loaded in this shell" in table
    assert {e["name"]: e["loaded"] for e in json.loads("[" + data)} == {"a": True, "b": False}
    plain = cli("list")
    assert "*" not in plain.stdout and all(not e["loaded"] for e in json.loads(cli("list", "--json").stdout))
