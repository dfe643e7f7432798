"""The modulefiles' guards and unload logic in the real module systems: each Lua-fake test of
test_render.py's stacking section has its counterpart here, run by real Lmod (the .lua file)
and real Environment Modules 5 (the Tcl file). The modulefiles are rendered in-process, so
these tests also check the templates under mutation (tests/mutate_text.py)."""

import shlex

import pytest

import sitemodules
from modsys import user_env
from sessions import assert_restored, snapshots
from pyenvmod.modules import modulefiles, render
from pyenvmod.records.metadata import EnvRecord

pytestmark = pytest.mark.modsys


class Tree:
    """A module tree with rendered pyenvmod modulefiles; each environment an empty prefix folder."""

    def __init__(self, base):
        self.base = base
        self.modules = base / "modules"

    def add(self, name, python="3.12.1", options=None, **overrides):
        prefix = self.base / "envs" / name
        (prefix / "bin").mkdir(parents=True, exist_ok=True)
        mm = ".".join(python.split(".")[:2])
        values = dict(name=name, prefix=str(prefix), python=python, base_python="/usr/bin/python3", backend="uv",
                      module=f"pyenv/{name}/py{mm}", created="2026-11-24T10:00:00+00:00", owner="alice",
                      platform="x86_64-debian12")
        values.update(overrides)
        rec = EnvRecord(**values)
        folder = self.modules / "pyenv" / name
        folder.mkdir(parents=True, exist_ok=True)
        ctx = modulefiles.context(rec, self.modules, options)
        for fmt in render.FORMATS.values():
            (folder / fmt.filename(rec.tag)).write_text(render.render(fmt, ctx))
        return prefix


@pytest.fixture
def tree(tmp_path):
    return Tree(tmp_path / "tree")


def session(modsys, env, tree, body, tmp_path):
    """Run BODY after `module use`; return (exit code, stderr, {label: environment}) where
    each `snap LABEL` line in BODY saved the environment at that point."""
    result, envs = snapshots(modsys, env, body, tmp_path, module_paths=[tree.modules], timeout=120)
    return result.returncode, " ".join(result.stderr.split()), envs  # Lmod wraps long messages


def round_trip(modsys, env, tree, tmp_path, name, setup=""):
    """SETUP, then NAME loaded and unloaded (snaps before, during, after); both must succeed."""
    code, err, envs = session(modsys, env, tree, f"""{setup}
snap before
module load pyenv/{name} || exit 11
snap during
module unload pyenv/{name} || exit 12
snap after
""", tmp_path)
    assert code == 0, err
    return envs


def test_a_second_environment_of_another_python_is_refused_naming_both(modsys, env, tree, tmp_path):
    tree.add("old", python="3.11.7")
    tree.add("mylab")
    code, err, envs = session(modsys, env, tree, """
module load pyenv/old || exit 11
snap before
module load pyenv/mylab && exit 12
snap after
""", tmp_path)
    assert code == 0, err
    assert "pyenv/mylab (Python 3.12)" in err and "pyenv/old is loaded and uses Python 3.11" in err
    assert ("Cannot load pyenv/mylab (Python 3.12): pyenv/old is loaded and uses Python 3.11. Environments "
            "loaded together must use the same Python version; unload pyenv/old first.") in err
    assert_restored(envs)
    assert envs["after"]["PYENVMOD_LOADED"] == "old@3.11"


@pytest.mark.parametrize("preset", ["", "tools@3.12", "mylab@3.11", "garbage", "tools@3.12:mylab@3.10"])
def test_loads_beside_the_same_python_itself_or_garbage(modsys, env, tree, tmp_path, preset):
    prefix = tree.add("mylab")
    code, err, envs = session(modsys, env, tree, f"""
export PYENVMOD_LOADED={shlex.quote(preset)}
module load pyenv/mylab || exit 11
snap during
""", tmp_path)
    assert code == 0, err
    loaded = envs["during"]["PYENVMOD_LOADED"].split(":")
    assert loaded[0] == "mylab@3.12" and envs["during"]["VIRTUAL_ENV"] == str(prefix)


