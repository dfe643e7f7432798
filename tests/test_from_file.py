"""install NAME --file and update NAME --file: a requirements.txt, an environment.yml, an export."""

import json

import pytest

import localpkg
from conftest import assert_one_line_error


def versions(cli, name) -> dict:
    return {p["name"]: p["version"] for p in json.loads(cli("list", name, "--json").stdout)}


@pytest.fixture
def releases(tmp_path):
    """The same local package in two versions: requirement strings (no network)."""
    return {v: localpkg.make(tmp_path / f"pkg-{v}", "filepkg", {"filepkg.py": f"V = {v!r}\n"}, version=v)[0]
            for v in ("1.0", "2.0")}


@pytest.mark.slow
def test_install_and_update_from_files(cli, tmp_path, releases):
    cli("create", "x")
    (tmp_path / "requirements.txt").write_text(f"# first\n{releases['1.0']}\n")
    cli("install", "x", "--file", tmp_path / "requirements.txt")
    assert versions(cli, "x")["filepkg"] == "1.0"
    (tmp_path / "environment.yml").write_text(
        f"name: x\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n    - {releases['2.0']}\n")
    env_python = json.loads(cli("list", "--json").stdout)[0]["python"]
    if not env_python.startswith("3.11."):
        (tmp_path / "environment.yml").write_text((tmp_path / "environment.yml").read_text()
                                                  .replace("python=3.11", f"python={env_python[:4]}"))
    cli("update", "x", "--file", tmp_path / "environment.yml")
    assert versions(cli, "x")["filepkg"] == "2.0"
    history = cli("history", "x").stdout
    assert "install" in history and "update" in history


@pytest.mark.slow
def test_an_export_installs_into_another_environment(cli, tmp_path, releases):
    cli("create", "src", "-p", releases["1.0"])
    cli("export", "src", "-o", tmp_path / "src.yml")
    cli("create", "dst")
    cli("install", "dst", "--file", tmp_path / "src.yml")
    assert versions(cli, "dst")["filepkg"] == "1.0"
    assert {p["name"]: p["source"] for p in json.loads(cli("list", "dst", "--json").stdout)}["filepkg"] == "requested"


@pytest.mark.slow
def test_files_that_do_not_fit_are_refused(cli, tmp_path):
    cli("create", "x")
    other = tmp_path / "py27.yml"
    other.write_text("dependencies:\n  - python=2.7\n  - pip:\n    - six\n")
    assert_one_line_error(cli("install", "x", "--file", other, check=False), "is for Python 2.7",
                          "pyenvmod create NEW --file")
    conda = tmp_path / "conda.yml"
    conda.write_text("dependencies:\n  - numpy=1.26\n")
    assert_one_line_error(cli("install", "x", "--file", conda, check=False), "conda-only entries", "numpy=1.26")
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    assert_one_line_error(cli("update", "x", "--file", empty, check=False), "names no packages")
    assert_one_line_error(cli("install", "x", "--file", tmp_path / "missing.txt", check=False), "cannot read")
    assert_one_line_error(cli("install", "xy", "--file", empty, check=False), "no environment named 'xy'",
                          "did you mean 'x'?")
    assert_one_line_error(cli("install", "x", check=False), "name at least one package")
