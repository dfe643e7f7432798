"""Options where users type them: --group before or after the command, a name swallowed by -p,
and "did you mean" for unknown environment names."""

import json

import pytest

from conftest import assert_one_line_error
from pyenvmod.cli import COMMANDS


@pytest.fixture
def group_dir(tmp_path):
    folder = tmp_path / "project-lab"
    folder.mkdir()
    return folder


def test_group_works_after_the_command(cli, root, group_dir):
    cli("create", "--group", group_dir, "shared")
    cli("create", "mine")
    after = json.loads(cli("list", "--group", group_dir, "--json").stdout)
    before = json.loads(cli("--group", group_dir, "list", "--json").stdout)
    assert [e["name"] for e in after] == [e["name"] for e in before] == ["shared"]
    assert after[0]["prefix"].startswith(str(group_dir))
    assert [e["name"] for e in json.loads(cli("list", "--json").stdout)] == ["mine"]
    assert not any(root.glob("*/meta/shared.json"))


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_shows_group(cli, command):
    assert "--group GROUP" in cli(command, "--help").stdout


def test_a_name_swallowed_by_dash_p_is_explained(cli, root):
    line = assert_one_line_error(cli("create", "-p", "six", "x3", check=False),
                                 "put the name before -p", "end the list with --", "six x3")
    assert "pyenvmod create x3 -p six" in line
    assert not root.exists() or not any(root.glob("*/envs/*"))
    cli("create", "-p", "six", "--", "x3")
    assert json.loads(cli("list", "--json").stdout)[0]["name"] == "x3"


@pytest.mark.parametrize("args", [
    ("install", "mylba", "six"), ("update", "mylba"), ("remove", "mylba", "six"), ("history", "mylba"),
    ("rollback", "mylba", "--to", "1"), ("export", "mylba"), ("module", "mylba"), ("delete", "mylba", "--yes"),
    ("kernel", "mylba"), ("doctor", "mylba"), ("create", "x", "--extends", "mylba"), ("create", "x", "--clone", "mylba"),
])
def test_unknown_names_get_a_did_you_mean(cli, args):
    cli("create", "mylab")
    assert_one_line_error(cli(*args, check=False), "no environment named 'mylba'", "did you mean 'mylab'?")


def test_no_suggestion_when_nothing_is_close(cli):
    cli("create", "mylab")
    line = assert_one_line_error(cli("history", "zzz", check=False), "no environment named 'zzz'")
    assert "did you mean" not in line