def test_two_of_the_same_python_stack_and_unload_in_either_order(modsys, env, tree, tmp_path):
    alpha, beta = tree.add("alpha"), tree.add("beta")
    for first, second in (("alpha", "beta"), ("beta", "alpha")):
        code, err, envs = session(modsys, env, tree, f"""
export VIRTUAL_ENV=/earlier/venv
snap before
module load pyenv/alpha pyenv/beta || exit 11
snap both
module unload pyenv/{first} || exit 12
snap one
module unload pyenv/{second} || exit 13
snap none
""", tmp_path)
        assert code == 0, err
        assert envs["both"]["VIRTUAL_ENV"] == str(beta), "the last loaded is VIRTUAL_ENV"
        assert envs["both"]["PYENVMOD_LOADED"] == "beta@3.12:alpha@3.12"
        left = {"alpha": beta, "beta": alpha}[first]
        assert envs["one"]["VIRTUAL_ENV"] == str(left), f"unloading {first} leaves the other active"
        launchers = str(left).replace(f"/envs/{left.name}", f"/images/{left.name}/bin")  # 'pyenvmod stage'
        assert envs["one"]["PATH"].split(":")[:2] == [launchers, f"{left}/bin"]
        assert envs["one"]["PYENVMOD_LOADED"] == f"{left.name}@3.12"
        assert_restored(envs, last="none")  # unloading both restores everything


def test_three_unloaded_from_the_middle(modsys, env, tree, tmp_path):
    a, b, c = tree.add("a"), tree.add("b"), tree.add("c")
    code, err, envs = session(modsys, env, tree, """
snap before
module load pyenv/a pyenv/b pyenv/c || exit 11
module unload pyenv/b || exit 12
snap ac
module unload pyenv/c || exit 13
snap a
module unload pyenv/a || exit 14
snap none
""", tmp_path)
    assert code == 0, err
    assert envs["ac"]["VIRTUAL_ENV"] == str(c) and envs["a"]["VIRTUAL_ENV"] == str(a)
    assert envs["ac"]["PYENVMOD_LOADED"] == "c@3.12:a@3.12"
    assert_restored(envs, last="none")


def test_a_missing_environment_refuses_to_load_but_unloads(modsys, env, tree, tmp_path):
    prefix = tree.add("mylab")
    code, err, envs = session(modsys, env, tree, f"""
snap before
module load pyenv/mylab || exit 11
rm -r {shlex.quote(str(prefix))}
module unload pyenv/mylab || exit 12
snap after
module load pyenv/mylab && exit 13
snap refused
""", tmp_path)
    assert code == 0, err
    assert "The environment of pyenv/mylab" in err and f"is missing: {prefix}" in err
    assert "Recreate it, or remove the module with 'pyenvmod delete mylab'." in err
    assert_restored(envs)
    assert_restored(envs, last="refused")


def test_the_guard_is_not_applied_on_unload(modsys, env, tree, tmp_path):
    tree.add("mylab")
    code, err, envs = session(modsys, env, tree, """
snap before
module load pyenv/mylab || exit 11
export PYENVMOD_LOADED="$PYENVMOD_LOADED:old@3.11"
module unload pyenv/mylab || exit 12
snap after
""", tmp_path)
    assert code == 0, err
    assert envs["after"]["PYENVMOD_LOADED"] == "old@3.11"
    assert "VIRTUAL_ENV" not in envs["after"]


def test_a_variable_the_user_set_after_load_is_replaced_and_restored(modsys, env, tree, tmp_path):
    """The Lua template's fallback to pushenv (a VIRTUAL_ENV not on Lmod's stack) in both systems."""
    prefix = tree.add("mylab")
    envs = round_trip(modsys, env, tree, tmp_path, "mylab", setup="export VIRTUAL_ENV=/mine")
    assert envs["during"]["VIRTUAL_ENV"] == str(prefix)
    assert envs["during"]["PYTHONNOUSERSITE"] == "1"
    assert envs["after"]["VIRTUAL_ENV"] == "/mine" and "PYTHONNOUSERSITE" not in envs["after"]


@pytest.fixture
def site_tree(tmp_path):
    return sitemodules.make(tmp_path / "site-modules")


