"""Several environments loaded at once, in real Lmod and real Environment Modules 5.

Every loaded environment's packages import from every loaded python (editable installs
and namespace packages included), the most recently loaded wins, console scripts of
all of them run, unloading in any order leaves exactly the others, and a second
environment with another Python version is refused.
"""

import copy
import json
import shlex

import pytest

import localpkg
from conftest import Cli, clean_env
from modsys import MODULE_SYSTEMS, parse_env0, run_bash, user_env

# slow: builds local packages and an editable install (test_modulefile_guards covers the load/unload logic fast)
pytestmark = [pytest.mark.modsys, pytest.mark.slow]


@pytest.fixture(scope="module")
def built_stack(tmp_path_factory):
    """alpha and beta (Python 3.12) with overlapping packages, an editable install in alpha,
    and gamma on another Python version. Built once for the module."""
    base = tmp_path_factory.mktemp("stack")
    env = clean_env(base)
    cli = Cli(env)
    pkgs = base / "pkgs"
    alpha_pkg, _ = localpkg.make(pkgs / "alphapkg", "alphapkg", {
        "alphapkg.py": "def main():\n    print('alpha-tool ok')\n",
        "nsdemo/a.py": "WHO = 'alpha'\n",
        "shared.py": "WHO = 'alpha'\n",
    }, scripts={"alpha-tool": "alphapkg:main"})
    beta_pkg, _ = localpkg.make(pkgs / "betapkg", "betapkg", {
        "betapkg.py": "def main():\n    print('beta-tool ok')\n",
        "nsdemo/b.py": "WHO = 'beta'\n",
        "shared.py": "WHO = 'beta'\n",
    }, scripts={"beta-tool": "betapkg:main"})
    localpkg.make(pkgs / "edpkg", "edpkg", {"edpkg.py": "WHO = 'editable in alpha'\n"})
    cli("create", "alpha", "--python", "3.12", "-p", "six", alpha_pkg)
    cli("create", "beta", "--python", "3.12", "-p", "iniconfig", beta_pkg)
    cli("create", "gamma", "--python", "3.11")
    records = {r["name"]: r for r in json.loads(cli("list", "--json").stdout)}
    # an editable install, the way a user makes one: after module load, with pip
    editable = run_bash(f"""
export PATH={records['alpha']['prefix']}/bin:$PATH
pip install --quiet --no-build-isolation -e {shlex.quote(str(pkgs / 'edpkg'))}
""", env)
    assert editable.returncode == 0, editable.stderr
    return {"env": env, "cli": cli, "records": records, "modules": cli("modulepath").stdout.strip()}


@pytest.fixture
def stack(built_stack):
    """The shared environments, read-only: each test gets its own copy of what describes them,
    and anything a test adds goes into a tree of its own."""
    return copy.deepcopy(built_stack)


@pytest.fixture(params=sorted(MODULE_SYSTEMS))
def ms(request):
    return MODULE_SYSTEMS[request.param]().require()


def run(ms, stack, body, *more_trees):
    uses = "".join(f"module use {shlex.quote(str(t))}\n" for t in (*more_trees, stack["modules"]))
    script = f"{ms.init()}\n{uses}{body}"
    return run_bash(script, stack["env"])


IMPORT_ALL = ("import six, iniconfig, alphapkg, betapkg, edpkg, nsdemo.a, nsdemo.b, shared, sys; "
              "print(sys.prefix, shared.WHO, edpkg.WHO, nsdemo.a.WHO, nsdemo.b.WHO, sep='|')")


def test_each_loaded_python_imports_every_loaded_environment(ms, stack):
    alpha, beta = (stack["records"][n]["prefix"] for n in ("alpha", "beta"))
    result = run(ms, stack, f"""
module load pyenv/alpha pyenv/beta || exit 11
python -c {shlex.quote(IMPORT_ALL)} || exit 12
{alpha}/bin/python -c {shlex.quote(IMPORT_ALL)} || exit 13
{beta}/bin/python -c {shlex.quote(IMPORT_ALL)} || exit 14
alpha-tool && beta-tool || exit 15
""")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    # the most recently loaded environment (beta) wins a name both provide, from every python
    assert lines[0] == f"{beta}|beta|editable in alpha|alpha|beta"
    assert lines[1] == f"{alpha}|beta|editable in alpha|alpha|beta"
    assert lines[2] == f"{beta}|beta|editable in alpha|alpha|beta"
    assert lines[3:] == ["alpha-tool ok", "beta-tool ok"]


def test_load_order_sets_precedence(ms, stack):
    result = run(ms, stack, """
module load pyenv/beta pyenv/alpha || exit 11
python -c 'import shared, sys; print(shared.WHO, sys.prefix)'
""")
    assert result.stdout.split() == ["alpha", stack["records"]["alpha"]["prefix"]], result.stderr


