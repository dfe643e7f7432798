"""export, create --file (pyenvmod export, conda environment.yml, requirements.txt) and --clone."""

import json
import shlex

import pytest
import yaml

import sitemodules
from conftest import assert_one_line_error, leftovers
from modsys import run_bash
from sessions import modules_cmd_line


def pip_part(doc):
    return next(d["pip"] for d in doc["dependencies"] if isinstance(d, dict))


def test_export_is_an_environment_yml_with_a_pyenvmod_block(cli):
    cli("create", "a", "--python", "3.12", "-p", "six", "packaging<25",
        "--description", 'quotes " and: colons # and\nnewlines')
    doc = yaml.safe_load(cli("export", "a").stdout)
    assert doc["name"] == "a" and doc["channels"] == ["conda-forge"]
    assert doc["dependencies"][:2] == ["python=3.12", "pip"]
    pins = pip_part(doc)
    assert all("==" in p for p in pins) and any(p.startswith("six==") for p in pins)
    assert not any(p.startswith("pip==") for p in pins)
    block = doc["pyenvmod"]
    assert block["backend"] == "uv" and block["python"].startswith("3.12.") and block["modules"] == []
    assert block["description"] == 'quotes " and: colons # and\nnewlines'
    for key in ("created", "updated", "exported"):
        assert block[key]


@pytest.mark.slow
def test_export_requested_and_requirements_format(cli, tmp_path):
    cli("create", "a", "-p", "six", "packaging<25")
    doc = yaml.safe_load(cli("export", "a", "--requested").stdout)
    assert pip_part(doc) == ["six", "packaging<25"] and doc["pyenvmod"]["requested_only"] is True
    lines = [ln for ln in cli("export", "a", "--format", "requirements").stdout.splitlines()
             if not ln.startswith("#")]
    assert lines and all("==" in ln for ln in lines) and any(ln.startswith("six==") for ln in lines)
    out = tmp_path / "a.txt"
    cli("export", "a", "--format", "requirements", "-o", out)
    assert out.read_text().splitlines()[2:] == lines
    assert_one_line_error(cli("export", "a", "-o", tmp_path / "no" / "dir" / "x", check=False), "cannot write")


@pytest.mark.slow
def test_round_trip_export_create_export_gives_the_same_package_set(cli, tmp_path):
    cli("create", "a", "-p", "six", "packaging<25", "iniconfig")
    first = tmp_path / "a.yml"
    cli("export", "a", "-o", first)
    cli("create", "b", "--file", first)
    again = yaml.safe_load(cli("export", "b").stdout)
    assert sorted(pip_part(again)) == sorted(pip_part(yaml.safe_load(first.read_text())))
    assert again["pyenvmod"]["python"] == yaml.safe_load(first.read_text())["pyenvmod"]["python"]


@pytest.mark.slow
def test_clone(cli):
    cli("create", "a", "--python", "3.12", "-p", "six", "--description", "original")
    cli("create", "b", "--clone", "a")
    a, b = (yaml.safe_load(cli("export", n).stdout) for n in ("a", "b"))
    assert pip_part(a) == pip_part(b) and b["pyenvmod"]["python"] == a["pyenvmod"]["python"]
    assert b["pyenvmod"]["description"] == "original"


def test_plain_conda_environment_yml(cli, root, tmp_path):
    spec = tmp_path / "environment.yml"
    spec.write_text("name: x\nchannels: [conda-forge]\ndependencies:\n  - python=3.12\n  - numpy=1.26\n"
                    "  - libgfortran\n  - pip\n  - pip:\n    - six\n")
    result = cli("create", "x", "--backend", "uv", "--file", spec, check=False)
    assert_one_line_error(result, "conda-only entries", "numpy=1.26, libgfortran", "pip:")
    assert leftovers(root) == []
    spec.write_text("name: x\ndependencies:\n  - python=3.12\n  - pip\n  - pip:\n    - six\n")
    cli("create", "x", "--file", spec)
    (entry,) = json.loads(cli("list", "--json").stdout)
    assert entry["python"].startswith("3.12.")


def test_requirements_txt(cli, root, tmp_path):
    spec = tmp_path / "requirements.txt"
    spec.write_text("# comment\nsix  # inline comment\n\npackaging<25\n")
    cli("create", "x", "--file", spec)
    assert sorted(json.loads(next(root.glob("*/meta/x.json")).read_text())["requested"]) == ["packaging<25", "six"]
    spec.write_text("six\n--extra-index-url http://elsewhere\n")
    assert_one_line_error(cli("create", "y", "--file", spec, check=False), f"{spec}:2", "option lines")


@pytest.mark.parametrize("text,fragment", [
    ("[unclosed", "not valid YAML"),
    ("- just\n- a list\n", "not an environment spec"),
    ("dependencies:\n  - pip:\n    - '--index-url=x'\n", "invalid package spec"),
])
def test_bad_spec_files(cli, root, tmp_path, text, fragment):
    spec = tmp_path / "spec.yml"
    spec.write_text(text)
    assert_one_line_error(cli("create", "x", "--file", spec, check=False), fragment)
    assert leftovers(root) == []


def test_missing_spec_file(cli, tmp_path):
    assert_one_line_error(cli("create", "x", "--file", tmp_path / "nope.yml", check=False), "cannot read the spec")


@pytest.fixture
def site_tree(tmp_path):
    return sitemodules.make(tmp_path / "site-modules")


def test_spec_modules_are_loaded_before_building_and_recorded(modsys, cli, env, site_tree, tmp_path, root):
    spec = tmp_path / "spec.yml"
    spec.write_text("name: x\ndependencies:\n  - python=3.12\n  - pip:\n    - six\n"
                    "pyenvmod:\n  modules: [gcc/13.2, mpich/4.0]\n")
    script = f"""{modsys.init()}
{modules_cmd_line(modsys)}
module use {shlex.quote(str(site_tree))}
pyenvmod create x --file {shlex.quote(str(spec))} || exit 11
module purge
module use {shlex.quote(cli('modulepath').stdout.strip())}
module load pyenv/x || exit 12
echo "GCC_HOME=$GCC_HOME"
"""
    result = run_bash(script, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "loading gcc/13.2 mpich/4.0" in result.stderr and "GCC_HOME=/opt/gcc/13.2" in result.stdout
    assert json.loads(next(root.glob("*/meta/x.json")).read_text())["modules"] == ["gcc/13.2", "mpich/4.0"]


def test_a_missing_spec_module_is_reported_before_anything_is_made(modsys, cli, env, site_tree, tmp_path, root):
    spec = tmp_path / "spec.yml"
    spec.write_text("dependencies:\n  - pip:\n    - six\npyenvmod:\n  modules: [gcc/13.2, nosuchmpi/9]\n")
    script = f"""{modsys.init()}
{modules_cmd_line(modsys)}
module use {shlex.quote(str(site_tree))}
pyenvmod create x --file {shlex.quote(str(spec))}
"""
    result = run_bash(script, env)
    assert result.returncode != 0 and "nosuchmpi/9" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert leftovers(root) == []


def test_spec_modules_without_a_module_system(cli, tmp_path, root):
    spec = tmp_path / "spec.yml"
    spec.write_text("dependencies:\n  - pip:\n    - six\npyenvmod:\n  modules: [gcc/13.2]\n")
    assert_one_line_error(cli("create", "x", "--file", spec, check=False), "no module system")
    assert leftovers(root) == []