def test_recorded_modules_load_with_the_environment_and_go_with_it(modsys, env, tree, tmp_path, site_tree):
    tree.add("mylab", modules=["gcc/13.2", "mpich/4.0"], options={"dependencies": "load"})
    envs = round_trip(modsys, env, tree, tmp_path, "mylab", setup=f"module use {site_tree}")
    assert envs["during"]["GCC_HOME"] == "/opt/gcc/13.2" and envs["during"]["MPICH_HOME"] == "/opt/mpich/4.0"
    assert_restored(envs)


def test_the_require_policy_refuses_until_the_modules_are_loaded(modsys, env, tree, tmp_path, site_tree):
    tree.add("mylab", modules=["gcc/13.2", "mpich/4.0"], options={"dependencies": "require"})
    code, err, envs = session(modsys, env, tree, f"""
module use {site_tree}
module load gcc/13.2 || exit 11
module load pyenv/mylab && exit 12
snap refused
module load mpich/4.0 || exit 13
module load pyenv/mylab || exit 14
snap loaded
""", tmp_path)
    assert code == 0, err
    assert "mpich/4.0" in err and "VIRTUAL_ENV" not in envs["refused"]
    assert envs["loaded"]["VIRTUAL_ENV"].endswith("/envs/mylab")


def test_the_none_policy_ignores_the_recorded_modules(modsys, env, tree, tmp_path, site_tree):
    tree.add("mylab", modules=["gcc/13.2"], options={"dependencies": "none"})
    code, err, envs = session(modsys, env, tree, f"""
module use {site_tree}
module load pyenv/mylab || exit 11
snap during
""", tmp_path)
    assert code == 0, err
    assert "GCC_HOME" not in envs["during"] and envs["during"]["VIRTUAL_ENV"].endswith("/envs/mylab")


@pytest.mark.parametrize("own_tree", [False, True])
def test_an_extending_environment_loads_its_base(modsys, env, tree, tmp_path, own_tree):
    base_prefix = tree.add("base")
    child_tree = Tree(tmp_path / "other") if own_tree else tree
    extends = {"name": "base", "prefix": str(base_prefix), "module": "pyenv/base/py3.12",
               "modules_dir": str(tree.modules), "python": "3.12.1"}
    child = child_tree.add("child", extends=extends)
    envs = round_trip(modsys, env, child_tree, tmp_path, "child")
    assert envs["during"]["PYENVMOD_LOADED"] == "child@3.12:base@3.12"
    assert envs["during"]["VIRTUAL_ENV"] == str(child)
    assert (str(tree.modules) in envs["during"]["MODULEPATH"].split(":")) is True
    before, after = user_env(envs["before"], envs["after"])
    if not own_tree:
        assert after == before
    else:  # the base's tree stays on MODULEPATH only as long as the child is loaded
        assert after.get("PYENVMOD_LOADED") is None and after.get("VIRTUAL_ENV") is None


def test_a_conda_environment_sets_its_variables_and_runs_its_activate_scripts(modsys, env, tree, tmp_path):
    """Without conda init: CONDA_PREFIX, CONDA_DEFAULT_ENV and etc/conda/activate.d/*.sh
    (recorded by source_sh / source-sh, so unload reverses them exactly)."""
    prefix = tree.base / "envs" / "cenv"
    scripts = prefix / "etc" / "conda" / "activate.d"
    scripts.mkdir(parents=True)
    (scripts / "mypkg.sh").write_text('export MYPKG_HOME="$CONDA_PREFIX/share/mypkg"\n')
    tree.add("cenv", backend="conda")
    envs = round_trip(modsys, env, tree, tmp_path, "cenv")
    during = envs["during"]
    assert during["CONDA_PREFIX"] == str(prefix) and during["CONDA_DEFAULT_ENV"] == "cenv"
    assert during["MYPKG_HOME"] == f"{prefix}/share/mypkg"
    assert_restored(envs)


def test_site_variables_are_set_with_the_environment_and_restored(modsys, env, tree, tmp_path):
    tree.add("mylab", options={"environment": {"OMP_NUM_THREADS": "4", "SITE_NOTE": "a b'c"}})
    envs = round_trip(modsys, env, tree, tmp_path, "mylab", setup="export OMP_NUM_THREADS=1")
    assert envs["during"]["OMP_NUM_THREADS"] == "4" and envs["during"]["SITE_NOTE"] == "a b'c"
    assert_restored(envs)