def test_an_environment_alone_sees_only_itself(ms, stack):
    result = run(ms, stack, """
module load pyenv/alpha || exit 11
python -c 'import six, edpkg' || exit 12
python -c 'import betapkg' 2>/dev/null && exit 13
python -c 'import iniconfig' 2>/dev/null && exit 14
exit 0
""")
    assert result.returncode == 0, result.stdout + result.stderr


def test_python_run_by_path_without_its_module_is_unaffected(ms, stack):
    alpha = stack["records"]["alpha"]["prefix"]
    result = run(ms, stack, f"""
module load pyenv/beta || exit 11
{alpha}/bin/python -c 'import betapkg' 2>/dev/null && exit 12
{alpha}/bin/python -c 'import alphapkg, shared; print(shared.WHO)'
""")
    assert result.returncode == 0 and result.stdout.strip() == "alpha", result.stdout + result.stderr


@pytest.mark.parametrize("order", [("alpha", "beta"), ("beta", "alpha")])
def test_unload_in_any_order_leaves_exactly_the_other(ms, stack, tmp_path, order):
    first, second = order
    files = {k: tmp_path / k for k in ("only_second", "both_then_first_unloaded", "start", "end")}
    result = run(ms, stack, f"""
env -0 > {files['start']}
module load pyenv/{second} || exit 11
env -0 > {files['only_second']}
module unload pyenv/{second} || exit 12
module load pyenv/{first} pyenv/{second} || exit 13
module unload pyenv/{first} || exit 14
env -0 > {files['both_then_first_unloaded']}
python -c 'import {first}pkg' 2>/dev/null && exit 15
python -c 'import {second}pkg, sys; print(sys.prefix)' || exit 16
module unload pyenv/{second} || exit 17
env -0 > {files['end']}
""")
    assert result.returncode == 0, result.stdout + result.stderr
    env = {k: parse_env0(v.read_bytes()) for k, v in files.items()}
    alone, after = user_env(env["only_second"], env["both_then_first_unloaded"])
    assert after == alone
    assert after["VIRTUAL_ENV"] == stack["records"][second]["prefix"]
    start, end = user_env(env["start"], env["end"])
    assert start == end


def test_three_environments_unloaded_from_the_middle(ms, stack, tmp_path):
    """Lmod's pushenv is a stack; the modulefile keeps VIRTUAL_ENV right anyway."""
    p = {n: stack["records"][n]["prefix"] for n in ("alpha", "beta")}
    own = Cli(clean_env(tmp_path / "own"))  # a third environment in this test's own tree
    own("create", "delta", "--python", "3.12")
    (delta,) = json.loads(own("list", "--json").stdout)
    p["delta"] = delta["prefix"]
    result = run(ms, stack, """
export VIRTUAL_ENV=/before/any
module load pyenv/alpha pyenv/beta pyenv/delta || exit 11
module unload pyenv/beta; echo "$VIRTUAL_ENV"
module unload pyenv/delta; echo "$VIRTUAL_ENV"
module load pyenv/beta; echo "$VIRTUAL_ENV"
module unload pyenv/alpha; echo "$VIRTUAL_ENV"
module unload pyenv/beta; echo "$VIRTUAL_ENV"
""", own("modulepath").stdout.strip())
    assert result.stdout.splitlines() == [p["delta"], p["alpha"], p["beta"], p["beta"], "/before/any"], \
        result.stdout + result.stderr


def test_another_python_version_is_refused_naming_both(ms, stack):
    result = run(ms, stack, """
module load pyenv/alpha || exit 11
module load pyenv/gamma
echo "rc=$?"
module list 2>&1
python -c 'import sys; print(sys.prefix)'
""")
    out = result.stdout + result.stderr
    assert "pyenv/gamma (Python 3.11)" in out and "pyenv/alpha is loaded and uses Python 3.12" in out, out
    assert "rc=0" not in result.stdout
    assert "pyenv/gamma" not in result.stdout.split("rc=")[1].split("\n", 1)[1].replace(
        "pyenv/gamma (Python", "")  # not in module list
    assert result.stdout.strip().endswith(stack["records"]["alpha"]["prefix"])


def test_refused_in_one_command_too(ms, stack):
    result = run(ms, stack, "module load pyenv/alpha pyenv/gamma; echo \"rc=$?\"; echo \"VE=${VIRTUAL_ENV:-}\"")
    out = result.stdout + result.stderr
    assert "pyenv/gamma (Python 3.11)" in out, out
    assert "rc=0" not in result.stdout
