"""Python from the site's module system, for real (issue 26): an EasyBuild-style Python module
wrapping an interpreter that is on no PATH and in no pyenv or uv folder the test leaves visible,
with its GCCcore, in real Lmod and Environment Modules 5 trees."""

import json
import os
import shlex
from pathlib import Path

import pytest

import sitemodules
from conftest import PYENV_ROOT, assert_one_line_error, leftovers
from modsys import require, run_bash
from sessions import modules_cmd_line

pytestmark = pytest.mark.modsys


@pytest.fixture
def stack(tmp_path, env):
    bindir, version = sitemodules.off_path_python(PYENV_ROOT)
    require(bool(bindir), "a CPython 3.10-3.13 off the test PATH", "build one with pyenv (pyenv install 3.12)")
    tree = sitemodules.make(tmp_path / "site-modules")
    module = sitemodules.make_python_stack(tree, bindir, version)
    # pyenv's folder shows one other interpreter only (a link to a real one), uv's none
    fake_pyenv = tmp_path / "pyenv"
    (fake_pyenv / "versions").mkdir(parents=True)
    env["PYENV_ROOT"] = str(fake_pyenv)
    env["UV_PYTHON_INSTALL_DIR"] = str(tmp_path / "no-uv-pythons")
    return tree, module, version


def in_shell(modsys, tree, cli, body):
    return f"""{modsys.init()}
{modules_cmd_line(modsys)}
module use {shlex.quote(str(tree))}
module use {shlex.quote(cli('modulepath').stdout.strip())}
{body}
"""


