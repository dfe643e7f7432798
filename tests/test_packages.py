"""install / update / remove, history and rollback, module spider through extensions()."""

import json
import os
import shlex
import subprocess

import pytest

import localpkg
from conftest import assert_one_line_error
from modsys import Lmod, run_bash

# slow: installs, updates, removes and rolls back real packages
pytestmark = pytest.mark.slow


def meta(root, name):
    return json.loads(next(root.glob(f"*/meta/{name}.json")).read_text())


def py(root, name, code):
    prefix = meta(root, name)["prefix"]
    return subprocess.run([f"{prefix}/bin/python", "-c", code], capture_output=True, text=True)


def test_install_update_remove_refresh_metadata_and_history(cli, root):
    cli("create", "a", "-p", "six")
    cli("install", "a", "iniconfig", "packaging<25")
    record = meta(root, "a")
    assert record["packages"]["iniconfig"] and record["packages"]["packaging"].startswith("24.")
    assert record["requested"] == ["six", "iniconfig", "packaging<25"]
    cli("update", "a", "packaging")
    assert not meta(root, "a")["packages"]["packaging"].startswith("24.")
    cli("remove", "a", "six")
    record = meta(root, "a")
    assert "six" not in record["packages"] and record["requested"] == ["iniconfig", "packaging<25"]
    assert py(root, "a", "import six").returncode != 0
    out = cli("history", "a").stdout
    lines = [ln.strip() for ln in out.splitlines()]
    assert lines[0].split()[0] == "1" and lines[0].endswith("create six") and "+six==" + "" in out
    assert any(ln.endswith("install iniconfig packaging<25") for ln in lines)
    assert any(ln.startswith("packaging 24.") and "->" in ln for ln in lines)
    assert any(ln.startswith("-six==") for ln in lines)
    entries = json.loads(cli("history", "a", "--json").stdout)
    assert [e["action"] for e in entries] == ["create", "install", "update", "remove"]


def test_update_without_names_updates_the_requested_packages_within_their_constraints(cli, root):
    cli("create", "a", "-p", "packaging<25")
    cli("update", "a")
    assert meta(root, "a")["packages"]["packaging"].startswith("24.")


@pytest.mark.parametrize("args,fragment", [
    (("install", "a", "--", "-e."), "invalid package spec"),
    (("install", "ghost", "six"), "no environment named 'ghost'"),
    (("remove", "a", "not-installed-pkg"), "not-installed-pkg is not installed in 'a'"),
    (("install", "a", "no-such-package-pyenvmod-zz"), "could not install"),
    (("rollback", "a", "--to", "7"), "no history entry 7"),
])
def test_bad_requests(cli, root, args, fragment):
    cli("create", "a")
    before = meta(root, "a")
    assert_one_line_error(cli(*args, check=False), fragment)
    assert meta(root, "a")["packages"] == before["packages"]


def test_remove_refuses_a_package_of_the_base(cli, root):
    cli("create", "base", "--python", "3.12", "-p", "six")
    cli("create", "child", "--extends", "base")
    assert_one_line_error(cli("remove", "child", "six", check=False), "comes from the base 'base'")
    assert py(root, "base", "import six").returncode == 0


def test_rollback_restores_an_earlier_package_set_and_scripts_work(cli, root, tmp_path):
    tool, _ = localpkg.make(tmp_path / "tool", "tooly", {"tooly.py": "def main():\n    print('tooly ok')\n"},
                            scripts={"tooly": "tooly:main"})
    cli("create", "a", "-p", "six", tool)
    cli("install", "a", "packaging<25")
    cli("update", "a", "packaging")
    cli("remove", "a", "six")
    out = cli("rollback", "a", "--to", "2").stdout
    assert "history entry 2" in out
    record = meta(root, "a")
    assert record["packages"]["packaging"].startswith("24.") and "six" in record["packages"]
    assert record["requested"][-1] == "packaging<25"
    prefix = record["prefix"]
    for script in ("tooly", "pip"):
        result = subprocess.run([f"{prefix}/bin/{script}", "--version" if script == "pip" else "--help"],
                                capture_output=True, text=True)
        assert result.returncode == 0, (script, result.stderr)
        assert open(f"{prefix}/bin/{script}").readline() == f"#!{prefix}/bin/python\n"
    assert not [p for p in os.listdir(os.path.dirname(prefix)) if p.startswith(".")], "staging left behind"
    assert json.loads(cli("history", "a", "--json").stdout)[-1]["action"] == "rollback"
    assert json.loads(cli("list", "--json").stdout)[0]["health"] == "ok"


def test_a_failed_rollback_leaves_the_environment_untouched(cli, root):
    cli("create", "a", "-p", "six")
    cli("install", "a", "iniconfig")
    entry = next(root.glob("*/history/a/0001.json"))
    data = json.loads(entry.read_text())
    data["packages"]["no-such-package-pyenvmod-zz"] = "1.0"
    entry.write_text(json.dumps(data))
    before = meta(root, "a")
    result = cli("rollback", "a", "--to", "1", check=False)
    assert_one_line_error(result, "could not install")
    assert meta(root, "a") == before
    assert py(root, "a", "import six, iniconfig").returncode == 0
    prefix = before["prefix"]
    assert not [p for p in os.listdir(os.path.dirname(prefix)) if p.startswith(".")]


def test_module_spider_finds_the_environment_that_provides_a_package(cli, env):
    lmod = Lmod().require()
    cli("create", "alpha", "-p", "six")
    cli("create", "beta", "-p", "iniconfig")
    script = f"""{lmod.init()}
module use {shlex.quote(cli('modulepath').stdout.strip())}
module spider six 2>&1
"""
    result = run_bash(script, env)
    assert "pyenv/alpha" in result.stdout and "pyenv/beta" not in result.stdout, result.stdout + result.stderr
