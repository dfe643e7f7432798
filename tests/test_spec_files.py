"""Spec files (create --file): both YAML spellings, what a dependency list may say, and errors
that point at FILE:LINE. In-process checks of spec.read, plus the CLI for what the user sees."""

import json

import pytest

from conftest import assert_one_line_error, leftovers
from pyenvmod.packages import spec
from pyenvmod.errors import PyenvmodError

ENVIRONMENT = """\
name: ignored
channels: [conda-forge, bioconda]
dependencies:
  - python=3.11
  - pip
  - pip:
    - six
    - packaging<25
pyenvmod:
  modules: [gcc/13.2, openmpi/4.1]
  backend: venv
  description: Analysis stack
  no_binary: [mpi4py]
"""


@pytest.mark.parametrize("suffix", [".yml", ".yaml"])
def test_both_yaml_spellings_read_the_same_spec(tmp_path, suffix):
    path = tmp_path / f"environment{suffix}"
    path.write_text(ENVIRONMENT)
    got = spec.read(str(path))
    assert got == spec.Spec(source=str(path), python="3.11", packages=["six", "packaging<25"],
                            modules=["gcc/13.2", "openmpi/4.1"], conda_only=[], backend="venv",
                            description="Analysis stack", no_binary=["mpi4py"], channels=["conda-forge", "bioconda"])


def test_a_yaml_spec_under_another_suffix_is_read_as_requirements(tmp_path):
    path = tmp_path / "environment.txt"
    path.write_text(ENVIRONMENT)
    with pytest.raises(PyenvmodError) as exc:
        spec.read(str(path))
    assert exc.value.message.startswith(f"{path}:4: option lines (-) are not supported")


@pytest.mark.parametrize("dependency,python", [
    ("python", ""),  # bare: the spec does not choose a version
    ("python=3.12", "3.12"),
    ("python==3.12.1", "3.12"),
    ("python>=3.10", "3.10"),
    ("python ~= 3.13", "3.13"),
    ("python=3.12.*", "3.12"),
    ("python 3.11", "3.11"),
])
def test_python_dependency(tmp_path, dependency, python):
    path = tmp_path / "env.yml"
    path.write_text(f"dependencies:\n  - {dependency}\n  - pip:\n    - six\n")
    got = spec.read(str(path))
    assert (got.python, got.packages, got.conda_only) == (python, ["six"], [])


def test_a_bare_python_falls_back_to_the_pyenvmod_block(tmp_path):
    path = tmp_path / "env.yml"
    path.write_text("dependencies:\n  - python\npyenvmod:\n  python: 3.12.4\n")
    assert spec.read(str(path)).python == "3.12"
    path.write_text("dependencies:\n  - python=3.11\npyenvmod:\n  python: 3.12.4\n")
    assert spec.read(str(path)).python == "3.11", "the dependency list wins over the block"


@pytest.mark.parametrize("dependency", ["pythonx", "python-dateutil", "python=3", "python<3.12"])
def test_what_only_looks_like_python_is_a_conda_entry(tmp_path, dependency):
    path = tmp_path / "env.yml"
    path.write_text(f"dependencies:\n  - {dependency}\n  - pip\n")
    got = spec.read(str(path))
    assert (got.python, got.conda_only) == ("", [dependency])


def test_conda_entries_are_kept_in_order_and_pip_is_not_one(tmp_path):
    path = tmp_path / "env.yml"
    path.write_text("dependencies:\n  - numpy=1.26\n  - pip\n  - libgfortran\n  - {pip: [six], other: 1}\n")
    assert spec.read(str(path)).conda_only == ["numpy=1.26", "libgfortran", "{'pip': ['six'], 'other': 1}"]