@pytest.mark.slow
def test_create_finds_records_and_reloads_the_python_module(modsys, stack, cli, env, root):
    tree, module, version = stack
    major_minor = ".".join(version.split(".")[:2])
    result = run_bash(in_shell(modsys, tree, cli, f"module purge\npyenvmod create x --python {major_minor}"), env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"loading the Python module {module}" in result.stderr
    record = json.loads(next(root.glob("*/meta/x.json")).read_text())
    assert record["python"] == version and module in record["modules"] and "GCCcore/13.2.0" in record["modules"]
    assert f"Recorded modules (loaded with it): GCCcore/13.2.0 {module}" in result.stdout
    # a fresh shell, nothing loaded: the environment brings its Python module back
    result = run_bash(in_shell(modsys, tree, cli, """module purge
module load pyenv/x || exit 11
python -c 'import sys; print("V=%d.%d.%d" % sys.version_info[:3], sys.prefix)'
echo "EB=$EBROOTPYTHON LOADED=$LOADEDMODULES"
"""), env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"V={version} " in result.stdout and "/envs/x" in result.stdout
    assert f"EB={os.path.dirname(record['base_python'])}" in result.stdout and module in result.stdout


@pytest.mark.slow
def test_pythons_lists_every_source_and_explains_the_choice(modsys, stack, cli, env, tmp_path):
    tree, module, version = stack
    major_minor = ".".join(version.split(".")[:2])
    # pyenv: a real 3.11 build under the fake root; a second module of the same version
    other = next(p for p in sorted((Path(PYENV_ROOT) / "versions").glob("3.1[0-3].*"))
                 if not p.name.startswith(major_minor + "."))
    (tmp_path / "pyenv" / "versions" / other.name).symlink_to(other)
    sitemodules._write(tree / "python", major_minor, [f'prepend_path("PATH", "{stack_bindir(version)}")'],
                       [f"prepend-path PATH {stack_bindir(version)}"])
    result = run_bash(in_shell(modsys, tree, cli, "module purge\npyenvmod pythons --json"), env)
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    sources = {(f["source"], f["where"]) for f in data["pythons"]}
    assert ("module", module) in sources and ("module", f"python/{major_minor}") in sources
    assert any(s == "pyenv" and other.name in w for s, w in sources) and any(s == "PATH" for s, w in sources)
    pick = data["picks"][major_minor]
    assert pick["where"] == module and pick["source"] == "module", pick
    assert "none outside the module system" in pick["why"] and f"python/{major_minor} gives the same version" in pick["why"]
    # the text form says the same; a site preferring modules takes the module for a version pyenv has too
    text = run_bash(in_shell(modsys, tree, cli, f"pyenvmod pythons {major_minor}"), env)
    assert f"--python {major_minor}: module {module} (Python {version}" in text.stdout, text.stdout + text.stderr
    other_mm = ".".join(other.name.split(".")[:2])
    sitemodules._write(tree / "Python", other.name, [f'prepend_path("PATH", "{other}/bin")'],
                       [f"prepend-path PATH {other}/bin"])
    preferred = run_bash(in_shell(modsys, tree, cli, f"PYENVMOD_PYTHON_FROM=modules pyenvmod pythons {other_mm} --json"),
                         env)
    assert json.loads(preferred.stdout)["picks"][other_mm]["where"] == f"Python/{other.name}", preferred.stdout
    # and create takes it, though pyenv's folder has the same version
    made = run_bash(in_shell(modsys, tree, cli, f"PYENVMOD_PYTHON_FROM=modules pyenvmod create m --python {other_mm}"),
                    env)
    assert made.returncode == 0, made.stdout + made.stderr
    assert f"Recorded modules (loaded with it): Python/{other.name}" in made.stdout
    without = run_bash(in_shell(modsys, tree, cli, f"pyenvmod create n --python {other_mm}"), env)
    assert without.returncode == 0 and "Recorded modules" not in without.stdout, without.stdout + without.stderr


def stack_bindir(version):
    return os.path.join(PYENV_ROOT, "versions", version, "bin")


def test_a_version_no_source_has_lists_what_exists(modsys, stack, cli, env, root):
    tree, module, version = stack
    result = run_bash(in_shell(modsys, tree, cli, "pyenvmod create y --python 3.9"), env)
    line = assert_one_line_error(result, "no Python 3.9 found", f"module: {module}", "PATH: 3.")
    assert "pyenvmod pythons" in line
    assert leftovers(root) == []


def test_a_python_module_that_fails_to_load_creates_nothing(modsys, stack, cli, env, root):
    tree, module, version = stack
    broken = sitemodules.make_broken_python(tree)
    result = run_bash(in_shell(modsys, tree, cli, "pyenvmod create y --python 3.14"), env)
    line = assert_one_line_error(result, f"the Python module {broken} (for --python 3.14) does not load")
    assert "nothing was created" in line
    assert leftovers(root) == []


@pytest.fixture
def bundle(stack, tmp_path, env):
    """A SciPy-bundle-like module: bundlepkg 1.26.4 (a real wheel, unpacked) on PYTHONPATH; a find-links
    folder with bundlepkg 1.26.4 and 2.1.0 and userpkg (which needs bundlepkg); no index."""
    import zipfile

    from localpkg import write_wheel

    tree, module, version = stack
    links = tmp_path / "links"
    links.mkdir()
    for v in ("1.26.4", "2.1.0"):
        write_wheel(str(links), "bundlepkg", v, {"bundlepkg/__init__.py": f"V = {v!r}\n"})
    write_wheel(str(links), "userpkg", "1.0", {"userpkg/__init__.py": "import bundlepkg\n"}, requires=["bundlepkg>=1.0"])
    write_wheel(str(links), "newerpkg", "1.0", {"newerpkg/__init__.py": ""}, requires=["bundlepkg>=2"])
    site = tmp_path / "easybuild" / "SciPy-bundle" / "lib" / "site-packages"
    site.mkdir(parents=True)
    with zipfile.ZipFile(links / "bundlepkg-1.26.4-py3-none-any.whl") as zf:
        zf.extractall(site)
    name = sitemodules.make_bundle(tree, site, module)
    env.update(PIP_FIND_LINKS=str(links), UV_FIND_LINKS=str(links), PIP_NO_INDEX="1", UV_NO_INDEX="1")
    return tree, module, version, name, links


@pytest.mark.slow
def test_a_bundles_packages_count_as_installed_and_a_conflict_is_refused(modsys, bundle, cli, env, root):
    tree, module, version, name, links = bundle
    major_minor = ".".join(version.split(".")[:2])
    result = run_bash(in_shell(modsys, tree, cli, f"""module purge
module load {name} || exit 10
pyenvmod create x --python {major_minor} -p userpkg || exit 11
pyenvmod install x bundlepkg || exit 12
pyenvmod install x 'bundlepkg==2.1.0'; echo "conflict=$?"
pyenvmod update x || exit 14
pyenvmod list x || exit 13
"""), env)
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads(next(root.glob("*/meta/x.json")).read_text())
    assert name in record["modules"] and module in record["modules"]
    site = next(Path(record["prefix"]).glob("lib/python*/site-packages"))
    assert (site / "userpkg").is_dir() and not list(site.glob("bundlepkg*")), "no second copy of the bundle's package"
    assert f"bundlepkg 1.26.4 comes from the module {name}: not installed again" in result.stderr
    assert f"bundlepkg 1.26.4 comes from the module {name}: not updated here" in result.stderr
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("pyenvmod: error:")]
    assert len(errors) == 1 and "bundlepkg==2.1.0 conflicts with bundlepkg 1.26.4 from the module " + name in errors[0]
    assert "conflict=0" not in result.stdout and "Traceback" not in result.stderr
    listed = [ln.split() for ln in result.stdout.splitlines() if ln.startswith("bundlepkg")]
    assert listed == [["bundlepkg", "1.26.4", "from", "module", name]], result.stdout
    assert "broken requirements" not in result.stderr, "userpkg's need for bundlepkg is met by the module"
    # a fresh shell: the environment imports the bundle's copy through its module
    result = run_bash(in_shell(modsys, tree, cli, """module purge
module load pyenv/x || exit 11
python -c 'import bundlepkg, userpkg; print("BV=" + bundlepkg.V)'
"""), env)
    assert "BV=1.26.4" in result.stdout, result.stdout + result.stderr


@pytest.mark.slow
def test_doctor_flags_a_copy_a_module_hides_and_another_compiler(modsys, bundle, cli, env, root):
    tree, module, version, name, links = bundle
    major_minor = ".".join(version.split(".")[:2])
    sitemodules._write(tree / "GCCcore", "12.3.0", ['setenv("EBROOTGCCCORE", "/opt/GCCcore/12.3.0")'],
                       ["setenv EBROOTGCCCORE /opt/GCCcore/12.3.0"])
    result = run_bash(in_shell(modsys, tree, cli, f"""module purge
module load {name} || exit 10
pyenvmod create x --python {major_minor} || exit 11
pyenvmod doctor x; echo "clean=$?"
$(pyenvmod prefix x)/bin/python -m pip install -q --no-deps {links}/bundlepkg-2.1.0-py3-none-any.whl || exit 12
module purge
module load GCCcore/12.3.0 || exit 13
pyenvmod doctor x
pyenvmod list x
"""), env)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    first, second = result.stdout.split("clean=", 1)
    assert "never imported" not in first and "GCCcore/12.3.0" not in first
    assert f"bundlepkg 2.1.0 is installed in it but never imported: the module {name} puts bundlepkg 1.26.4" in second
    assert f"GCCcore/12.3.0 is loaded, but its Python was built with GCCcore/13.2.0" in second
    assert "hides 2.1.0 installed here" in second


@pytest.mark.slow
def test_a_package_needing_another_version_than_the_modules_is_refused_and_nothing_is_created(
        modsys, bundle, cli, env, root):
    tree, module, version, name, links = bundle
    result = run_bash(in_shell(modsys, tree, cli, f"module purge\nmodule load {name}\npyenvmod create y -p newerpkg"), env)
    assert_one_line_error(result, "newerpkg 1.0 needs bundlepkg>=2, but the module " + name,
                          "gives bundlepkg 1.26.4")
    assert leftovers(root) == []
    # into an environment that exists, install says so (the dependency check counts the module's copy)
    result = run_bash(in_shell(modsys, tree, cli, f"module purge\nmodule load {name}\npyenvmod create z || exit 10\n"
                                                  "pyenvmod install z newerpkg"), env)
    assert "newerpkg 1.0 has requirement bundlepkg>=2, but you have bundlepkg 1.26.4" in result.stderr, \
        result.stdout + result.stderr
