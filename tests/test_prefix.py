"""pyenvmod prefix NAME, and create --prefix PATH (an environment at a folder of the user's choosing)."""

import json

import pytest

from conftest import assert_one_line_error, leftovers


@pytest.mark.slow
def test_prefix_prints_the_folder(cli, root):
    cli("create", "mylab")
    entry = json.loads(cli("list", "--json").stdout)[0]
    assert cli("prefix", "mylab").stdout == entry["prefix"] + "\n"
    assert_one_line_error(cli("prefix", "mylba", check=False), "no environment named 'mylba'", "did you mean 'mylab'?")


def test_prefix_of_an_unknown_name_fails(cli, root):
    result = cli("prefix", "nothing", check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert_one_line_error(result, "no environment named 'nothing'", "pyenvmod list")


@pytest.mark.slow
def test_create_at_a_prefix_names_it_after_the_folder(cli, root, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "env").mkdir()  # an empty folder is fine
    cli("create", "--prefix", project / "env", "-p", "six")
    entry = json.loads(cli("list", "--json").stdout)[0]
    assert entry["name"] == "env" and entry["prefix"] == str(project / "env") and entry["health"] == "ok"
    assert entry["module"].startswith("pyenv/env/")
    assert next(root.glob("*/modules/pyenv/env/*.lua")).is_file() and not list(root.glob("*/envs/env"))
    assert cli("prefix", "env").stdout.strip() == str(project / "env")
    assert "six.py" in cli("run", "env", "--", "python", "-c", "import six; print(six.__file__)").stdout
    cli("delete", "env", "--yes")
    assert not (project / "env").exists() and project.is_dir() and leftovers(root) == []


@pytest.mark.slow
def test_create_at_a_prefix_with_a_name(cli, root, tmp_path):
    cli("create", "--prefix", tmp_path / "somewhere", "--name", "proj")
    assert json.loads(cli("list", "--json").stdout)[0]["name"] == "proj"
    assert (tmp_path / "somewhere" / "bin" / "python").exists()
    assert_one_line_error(cli("create", "other", "--name", "proj2", check=False), "two names given")


def test_a_non_empty_folder_is_refused_and_nothing_is_made(cli, root, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "results.csv").write_text("1,2\n")
    result = cli("create", "--prefix", folder, check=False)
    assert_one_line_error(result, f"--prefix {folder} is not empty and not an environment", "new or empty folder")
    assert sorted(p.name for p in folder.iterdir()) == ["results.csv"] and leftovers(root) == []


def test_an_existing_environment_is_pointed_to_adopt(cli, root, tmp_path):
    folder = tmp_path / "venv"
    folder.mkdir()
    (folder / "pyvenv.cfg").write_text("home = /usr/bin\n")
    assert_one_line_error(cli("create", "--prefix", folder, check=False), "already an environment",
                          f"pyenvmod adopt {folder}")


def test_prefix_inside_the_root_and_missing_parent_are_refused(cli, root, tmp_path):
    assert_one_line_error(cli("create", "--prefix", root / "x", check=False), "inside pyenvmod's root")
    assert_one_line_error(cli("create", "--prefix", tmp_path / "no" / "such", check=False), "does not exist")
    assert_one_line_error(cli("create", check=False), "name the environment")
    assert leftovers(root) == []


@pytest.mark.slow
def test_delete_leaves_a_folder_it_cannot_prove_is_this_environments(cli, root, tmp_path):
    cli("create", "--prefix", tmp_path / "env")
    other = tmp_path / "precious"
    other.mkdir()
    (other / "keep.txt").write_text("data")
    meta = next(root.glob("*/meta/env.json"))
    record = json.loads(meta.read_text())
    record["prefix"] = str(other)  # metadata is anyone's word in a group tree
    meta.write_text(json.dumps(record))
    cli("delete", "env", "--yes")
    assert (other / "keep.txt").read_text() == "data"


@pytest.mark.slow
def test_a_failed_create_at_a_prefix_leaves_the_folder_as_it_was(cli, root, tmp_path):
    folder = tmp_path / "env"
    folder.mkdir()
    result = cli("create", "--prefix", folder, "-p", "no-such-package-pyenvmod-zz", check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert folder.is_dir() and list(folder.iterdir()) == [] and leftovers(root) == []


@pytest.mark.slow
def test_unknown_names_get_a_suggestion_in_every_command(cli, root, tmp_path):
    cli("create", "analysis")
    (tmp_path / "req.txt").write_text("six\n")
    for args in (("delete", "analysys", "--yes"), ("install", "analysys", "six"), ("update", "analysys"),
                 ("list", "analysys"), ("export", "analysys"), ("rename", "analysys", "other"),
                 ("install", "analysys", "--file", tmp_path / "req.txt")):
        assert_one_line_error(cli(*args, check=False), "no environment named 'analysys'",
                              "did you mean 'analysis'?")