def test_requirements_lines_comments_and_blanks(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("# header\n\nsix  # pinned later\n   packaging<25   \n#numpy\nattrs # a comment needs a space before #\n")
    got = spec.read(str(path))
    assert got == spec.Spec(source=str(path), packages=["six", "packaging<25", "attrs"])


# Option lines in a requirements file: refused with FILE:LINE and the option named.
# (Local paths such as '-e ./mypkg' may become valid specs; this case then moves to the
# accepted ones, the other options stay refused.)
@pytest.mark.parametrize("line,option", [
    ("-r other.txt", "-r"),
    ("--requirement=other.txt", "--requirement=other.txt"),
    ("-c constraints.txt", "-c"),
    ("--index-url https://elsewhere/simple", "--index-url"),
])
def test_option_lines_are_refused_with_file_and_line(tmp_path, line, option):
    path = tmp_path / "requirements.txt"
    path.write_text(f"# deps\nsix\n\n{line}\npackaging\n")
    with pytest.raises(PyenvmodError) as exc:
        spec.read(str(path))
    assert exc.value.message.startswith(f"{path}:4: option lines ({option}) are not supported")
    assert "indexes belong in the site's pip configuration" in exc.value.message


def test_bad_requirement_names_the_file(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("six\nnumpy>>=1\n")
    with pytest.raises(PyenvmodError) as exc:
        spec.read(str(path))
    assert exc.value.message.startswith(f"{path}: invalid package spec 'numpy>>=1'")


@pytest.mark.parametrize("text,fragment", [
    ("a: [unclosed\n", ":2: not valid YAML"),
    ("a: 1\n\tb: 2\n", ":2: not valid YAML"),
    ("dependencies:\n  - six\n bad: indent\n", ":3: not valid YAML"),
    ("- a list\n", ": not an environment spec"),
    ("just text\n", ": not an environment spec"),
    ("dependencies: six\n", ": not an environment spec"),
    ("dependencies: []\npyenvmod: [a]\n", ": the 'pyenvmod' block must be a mapping"),
    ("dependencies:\n  - pip:\n    - '-r other.txt'\n", ": invalid package spec '-r other.txt'"),
])
def test_bad_yaml_specs(tmp_path, text, fragment):
    path = tmp_path / "env.yaml"
    path.write_text(text)
    with pytest.raises(PyenvmodError) as exc:
        spec.read(str(path))
    assert exc.value.message.startswith(f"{path}{fragment}"), exc.value.message


def test_an_empty_yaml_is_an_empty_spec(tmp_path):
    path = tmp_path / "env.yml"
    path.write_text("")
    assert spec.read(str(path)) == spec.Spec(source=str(path))


def test_an_unreadable_spec_names_the_reason(tmp_path):
    with pytest.raises(PyenvmodError) as exc:
        spec.read(str(tmp_path / "nope.yml"))
    assert exc.value.message == f"cannot read the spec {tmp_path / 'nope.yml'}: No such file or directory"


def test_the_cli_shows_file_and_line_and_makes_nothing(cli, root, tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("six\n-r more.txt\n")
    assert_one_line_error(cli("create", "x", "--file", path, check=False), f"{path}:2:", "(-r)")
    path = tmp_path / "environment.yaml"
    path.write_text("dependencies:\n  - python\n  - pip:\n    - six\n")
    cli("create", "x", "--file", path)
    (entry,) = json.loads(cli("list", "--json").stdout)
    assert entry["name"] == "x"
    assert json.loads(next(root.glob("*/meta/x.json")).read_text())["requested"] == ["six"]
    assert [p for p in leftovers(root) if "/envs/" not in p and "x" not in p] == []


def test_yaml_errors_word_for_word(tmp_path):
    path = tmp_path / "env.yml"
    path.write_text("a: [unclosed\n")
    with pytest.raises(PyenvmodError) as exc:
        spec.read(str(path))
    assert exc.value.message == f"{path}:2: not valid YAML (expected ',' or ']', but got '<stream end>')"
    path.write_text("a: \x07\n")  # a reader error: no line, no 'problem'
    with pytest.raises(PyenvmodError) as exc:
        spec.read(str(path))
    assert exc.value.message.startswith(f"{path}: not valid YAML (unacceptable character #x0007")


def test_option_line_message_word_for_word(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("-r x.txt\n")
    with pytest.raises(PyenvmodError) as exc:
        spec.read(str(path))
    assert exc.value.message == (f"{path}:1: option lines (-r) are not supported; give one requirement per "
                                 "line (indexes belong in the site's pip configuration)")


def test_several_pip_blocks_add_up(tmp_path):
    path = tmp_path / "env.yml"
    path.write_text("dependencies:\n  - pip: [six]\n  - pip: [packaging]\n")
    assert spec.read(str(path)).packages == ["six", "packaging"]
