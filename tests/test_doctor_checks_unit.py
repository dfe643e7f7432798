"""Issue 23, the doctor's checks in-process (mutmut credits only calls made in the test process): each
check of operations/doctor/ on a private tree under tmp_path (guardenv.World: real small venvs, real
module folders, real start-up files and caches in a private home). For every finding: its condition
present and absent, its message naming the problem and its fix, and for --fix what the repair changes
and what it leaves alone."""

import os
import stat
import sys
from pathlib import Path

import pytest

from guardenv import MM, PYTHON, World
from pyenvmod.modules import modulefiles
from pyenvmod.operations import doctor, listing
from pyenvmod.operations.common import write_modulefiles
from pyenvmod.operations.doctor import (caches, common, conda_active, conda_init, env_locations, environments,
                                        finding, loaded_deleted, modulepath, permissions, python_vars,
                                        recorded_modules, stale_modulefiles, tombstones, user_site)
from pyenvmod.trust import caches as caches_mod


class QuickWorld(World):
    """World whose environments are copies of one venv made once (links kept): a venv per environment
    took most of this file's time, and no check here runs an environment's interpreter."""

    template: Path

    def make(self, name, extends=None, **changes):
        import shutil

        from pyenvmod.modules import stacking
        from pyenvmod.records import registry

        prefix = self.layout.prefix(name)
        shutil.copytree(self.template, prefix, symlinks=True)
        if extends is not None:
            changes["extends"] = {"name": extends.name, "prefix": extends.prefix,
                                  "modules_dir": str(self.layout.modules_dir), "module": extends.module,
                                  "python": extends.python}
            stacking.install_hook(str(prefix), PYTHON, str(stacking.site_packages(extends.prefix, PYTHON)))
        registry.write(self.tree, self.record(name, **changes))
        return registry.record(self.tree, name)


@pytest.fixture(scope="module")
def venv_template(tmp_path_factory) -> Path:
    import subprocess

    template = tmp_path_factory.mktemp("template") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(template)], check=True)
    return template


@pytest.fixture
def world(tmp_path, monkeypatch, venv_template) -> World:
    monkeypatch.delenv("PYTHONNOUSERSITE", raising=False)
    made = QuickWorld(tmp_path, monkeypatch)
    made.template = venv_template
    return made


def ctx(world, environ=None, name=None, home=None):
    return doctor.Context(world.config, world.layout, Path(home or os.environ["HOME"]), dict(environ or {}), name,
                          listing.entries(world.config))


def messages(found):
    return [(f.check, f.severity, f.message, f.fix) for f in found]


def with_modulefiles(world, name, **changes):
    record = world.make(name, **changes)
    write_modulefiles(world.layout, record, modulefiles.options_from(world.config))
    return record


# --- finding.py and common.py ---------------------------------------------------------------------

def test_a_finding_says_whether_it_can_be_fixed():
    plain = finding.Finding("c", "warning", "m", "f")
    assert plain.as_dict() == {"check": "c", "severity": "warning", "message": "m", "fix": "f", "fixable": False}
    assert plain.repair is None and plain.repair_says == ""
    fixable = finding.Finding("c", "error", "m", "f", repair=lambda: "done", repair_says="do it")
    assert fixable.as_dict()["fixable"] is True
    assert "lambda" not in repr(fixable) and "repair=" not in repr(fixable), "the callable is left out of its repr"


@pytest.mark.parametrize("n,said", [
    (0, "0 B"), (1023, "1023 B"), (1024, "1.0 KB"), (1536, "1.5 KB"), (1024 * 1024 - 1, "1024.0 KB"),
    (1024 ** 2, "1.0 MB"), (5 * 1024 ** 3, "5.0 GB"), (1024 ** 4, "1.0 TB"), (3 * 1024 ** 5, "3072.0 TB")])
def test_sizes_are_said_in_the_largest_unit_below_1024(n, said):
    assert common.human(n) == said


def test_size_counts_the_bytes_of_the_files_below(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "x").write_bytes(b"1" * 100)
    (tmp_path / "a" / "b" / "y").write_bytes(b"1" * 28)
    assert common.size(tmp_path / "a") == 128


def test_under_home_follows_links_and_is_not_fooled_by_a_common_prefix(tmp_path):
    home = tmp_path / "ab"
    (home / "sub").mkdir(parents=True)
    (tmp_path / "abc").mkdir()
    (tmp_path / "link").symlink_to(home / "sub")
    c = doctor.Context(None, None, home, {}, None)
    assert common.under_home(c, home) and common.under_home(c, home / "sub")
    assert common.under_home(c, tmp_path / "link"), "a link into home is in home"
    assert not common.under_home(c, tmp_path / "abc"), "a sibling whose name starts like home's is not"
    assert not common.under_home(c, tmp_path)
    (tmp_path / "homelink").symlink_to(home)
    assert common.under_home(doctor.Context(None, None, tmp_path / "homelink", {}, None), home / "sub")


# --- user_site.py ---------------------------------------------------------------------------------

def test_packages_in_the_user_site_are_reported_unless_pythonnousersite(world, tmp_path):
    home = Path(os.environ["HOME"])
    site = home / ".local" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    assert user_site.check(ctx(world)) == [], "an empty user site shadows nothing"
    (site / "README.txt").write_text("")
    assert user_site.check(ctx(world)) == []
    (site / "six-1.16.0.dist-info").mkdir()
    (found,) = user_site.check(ctx(world))
    assert messages([found]) == [("user-site", "warning",
                                  f"packages in {site} shadow those of any environment while PYTHONNOUSERSITE is unset",
                                  "move them into an environment (pip uninstall --user ...), or export "
                                  "PYTHONNOUSERSITE=1")]
    assert found.repair is None
    assert user_site.check(ctx(world, {"PYTHONNOUSERSITE": "1"})) == []
    assert len(user_site.check(ctx(world, {"PYTHONNOUSERSITE": ""}))) == 1, "an empty value does not disable it"
    other = home / ".local" / "lib" / "python3.12" / "site-packages"
    other.mkdir(parents=True)
    (other / "old.egg-info").mkdir()
    assert sorted(f.message.split()[2] for f in user_site.check(ctx(world))) == [str(site), str(other)]


# --- conda_active.py, python_vars.py -------------------------------------------------------------

@pytest.mark.parametrize("level,active", [("0", False), ("1", True), ("12", True), ("x", False), ("-1", False),
                                          ("", False), (None, False)])
def test_an_active_conda_environment_is_seen_from_conda_shlvl(world, level, active):
    environ = {"CONDA_PREFIX": "/opt/conda/envs/x"}
    if level is not None:
        environ["CONDA_SHLVL"] = level
    found = conda_active.check(ctx(world, environ))
    if not active:
        assert found == []
        return
    assert messages(found) == [("conda-active", "warning",
                                f"a conda environment is active (CONDA_SHLVL={level}, /opt/conda/envs/x)",
                                "run 'conda deactivate' before 'module load pyenv/...'")]


def test_an_active_conda_without_its_prefix_says_a_question_mark(world):
    (found,) = conda_active.check(ctx(world, {"CONDA_SHLVL": "1"}))
    assert found.message == "a conda environment is active (CONDA_SHLVL=1, ?)"


def test_pythonpath_and_pythonhome_are_each_reported_when_set(world):
    assert python_vars.check(ctx(world, {"PYTHONPATH": "", "PYTHONHOME": ""})) == []
    found = python_vars.check(ctx(world, {"PYTHONHOME": "/opt/py", "PYTHONPATH": "/x:/y"}))
    assert messages(found) == [
        ("python-vars", "warning", "PYTHONPATH is set (/x:/y): it overrides what any environment provides",
         "unset PYTHONPATH (look for it in your start-up files)"),
        ("python-vars", "warning", "PYTHONHOME is set (/opt/py): it overrides what any environment provides",
         "unset PYTHONHOME (look for it in your start-up files)")]
    assert [f.message.split()[0] for f in python_vars.check(ctx(world, {"PYTHONHOME": "/h"}))] == ["PYTHONHOME"]


# --- conda_init.py --------------------------------------------------------------------------------

BLOCK = "# >>> conda initialize >>>\n__conda_setup=...\n# <<< conda initialize <<<\n"


def test_a_conda_init_block_is_reported_with_its_file_and_line(world):
    home = Path(os.environ["HOME"])
    assert conda_init.check(ctx(world)) == [], "no start-up files"
    (home / ".bashrc").write_text("export A=1\n# conda init\n")
    assert conda_init.check(ctx(world)) == []
    (home / ".bashrc").write_text("export A=1\nalias x=y\n\n" + BLOCK)
    (found,) = conda_init.check(ctx(world))
    assert messages([found]) == [("conda-init", "warning",
                                  f"{home / '.bashrc'}:4 has a 'conda init' block: it activates conda's base in "
                                  "every shell and batch job, ahead of your modules",
                                  "run 'conda init --reverse', or delete the block between the '>>> conda "
                                  "initialize >>>' lines (pyenvmod never edits start-up files)")]
    assert found.repair is None
    assert (home / ".bashrc").read_text().endswith(BLOCK), "the doctor never edits a start-up file"


def test_every_start_up_file_is_read_in_order_and_an_unreadable_one_is_skipped(world):
    home = Path(os.environ["HOME"])
    for name in conda_init.START_UP_FILES:
        (home / name).write_bytes(b"\xff\xfe latin\n" + BLOCK.encode())
    found = conda_init.check(ctx(world))
    assert [f.message.split(" ")[0] for f in found] == [f"{home / n}:2" for n in conda_init.START_UP_FILES]
    (home / ".bashrc").unlink()
    (home / ".bashrc").mkdir()  # reading it fails: the others are still read
    found = conda_init.check(ctx(world))
    assert [f.message.split(":")[0] for f in found] == [str(home / n) for n in conda_init.START_UP_FILES[1:]]


# --- modulepath.py --------------------------------------------------------------------------------

def test_the_tree_missing_from_modulepath_is_reported(world, tmp_path):
    tree = world.layout.modules_dir
    want = [("modulepath", "warning", f"the module tree {tree} is not on MODULEPATH: 'module load pyenv/...' will "
             "not find your environments", "module use $(pyenvmod modulepath)   (add it to your shell start-up file)")]
    assert messages(modulepath.check(ctx(world, {}))) == want
    assert messages(modulepath.check(ctx(world, {"MODULEPATH": f"/a:{tree}x"}))) == want
    assert modulepath.check(ctx(world, {"MODULEPATH": f"/a::{tree}"})) == []
    (tmp_path / "via").symlink_to(tree)
    assert modulepath.check(ctx(world, {"MODULEPATH": f"{tmp_path / 'via'}:/b"})) == [], "the same folder by a link"
    assert modulepath.check(ctx(world, {"MODULEPATH": f"{tree}/"})) == []


def test_no_module_tree_yet_is_not_reported(tmp_path, monkeypatch):
    w = World(tmp_path, monkeypatch)
    import shutil

    shutil.rmtree(w.layout.modules_dir)
    assert modulepath.check(ctx(w, {})) == []


# --- permissions.py -------------------------------------------------------------------------------

def test_world_writable_things_of_the_tree_are_reported_and_fixed_one_by_one(world, tmp_path):
    record = with_modulefiles(world, "a")
    assert permissions.check(ctx(world)) == []
    target = Path(record.prefix) / "bin" / "activate"
    target.chmod(0o666)
    folder = world.layout.module_dir("a")
    folder.chmod(0o777)
    outside = tmp_path / "outside"
    outside.write_text("")
    outside.chmod(0o666)
    found = permissions.check(ctx(world))
    assert sorted(f.message for f in found) == sorted(
        f"{p} is world-writable: anyone could change what your modules load" for p in (target, folder))
    assert {f.fix for f in found} == {"chmod o-w it; --fix does"} and {f.check for f in found} == {"permissions"}
    assert {f.severity for f in found} == {"error"}
    for f in found:
        assert f.repair_says == f"chmod o-w {f.message.split()[0]}"
        assert f.repair() == f.repair_says
    assert stat.S_IMODE(target.stat().st_mode) == 0o664 and stat.S_IMODE(folder.stat().st_mode) == 0o775
    assert stat.S_IMODE(outside.stat().st_mode) == 0o666, "nothing outside the tree is touched"
    assert permissions.check(ctx(world)) == []


def test_permissions_of_a_tree_not_made_yet_say_nothing(tmp_path, monkeypatch):
    w = World(tmp_path, monkeypatch)
    import shutil

    shutil.rmtree(w.layout.base)
    assert permissions.check(ctx(w)) == []


# --- caches.py ------------------------------------------------------------------------------------

TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# uv\n"


def pip_shaped(folder: Path) -> Path:
    (folder / "http-v2" / "a" / "b").mkdir(parents=True)
    (folder / "http-v2" / "a" / "b" / "0123.body").write_bytes(b"x" * 2048)
    (folder / "wheels" / "ab").mkdir(parents=True)
    return folder


def uv_shaped(folder: Path) -> Path:
    (folder / "wheels-v5" / "pypi").mkdir(parents=True)
    (folder / "CACHEDIR.TAG").write_text(TAG)
    (folder / "wheels-v5" / "pypi" / "w").write_bytes(b"y" * 100)
    return folder


def cache_message(what, path, size, chosen=False):
    import re

    return re.escape(f"{what} in your home directory{'' if chosen else ' (its default place)'}: {path} holds {size} "
                     ) + r"\(\d+\.\d [KMGT]B free on that filesystem\)"


FIX = ("point it at project or scratch storage (the site's pip.conf, PIP_CACHE_DIR, UV_CACHE_DIR, or 'cache_dir' "
       "in pyenvmod's configuration)")


def test_no_cache_in_home_says_nothing(world, tmp_path):
    assert caches.check(ctx(world)) == []
    uv_shaped(tmp_path / "scratch" / "uv")
    assert caches.check(ctx(world, {"UV_CACHE_DIR": str(tmp_path / "scratch" / "uv")})) == [], "not in home"
    (Path(os.environ["HOME"]) / ".cache").mkdir()
    (Path(os.environ["HOME"]) / ".cache" / "pip").write_text("a file, not a cache")
    assert caches.check(ctx(world)) == []


def test_a_default_pip_cache_in_home_is_a_note_that_fix_empties(world, tmp_path):
    import re

    home = Path(os.environ["HOME"])
    cache = pip_shaped(home / ".cache" / "pip")
    (home / "thesis.tex").write_text("keep\n")
    (found,) = caches.check(ctx(world))
    assert (found.check, found.severity, found.fix) == ("caches", "info", FIX + "; --fix empties it")
    assert re.fullmatch(cache_message("pip cache", cache, "2.0 KB"), found.message), found.message
    assert found.repair_says == f"empty the pip cache {cache}"
    assert found.repair() == f"emptied {cache}"
    assert list(cache.iterdir()) == [] and (home / "thesis.tex").read_text() == "keep\n"


def test_a_cache_the_user_pointed_into_home_is_a_warning(world):
    import re

    home = Path(os.environ["HOME"])
    cache = uv_shaped(home / "mycache")
    (found,) = caches.check(ctx(world, {"UV_CACHE_DIR": str(cache), "PIP_CACHE_DIR": ""}))
    assert found.severity == "warning" and found.repair_says == f"empty the uv cache {cache}"
    assert re.fullmatch(cache_message("uv cache", cache, f"{100 + len(TAG)} B", chosen=True), found.message), found.message
    assert found.repair() == f"emptied {cache}"
    assert sorted(p.name for p in cache.iterdir()) == ["CACHEDIR.TAG"]


def test_a_site_that_chose_where_caches_go_makes_the_default_a_warning(world):
    from pyenvmod.config import site_file

    cache = pip_shaped(Path(os.environ["HOME"]) / ".cache" / "pip")
    world.config.set("cache_dir", "/proj/caches", "the user's file")
    assert caches.check(ctx(world))[0].severity == "info", "only the site's choice counts"
    world.config.set("cache_dir", "/proj/caches", f"{site_file()} line 3")
    (found,) = caches.check(ctx(world))
    assert found.severity == "warning" and str(cache) in found.message
    assert found.fix == "the site keeps caches in /proj/caches; " + FIX + "; --fix empties it"


def test_a_folder_that_is_not_provably_the_cache_is_reported_and_never_fixable(world):
    home = Path(os.environ["HOME"])
    mine = home / "dist"
    (mine / "wheels").mkdir(parents=True)
    (mine / "wheels" / "mypkg-1.0-py3-none-any.whl").write_text("mine\n")
    (found,) = caches.check(ctx(world, {"PIP_CACHE_DIR": str(mine)}))
    why = caches_mod.refusal(mine, "pip", home=home)
    assert found.repair is None and found.severity == "warning"
    assert found.message.endswith(f"; PIP_CACHE_DIR={mine} is not a pip cache that --fix may empty: {why}")
    assert found.message.startswith(f"pip cache in your home directory: {mine} holds")
    assert found.fix == FIX + "; give PIP_CACHE_DIR a folder of its own"
    # at its default place, the folder is named, and 'it' is given a folder of its own
    conda = home / ".conda" / "pkgs"
    conda.mkdir(parents=True)
    (conda / "notes.txt").write_text("mine\n")
    (found,) = [f for f in caches.check(ctx(world)) if "conda" in f.message]
    assert f"; {conda} is not a conda packages that --fix may empty: " in found.message and "urls.txt" in found.message
    assert found.fix == FIX + "; give it a folder of its own" and found.severity == "info"
    assert (mine / "wheels" / "mypkg-1.0-py3-none-any.whl").exists() and (conda / "notes.txt").exists()


def test_home_and_pyenvmods_root_are_never_a_cache(world):
    from pyenvmod.records.layout import Layout

    home = Path(os.environ["HOME"])
    uv_shaped(home)
    (found,) = caches.check(ctx(world, {"UV_CACHE_DIR": str(home)}))
    assert found.repair is None and "it is your home folder" in found.message
    root = uv_shaped(home / "pyenv-root")
    c = doctor.Context(world.config, Layout(root, "x"), home, {"UV_CACHE_DIR": str(root)}, None, [])
    (found,) = caches.check(c)
    assert found.repair is None and "it is pyenvmod's root" in found.message


# --- env_locations.py -----------------------------------------------------------------------------

def test_a_root_in_home_is_a_note_when_it_is_the_default_and_a_warning_otherwise(world):
    from pyenvmod.config import default_root
    from pyenvmod.records.layout import Layout

    home = Path(os.environ["HOME"])
    assert env_locations.check(ctx(world)) == [], "the world's root is outside home"
    fix = "set 'root' in ~/.config/pyenvmod/config.yaml or PYENVMOD_ROOT to project storage"

    def found(root):
        return messages(env_locations.check(doctor.Context(world.config, Layout(root, "x"), home, {}, None, [])))

    assert found(default_root()) == [("locations", "info", "pyenvmod keeps environments in your home directory "
                                      f"(the default) ({default_root()}, 0 B)", fix)]
    mine = home / "envs"
    (mine / "x").mkdir(parents=True)
    (mine / "x" / "f").write_bytes(b"z" * 3000)
    assert found(mine) == [("locations", "warning", "pyenvmod keeps environments in your home directory "
                            f"({mine}, 2.9 KB)", fix)]


def test_conda_environments_in_home_are_reported(world):
    home = Path(os.environ["HOME"])
    envs = home / ".conda" / "envs"
    envs.mkdir(parents=True)
    assert env_locations.check(ctx(world)) == [], "an empty folder holds no environment"
    (envs / "old").mkdir()
    (envs / "old" / "python").write_bytes(b"p" * 10)
    assert messages(env_locations.check(ctx(world))) == [
        ("locations", "warning", f"conda environments in your home directory: {envs} (10 B)",
         "recreate them with pyenvmod under project storage (conda env export, then pyenvmod create NAME --file)")]


# --- environments.py ------------------------------------------------------------------------------

def test_a_healthy_environment_has_no_finding(world):
    with_modulefiles(world, "a")
    assert environments.check(ctx(world)) == []


def test_the_leftover_of_an_interrupted_create_is_removed_by_fix_and_nothing_else(world):
    keep = with_modulefiles(world, "keep")
    left = world.layout.prefix("left")
    (left / "bin").mkdir(parents=True)
    (found,) = environments.check(ctx(world))
    problem = listing.entries(world.config)[1].problems[0]
    assert messages([found]) == [("environments", "error", f"left: {problem}",
                                  "pyenvmod delete left; --fix removes it")]
    assert "leftover" in problem and found.repair_says == "remove the leftover of 'left'"
    assert found.repair() == "removed the leftover of 'left'"
    assert not left.exists() and os.path.isfile(Path(keep.prefix) / "bin" / "python")
    assert environments.check(ctx(world)) == []


def test_a_broken_record_is_reported_and_not_fixed(world):
    with_modulefiles(world, "a")
    world.layout.meta_file("a").write_text("{not json")
    found = environments.check(ctx(world))
    assert [(f.check, f.severity, f.fix, f.repair) for f in found] == [
        ("environments", "error", "repair the file by hand, or delete it and run pyenvmod doctor --fix", None)]
    assert found[0].message.startswith("a: ") and str(world.layout.meta_file("a")) in found[0].message
    assert world.layout.meta_file("a").read_text() == "{not json"


def test_a_name_pyenvmod_would_not_make_is_reported_with_how_to_remove_it_and_never_touched(world):
    (world.layout.envs_dir / "bad name").mkdir()
    found = environments.check(ctx(world))
    assert [(f.check, f.severity, f.fix, f.repair) for f in found] == [
        ("environments", "error", "remove it by hand (the message names what to remove)", None)]
    assert found[0].message.startswith("bad name: not a valid environment name")
    assert (world.layout.envs_dir / "bad name").is_dir()


def test_missing_modulefiles_are_written_again_by_fix(world):
    record = world.make("a")  # no modulefiles
    with_modulefiles(world, "b")
    (found,) = environments.check(ctx(world))
    assert (found.check, found.severity, found.fix) == ("modulefiles", "error", "pyenvmod module a; --fix does it")
    assert found.message == "a: lua modulefile missing; tcl modulefile missing"
    assert found.repair_says == "write the modulefiles of 'a' again"
    assert found.repair() == "wrote the modulefiles of 'a'"
    assert modulefiles.problems(world.layout, record, modulefiles.options_from(world.config)) == []
    assert environments.check(ctx(world)) == []


def test_an_environment_whose_folder_is_gone_loses_its_modulefiles_by_fix(world):
    import shutil

    record = with_modulefiles(world, "gone")
    with_modulefiles(world, "b")
    shutil.rmtree(record.prefix)
    (found,) = environments.check(ctx(world))
    assert messages([found]) == [("environments", "error", f"gone: environment folder {record.prefix} is missing",
                                  "recreate it from an export (pyenvmod create gone --file ...), or pyenvmod delete "
                                  "gone; --fix removes its modulefiles so no module points at nothing")]
    assert found.repair_says == "remove the modulefiles of 'gone'"
    assert found.repair() == "removed the modulefiles of 'gone'"
    assert not world.layout.module_dir("gone").exists() and world.layout.module_dir("b").is_dir()
    assert world.layout.meta_file("gone").exists(), "the record stays: delete removes it"


def test_a_missing_interpreter_is_an_error_even_with_its_modulefiles_missing(world):
    record = world.make("a")
    os.unlink(Path(record.prefix) / "bin" / "python")
    (found,) = environments.check(ctx(world))
    assert found.check == "environments" and found.severity == "error"
    assert found.message == f"a: interpreter missing (was {record.base_python} removed?)"
    assert found.repair_says == "remove the modulefiles of 'a'"


def test_a_gone_base_is_a_warning_that_names_it(world):
    import shutil

    base = with_modulefiles(world, "base")
    layered = world.make("top", extends=base)
    write_modulefiles(world.layout, layered, modulefiles.options_from(world.config))
    shutil.rmtree(base.prefix)
    found = {f.message: f for f in environments.check(ctx(world))}
    (warning,) = [f for f in found.values() if f.message.startswith("top: ")]
    assert (warning.severity, warning.fix, warning.repair) == ("warning", "see the message", None)
    assert warning.message == f"top: its base environment 'base' at {base.prefix} is gone"
    assert [f.severity for f in found.values() if f.message.startswith("base: ")] == ["error"]


def test_a_named_environment_is_checked_alone(world):
    world.make("a")
    world.make("b")
    assert [f.message[:2] for f in environments.check(ctx(world))] == ["a:", "b:"]
    assert [f.message[:2] for f in environments.check(ctx(world, name="b"))] == ["b:"]


# --- stale_modulefiles.py, tombstones.py ----------------------------------------------------------

def test_modulefiles_without_an_environment_are_removed_by_fix_and_nothing_else(world):
    import shutil

    with_modulefiles(world, "keep")
    ghost = with_modulefiles(world, "ghost")
    shutil.rmtree(ghost.prefix)
    assert stale_modulefiles.check(ctx(world)) == [], "its record is still there"
    record_only = with_modulefiles(world, "meta")
    world.layout.meta_file("ghost").unlink()
    shutil.rmtree(record_only.prefix)
    folder_only = with_modulefiles(world, "folder")
    world.layout.meta_file("folder").unlink()
    folder = world.layout.module_dir("ghost")
    (found,) = stale_modulefiles.check(ctx(world))
    assert messages([found]) == [("modulefiles", "error",
                                  f"modulefiles {folder} point at an environment that does not exist",
                                  "--fix removes them")]
    assert found.repair_says == f"remove {folder}" and found.repair() == f"removed {folder}"
    assert not folder.exists()
    assert all(world.layout.module_dir(n).is_dir() for n in ("keep", "meta", "folder"))
    assert os.path.isdir(folder_only.prefix)


def test_stale_modulefiles_of_one_name_and_tombstones_are_left_to_their_checks(world):
    import shutil

    for name in ("g1", "g2"):
        shutil.rmtree(with_modulefiles(world, name).prefix)
        world.layout.meta_file(name).unlink()
    assert [f.message.split()[1] for f in stale_modulefiles.check(ctx(world))] == [
        str(world.layout.module_dir("g1")), str(world.layout.module_dir("g2"))]
    assert [f.message.split()[1] for f in stale_modulefiles.check(ctx(world, name="g2"))] == [
        str(world.layout.module_dir("g2"))]
    (world.layout.module_dir("g1") / ".modulerc").write_text("hide\n")
    assert [f.message.split()[1] for f in stale_modulefiles.check(ctx(world))] == [str(world.layout.module_dir("g2"))]


def test_no_module_family_folder_has_no_stale_modulefiles_nor_tombstones(world):
    assert not (world.layout.modules_dir / "pyenv").exists() or not any((world.layout.modules_dir / "pyenv").iterdir())
    import shutil

    shutil.rmtree(world.layout.modules_dir / "pyenv", ignore_errors=True)
    assert stale_modulefiles.check(ctx(world)) == [] and tombstones.check(ctx(world)) == []


def _deleted(world, name):
    from pyenvmod.operations.delete import delete

    with_modulefiles(world, name)
    assert delete(world.config, name)


def _long_ago(world, *names):
    for name in names:  # no shell of this user started before: none can have it loaded
        os.utime(world.layout.module_dir(name) / ".modulerc", (1, 1))


def test_tombstones_are_listed_and_swept_by_fix(world):
    with_modulefiles(world, "live")
    assert tombstones.check(ctx(world)) == []
    _deleted(world, "b")
    _deleted(world, "a")
    (found,) = tombstones.check(ctx(world))
    assert messages([found]) == [("tombstones", "info", "deleted, kept as hidden tombstones while a shell may still "
                                  "have them loaded: pyenv/a, pyenv/b",
                                  "--fix removes those nothing can have loaded any more")]
    assert found.repair_says == "remove the tombstones nothing can have loaded any more"
    _long_ago(world, "a", "b")
    assert tombstones.check(ctx(world, name="b"))[0].message.endswith(": pyenv/b")
    assert tombstones.check(ctx(world, name="live")) == []
    assert found.repair() == "removed tombstones: a, b"
    assert not world.layout.module_dir("a").exists() and world.layout.module_dir("live").is_dir()
    assert tombstones.check(ctx(world)) == []


def test_in_a_groups_tree_no_tombstone_is_swept(world):
    _deleted(world, "a")
    _long_ago(world, "a")
    world.config.group = "somegroup"
    (found,) = tombstones.check(ctx(world))
    assert found.repair() == "removed tombstones: none"
    assert world.layout.module_dir("a").is_dir()


# --- loaded_deleted.py ----------------------------------------------------------------------------

def lua(world, name):
    return world.layout.module_dir(name) / f"py{MM}.lua"


def test_loaded_modules_of_a_healthy_tree_say_nothing(world, tmp_path):
    with_modulefiles(world, "a")
    environ = {"_LMFILES_": f"/other/tree/pyenv/x/py3.12.lua:{lua(world, 'a')}:"}
    assert loaded_deleted.check(ctx(world, environ)) == []
    assert loaded_deleted.check(ctx(world, {})) == []


def test_a_loaded_module_whose_modulefile_is_gone_gets_its_tombstone_back(world):
    from pyenvmod.modules import tombstones as tomb

    _deleted(world, "a")
    with_modulefiles(world, "b")
    path = lua(world, "a")
    import shutil

    shutil.rmtree(world.layout.module_dir("a"))
    module = f"pyenv/a/py{MM}"
    (found,) = loaded_deleted.check(ctx(world, {"_LMFILES_": f"{lua(world, 'b')}:{path}"}))
    assert messages([found]) == [("loaded", "error", f"{module} is loaded in this shell but its modulefile {path} is "
                                  "gone: 'module unload' cannot restore your environment",
                                  f"--fix writes a tombstone modulefile back, then: module unload {module}")]
    assert found.repair_says == f"write a tombstone modulefile for {module}"
    assert found.repair() == f"wrote the tombstone of {module}"
    assert path.is_file() and tomb.is_tombstone(world.layout, "a")
    assert os.path.isdir(world.layout.prefix("b")) and lua(world, "b").is_file()
    (found,) = loaded_deleted.check(ctx(world, {"_LMFILES_": str(path)}))
    assert found.message.endswith("its environment " + str(world.layout.prefix("a")) + " is gone"), "unload it now"


def test_a_loaded_module_of_a_name_created_again_asks_for_a_new_shell(world):
    record = with_modulefiles(world, "a")
    old = world.layout.module_dir("a") / "py2.7.lua"
    found = loaded_deleted.check(ctx(world, {"_LMFILES_": str(old)}))
    assert messages(found) == [("loaded", "error", f"pyenv/a/py2.7 is loaded in this shell but its modulefile {old} "
                                "is gone and 'a' was created again since", "start a new shell")]
    assert found[0].repair is None and os.path.isdir(record.prefix)
    tcl = world.layout.module_dir("a") / "py2.7"
    assert loaded_deleted.check(ctx(world, {"_LMFILES_": str(tcl)}))[0].message.startswith("pyenv/a/py2.7 is loaded")
    assert loaded_deleted.check(ctx(world, {"_LMFILES_": str(old)}, name="b")) == []


def test_a_loaded_module_whose_environment_is_gone_says_unload_it(world):
    import shutil

    a = with_modulefiles(world, "a")
    b = with_modulefiles(world, "b")
    shutil.rmtree(a.prefix)
    world.layout.meta_file("b").unlink()
    environ = {"_LMFILES_": f"{lua(world, 'a')}:{lua(world, 'b')}"}
    assert messages(loaded_deleted.check(ctx(world, environ))) == [
        ("loaded", "error", f"pyenv/a/py{MM} is loaded in this shell but its environment {a.prefix} is gone",
         f"module unload pyenv/a/py{MM}"),
        ("loaded", "error", f"pyenv/b/py{MM} is loaded in this shell but its environment {b.prefix} is gone",
         f"module unload pyenv/b/py{MM}")]
    assert [f.message[:7] for f in loaded_deleted.check(ctx(world, environ, name="b"))] == ["pyenv/b"]


# --- recorded_modules.py --------------------------------------------------------------------------

def test_a_recorded_module_that_no_longer_exists_is_reported(world, tmp_path):
    tree, other = tmp_path / "mods", tmp_path / "other"
    (tree / "gcc").mkdir(parents=True)
    (tree / "gcc" / "12.lua").write_text("")
    (other / "mpich").mkdir(parents=True)
    (other / "mpich" / "4.0").write_text("")
    world.make("none")
    world.make("a", modules=["gcc/12", "mpich/4.0"], module_paths=[str(tree), str(other)])
    assert recorded_modules.check(ctx(world)) == []
    (other / "mpich" / "4.0").unlink()
    fix = "recreate the environment with today's modules (pyenvmod export a, edit the modules, pyenvmod create --file)"
    assert messages(recorded_modules.check(ctx(world))) == [
        ("modules", "error", f"a: its recorded module mpich/4.0 no longer exists (looked in {tree}, {other})", fix)]
    (tree / "gcc" / "12.lua").unlink()
    assert [f.message.split()[4] for f in recorded_modules.check(ctx(world))] == ["gcc/12", "mpich/4.0"]
    assert recorded_modules.check(ctx(world, name="none")) == []


def test_without_recorded_paths_the_modulepath_is_searched(world, tmp_path):
    (tmp_path / "mods" / "gcc").mkdir(parents=True)
    (tmp_path / "mods" / "gcc" / "12").write_text("")
    world.make("a", modules=["gcc/12"])
    assert recorded_modules.check(ctx(world, {"MODULEPATH": f"/nowhere::{tmp_path / 'mods'}"})) == []
    (found,) = recorded_modules.check(ctx(world, {"MODULEPATH": "/nowhere:"}))
    assert found.message == "a: its recorded module gcc/12 no longer exists (looked in /nowhere)"
    (found,) = recorded_modules.check(ctx(world, {}))
    assert found.message == "a: its recorded module gcc/12 no longer exists (looked in MODULEPATH)"


# --- loaded_builds.py -----------------------------------------------------------------------------

def test_a_loaded_environment_built_with_other_modules_says_how_to_go_back(world, tmp_path):
    from pyenvmod.operations.doctor import loaded_builds

    world.make("x", modules=["gcc/12", "openmpi/4", "cuda/11"],
               module_files=["/h/Core/gcc/12.lua", "/h/gcc/12/openmpi/4.lua", "/h/Core/cuda/11.lua"])
    world.make("idle", modules=["gcc/12"], module_files=["/h/Core/gcc/12.lua"])
    mine = lua(world, "x")
    as_built = {"LOADEDMODULES": f"gcc/12:openmpi/4:cuda/11:pyenv/x/py{MM}",
                "_LMFILES_": f"/h/Core/gcc/12.lua:/h/gcc/12/openmpi/4.lua:/h/Core/cuda/11.lua:{mine}"}
    assert loaded_builds.check(ctx(world, as_built)) == []
    swapped = {"LOADEDMODULES": f"gcc/13:openmpi/4:pyenv/x/py{MM}",
               "_LMFILES_": f"/h/Core/gcc/13.lua:/h/gcc/13/openmpi/4.lua:{mine}"}
    (found,) = loaded_builds.check(ctx(world, swapped))
    assert messages([found]) == [(
        "built-with", "error",
        f"pyenv/x/py{MM} is loaded but was built with other modules than the loaded ones: gcc/12 (/h/Core/gcc/12.lua), "
        "now gcc/13 (/h/Core/gcc/13.lua); openmpi/4 (/h/gcc/12/openmpi/4.lua), now openmpi/4 "
        "(/h/gcc/13/openmpi/4.lua); cuda/11 (/h/Core/cuda/11.lua), now not loaded; its compiled packages would run "
        "with another compiler or MPI",
        f"module swap gcc/13 gcc/12, or module unload pyenv/x/py{MM}; or create it again with today's modules "
        "(pyenvmod export x, edit the modules, pyenvmod create --file)")]
    assert found.repair is None
    assert loaded_builds.check(ctx(world, swapped, name="idle")) == [], "idle is not loaded"
    assert len(loaded_builds.check(ctx(world, swapped, name="x"))) == 1


def test_a_module_only_missing_says_load_it_and_the_first_swap_wins(world):
    from pyenvmod.operations.doctor import loaded_builds

    world.make("x", modules=["cuda/11", "gcc/12", "mpich/4"],
               module_files=["/h/cuda/11.lua", "/h/gcc/12.lua", "/h/mpich/4.lua"])
    mine = lua(world, "x")
    (found,) = loaded_builds.check(ctx(world, {"LOADEDMODULES": f"pyenv/x/py{MM}", "_LMFILES_": str(mine)}))
    assert found.fix.startswith(f"module load cuda/11, or module unload pyenv/x/py{MM}; or create it again")
    environ = {"LOADEDMODULES": f"gcc/13:mpich/5:pyenv/x/py{MM}", "_LMFILES_": f"/h/gcc/13.lua:/h/mpich/5.lua:{mine}"}
    (found,) = loaded_builds.check(ctx(world, environ))
    assert found.fix.startswith(f"module load cuda/11, or module unload"), "the first step back is kept"
    world.make("y", modules=["gcc/12", "cuda/11"], module_files=["/h/gcc/12.lua", "/h/cuda/11.lua"])
    environ = {"LOADEDMODULES": f"gcc/13:pyenv/y/py{MM}", "_LMFILES_": f"/h/gcc/13.lua:{lua(world, 'y')}"}
    (found,) = loaded_builds.check(ctx(world, environ))
    assert found.fix.startswith("module swap gcc/13 gcc/12, or module unload"), "a swap is not replaced by a load"
    # a loaded name of the tree without a record (deleted) is another check's business
    assert loaded_builds.check(ctx(world, {"LOADEDMODULES": "pyenv/z/py3", "_LMFILES_": str(lua(world, "z"))})) == []


def test_a_broken_environment_that_is_loaded_is_not_compared(world):
    from pyenvmod.operations.doctor import loaded_builds

    world.make("x", modules=["gcc/12"], module_files=["/h/gcc/12.lua"])
    world.layout.meta_file("x").write_text("{")
    environ = {"LOADEDMODULES": f"gcc/13:pyenv/x/py{MM}", "_LMFILES_": f"/h/gcc/13.lua:{lua(world, 'x')}"}
    assert loaded_builds.check(ctx(world, environ)) == []


# --- toolchain.py ---------------------------------------------------------------------------------

NAMES = ["python", "Python", "cpython"]


def test_the_toolchain_is_the_python_modules_suffix_before_the_compiler_modules():
    from pyenvmod.operations.doctor import toolchain

    assert toolchain.toolchain(["Python/3.11.5-GCCcore-13.2.0", "GCC/12.3.0"], NAMES) == {"gcc": "GCCcore/13.2.0"}
    assert toolchain.toolchain(["Python/3.11.5-intel-compilers-2023.1.0"], NAMES) == {
        "intel": "intel-compilers/2023.1.0"}
    assert toolchain.toolchain(["Python/3.11-NVHPC-23.7", "gcc/12"], NAMES) == {"nvhpc": "NVHPC/23.7", "gcc": "gcc/12"}
    assert toolchain.toolchain(["numpy/1.2-GCCcore-13.2.0"], NAMES) == {}, "a suffix of another module is no toolchain"
    assert toolchain.toolchain(["Clang/17", "aocc/4", "iccifort/2020"], NAMES) == {
        "llvm": "Clang/17", "aocc": "aocc/4", "intel": "iccifort/2020"}
    assert toolchain.toolchain(["gcc/12", "GCCcore/13"], NAMES) == {"gcc": "gcc/12"}, "the first of a family"
    assert toolchain.toolchain(["gcc", "python/3.12"], NAMES) == {}, "a module without a version is no toolchain"
    assert toolchain.toolchain(["python/3.12-GCC-"], NAMES) == {}


def test_a_compiler_other_than_pythons_loaded_with_the_environment_is_a_warning(world):
    from pyenvmod.operations.doctor import toolchain

    world.make("x", modules=["Python/3.11.5-GCCcore-13.2.0"], module_files=["/h/py.lua"])
    mine = lua(world, "x")

    def found(loaded, name=None):
        environ = {"LOADEDMODULES": ":".join(loaded), "_LMFILES_": str(mine)}
        return messages(toolchain.check(ctx(world, environ, name)))

    assert found([f"pyenv/x/py{MM}"]) == [], "no compiler loaded"
    assert found(["GCCcore/13.2.0"]) == [] and found(["GCC/13.2.0-foss"]) == [], "the same version"
    assert found(["intel/2023"]) == [], "another family: nothing to compare"
    assert found(["GCC/12.3.0", "gcc", "mpi/4"]) == [(
        "toolchain", "warning",
        "x: GCC/12.3.0 is loaded, but its Python was built with GCCcore/13.2.0: extensions built now link another "
        "compiler's libstdc++ than Python's",
        "module unload GCC/12.3.0; module load GCCcore/13.2.0 (or pyenv/x, which loads it) before building packages "
        "into it")]
    assert found(["GCC/12.3.0"], name="other") == []
    world.make("y", modules=["python/3.12", "gcc/12"], module_files=["", ""])
    world.make("z", modules=["python/3.12", "gcc/12", "gcc/13"], module_files=["", "", ""])
    assert [m[2][:2] for m in found(["gcc/13"], name="y")] == ["y:"]
    assert found(["gcc/13"], name="z") == [], "a loaded compiler the environment records is its own"
    world.make("w", modules=[], module_files=[])
    assert found(["gcc/13"], name="w") == []


# --- mpi.py ---------------------------------------------------------------------------------------

def _dist(site, name, version, tag=None, record_rows=()):
    dist = site / f"{name}-{version}.dist-info"
    dist.mkdir(parents=True)
    if tag is not None:
        (dist / "WHEEL").write_text(f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {tag}\n")
    (dist / "RECORD").write_text("".join(f"{row},sha256=x,1\n" for row in record_rows))
    return dist


def _mpi_world(world, tmp_path, **changes):
    from test_elf_unit import build

    lib = tmp_path / "mpi" / "lib"
    lib.mkdir(parents=True)
    build(lib / "libmpi.so.40")
    changes.setdefault("modules", ["gcc/12", "openmpi/4.1"])
    record = world.make("m", **changes)
    site = world.site(record.prefix)
    (site / "mpi4py").mkdir()
    build(site / "mpi4py" / "MPI.cpython-311-x86_64-linux-gnu.so", needed=["libc.so.6", "libmpi.so.40"])
    _dist(site, "mpi4py", "3.1.5", tag="cp311-cp311-linux_x86_64",
          record_rows=["mpi4py/__init__.py", "mpi4py/MPI.cpython-311-x86_64-linux-gnu.so", "/abs/evil.so",
                       "../../outside.so", "mpi4py/../../x.so"])
    return record, site, lib


def test_an_mpi_extension_is_checked_against_the_recorded_library(world, tmp_path):
    from pyenvmod.operations.doctor import mpi as doctor_mpi

    record, site, lib = _mpi_world(world, tmp_path, mpi={"module": "openmpi/4.1", "library": "/elsewhere/libmpi.so.40"})
    short = "mpi4py/MPI.cpython-311-x86_64-linux-gnu.so"
    found = doctor_mpi.check(ctx(world, {}))
    assert messages(found) == [("mpi", "warning", f"m: {short} needs libmpi.so.40, which is not found (openmpi/4.1 "
                                "is not loaded in this shell)",
                                f"module load pyenv/m/py{MM} (it loads openmpi/4.1), then pyenvmod doctor m")]
    loaded = {"LOADEDMODULES": "gcc/12:openmpi/4.1"}
    assert doctor_mpi.check(ctx(world, loaded))[0].message == f"m: {short} needs libmpi.so.40, which is not found"
    environ = {"LD_LIBRARY_PATH": str(lib)}
    assert messages(doctor_mpi.check(ctx(world, environ))) == [
        ("mpi", "warning", f"m: {short} loads {lib / 'libmpi.so.40'}, not the MPI recorded with openmpi/4.1 "
         "(/elsewhere/libmpi.so.40)", f"module load pyenv/m/py{MM} (it loads openmpi/4.1); if that MPI moved, "
         "pyenvmod install m mpi4py --rebuild")]
    (tmp_path / "via").symlink_to(lib)
    from pyenvmod.records import registry

    registry.write(world.tree, record.replace(mpi={"module": "openmpi/4.1", "library": str(lib / "libmpi.so.40")}))
    found = doctor_mpi.check(ctx(world, {"LD_LIBRARY_PATH": str(tmp_path / "via")}))
    assert messages(found) == [("mpi", "info", f"m: {short} loads {lib / 'libmpi.so.40'} (recorded MPI: "
                                "openmpi/4.1)", "none needed")]


def test_without_a_recorded_library_the_loaded_mpi_is_a_note(world, tmp_path):
    from pyenvmod.operations.doctor import mpi as doctor_mpi

    record, site, lib = _mpi_world(world, tmp_path)
    (found,) = doctor_mpi.check(ctx(world, {"LD_LIBRARY_PATH": str(lib)}))
    assert (found.severity, found.message.split(" (")[1]) == ("info", "recorded MPI: openmpi/4.1)")
    assert doctor_mpi.check(ctx(world, {"LD_LIBRARY_PATH": str(lib)}, name="other")) == []


def test_binary_mpi_wheels_and_manylinux_mpi_packages_are_errors(world, tmp_path):
    from pyenvmod.operations.doctor import mpi as doctor_mpi

    record, site, lib = _mpi_world(world, tmp_path)
    _dist(site, "mpich", "4.1.2")
    _dist(site, "impi_rt", "2021.10")
    _dist(site, "h5py", "3.10.0", tag="cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64")
    found = messages(doctor_mpi.check(ctx(world, {"LD_LIBRARY_PATH": str(lib)})))
    assert found[:3] == [
        ("mpi", "error", "m: mpich 4.1.2 is a binary MPI from PyPI: packages would load it instead of openmpi/4.1, "
         "the MPI this environment records", "pyenvmod remove m mpich; then pyenvmod install m mpi4py h5py --rebuild"),
        ("mpi", "error", "m: impi-rt 2021.10 is a binary MPI from PyPI: packages would load it instead of openmpi/4.1, "
         "the MPI this environment records", "pyenvmod remove m impi-rt; then pyenvmod install m mpi4py h5py --rebuild"),
        ("mpi", "info", f"m: mpi4py/MPI.cpython-311-x86_64-linux-gnu.so loads {lib / 'libmpi.so.40'} (recorded MPI: "
         "openmpi/4.1)", "none needed")]
    assert found[3:] == [
        ("mpi", "error", "m: h5py 3.10.0 was installed from a binary wheel "
         "(cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64): it does not use openmpi/4.1's MPI (no Slurm/PMI "
         "integration, or none at all)", "pyenvmod install m h5py --rebuild   (builds it from source against "
         "openmpi/4.1; load openmpi/4.1 first)")]
    import shutil

    shutil.rmtree(site / "mpi4py-3.1.5.dist-info")
    shutil.rmtree(site / "h5py-3.10.0.dist-info")
    assert [f[3] for f in messages(doctor_mpi.check(ctx(world)))][:1] == [
        "pyenvmod remove m mpich; then pyenvmod install m mpi4py --rebuild"], "mpi4py when no MPI package is there"


def test_environments_without_an_mpi_module_or_folder_or_of_conda_are_not_read(world, tmp_path):
    import shutil

    from pyenvmod.operations.doctor import mpi as doctor_mpi

    record, site, lib = _mpi_world(world, tmp_path, modules=["gcc/12"])
    _dist(site, "mpich", "4.1.2")
    assert doctor_mpi.check(ctx(world)) == [], "no MPI module recorded"
    from pyenvmod.records import registry

    registry.write(world.tree, record.replace(modules=["gcc/12"], mpi={"module": "mpich/4", "library": ""}))
    assert [f.message[:9] for f in doctor_mpi.check(ctx(world))][:1] == ["m: mpich "], "the recorded MPI module counts"
    registry.write(world.tree, record.replace(modules=["gcc/12"], mpi={"module": "", "library": ""}))
    assert doctor_mpi.check(ctx(world)) == []
    registry.write(world.tree, record.replace(backend="conda", modules=["openmpi/4"]))
    assert doctor_mpi.check(ctx(world)) == [], "a conda environment's MPI is the external_ build pinned at create"
    registry.write(world.tree, record.replace(modules=["openmpi/4"]))
    assert doctor_mpi.check(ctx(world))
    shutil.rmtree(record.prefix)
    assert doctor_mpi.check(ctx(world)) == []


def test_only_mpi_libraries_are_named_and_a_file_that_is_not_elf_links_nothing(world, tmp_path):
    from test_elf_unit import build

    from pyenvmod.operations.doctor import mpi as doctor_mpi

    libs = ["libmpi.so", "libmpich.so.12", "libmpi_usempif08.so.40", "libmpi.so.40.30.1", "libmpicxx.so.12",
            "libopenmpi.so", "libmpi.a", "libc.so.6"]
    ext = build(tmp_path / "e.so", needed=libs)
    assert [s for s, _ in doctor_mpi._resolved(str(ext), {})] == libs[:4]
    (tmp_path / "junk.so").write_bytes(b"not an ELF file at all, just bytes" * 4)
    assert doctor_mpi._resolved(str(tmp_path / "junk.so"), {}) == []


def test_a_dist_info_file_that_is_a_fifo_or_too_big_is_read_as_nothing(tmp_path):
    from pyenvmod.operations.doctor import mpi as doctor_mpi

    dist = tmp_path / "x-1.dist-info"
    dist.mkdir()
    os.mkfifo(dist / "WHEEL")
    assert doctor_mpi._wheel_tag(dist) == ""
    (dist / "RECORD").write_text("a.so,,\n" + "x" * 200)
    assert doctor_mpi._text(dist / "RECORD", 100) == ""
    assert doctor_mpi._text(dist / "RECORD", 1000).startswith("a.so")
    assert doctor_mpi._extensions(tmp_path, dist) == [str(tmp_path / "a.so"), ], "the first column only"
    os.unlink(dist / "WHEEL")
    (dist / "WHEEL").write_text("Wheel-Version: 1.0\nTag:  py3-none-any \nTag: other\n")
    assert doctor_mpi._wheel_tag(dist) == "py3-none-any", "the first tag, stripped"
    (dist / "WHEEL").write_text("Wheel-Version: 1.0\n")
    assert doctor_mpi._wheel_tag(dist) == ""
    assert doctor_mpi._dists(tmp_path) == {"x": ("1", dist)}
    (tmp_path / "My.Pkg_name-2.0.dist-info").mkdir()
    assert doctor_mpi._dists(tmp_path)["my-pkg-name"][0] == "2.0"


# --- shadowed.py ----------------------------------------------------------------------------------

def _scipy_bundle_modules(tmp_path, monkeypatch, **more) -> tuple:
    """A real Lmod over a module tree with SciPy-bundle/2023.07, whose PYTHONPATH folder holds numpy 1.26.4,
    and the modules ``more`` names (module name: its modulefile's text); the environment that asks Lmod."""
    from modsys import Lmod
    from test_guards_installed import dist

    from pyenvmod.packages import module_packages

    Lmod().require()
    tree, bundle = tmp_path / "modulefiles", tmp_path / "sb" / "site-packages"
    dist(bundle, "numpy", "1.26.4")
    (tree / "SciPy-bundle").mkdir(parents=True)
    (tree / "SciPy-bundle" / "2023.07.lua").write_text(f'prepend_path("PYTHONPATH", "{bundle}")\n')
    for name, text in more.items():
        (tree / name).mkdir()
        (tree / name / "1.lua").write_text(text)
    environ = {"LMOD_CMD": Lmod.modulecmd(), "MODULEPATH": str(tree)}
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    module_packages._SHOWN.clear()
    return tree, environ


def test_a_package_a_recorded_module_hides_is_reported(world, tmp_path, monkeypatch):
    from test_guards_installed import dist

    from pyenvmod.operations.doctor import shadowed
    from pyenvmod.packages import module_packages

    tree, environ = _scipy_bundle_modules(tmp_path, monkeypatch, plain='setenv("X", "1")\n')
    x = world.make("x", modules=["SciPy-bundle/2023.07"])
    dist(world.site(x.prefix), "NumPy", "2.0.0")
    dist(world.site(x.prefix), "six", "1.16.0")
    plain = world.make("plain", modules=["plain/1"])
    dist(world.site(plain.prefix), "numpy", "2.0.0")
    conda = world.make("c", modules=["SciPy-bundle/2023.07"], backend="conda")
    dist(world.site(conda.prefix), "numpy", "2.0.0")
    bare = world.make("bare")
    dist(world.site(bare.prefix), "numpy", "2.0.0")
    try:
        assert messages(shadowed.check(ctx(world, environ))) == [(
            "module-shadow", "warning",
            "x: NumPy 2.0.0 is installed in it but never imported: the module SciPy-bundle/2023.07 puts numpy 1.26.4 "
            "on PYTHONPATH, which comes first on sys.path",
            "pyenvmod remove x NumPy (the module's 1.26.4 is used), or make the environment without "
            "SciPy-bundle/2023.07")]
        assert shadowed.check(ctx(world, environ, name="plain")) == []
        assert len(shadowed.check(ctx(world, environ, name="x"))) == 1
        assert shadowed.check(ctx(world, {"MODULEPATH": str(tree)})) == [], "no module system: nothing to ask"
        failing = tmp_path / "lmod-fails"
        failing.write_text("#!/bin/sh\necho broken >&2\nexit 3\n")
        failing.chmod(0o755)
        module_packages._SHOWN.clear()
        monkeypatch.setenv("LMOD_CMD", str(failing))
        assert shadowed.check(ctx(world, dict(environ, LMOD_CMD=str(failing)))) == []
    finally:
        module_packages._SHOWN.clear()


def test_an_environment_whose_module_cannot_be_asked_does_not_hide_the_next_ones_findings(world, tmp_path,
                                                                                        monkeypatch):
    """'a' records a module whose PYTHONPATH folder cannot be looked into (a name longer than the system
    allows); 'x', checked after it, still gets its finding."""
    from test_guards_installed import dist

    from pyenvmod.operations.doctor import shadowed
    from pyenvmod.packages import module_packages

    _, environ = _scipy_bundle_modules(tmp_path, monkeypatch,
                                       long=f'prepend_path("PYTHONPATH", "{tmp_path}/{"n" * 300}")\n')
    dist(world.site(world.make("a", modules=["long/1"]).prefix), "numpy", "2.0.0")
    dist(world.site(world.make("x", modules=["SciPy-bundle/2023.07"]).prefix), "numpy", "2.0.0")
    try:
        assert [f.message.split(":")[0] for f in shadowed.check(ctx(world, environ))] == ["x"]
    finally:
        module_packages._SHOWN.clear()


# --- __init__.py: run -----------------------------------------------------------------------------

def test_run_gives_every_check_the_users_home_and_environment(world, monkeypatch):
    home = Path(os.environ["HOME"])
    (home / ".bashrc").write_text(BLOCK)
    with_modulefiles(world, "a")
    monkeypatch.setenv("PYTHONHOME", "/from/os/environ")
    found = doctor.run(world.config, environ={"PYTHONPATH": "/given"})
    assert [(f.check, f.message.split(" ")[0]) for f in found] == [
        ("conda-init", f"{home / '.bashrc'}:1"), ("python-vars", "PYTHONPATH"), ("modulepath", "the")]
    found = doctor.run(world.config)
    assert [f.message.split(" ")[0] for f in found if f.check == "python-vars"] == ["PYTHONHOME"], "os.environ"


def test_run_with_a_name_checks_that_environment_only_and_not_the_users_set_up(world):
    import shutil

    from pyenvmod.errors import PyenvmodError

    for name in ("a", "b"):
        shutil.rmtree(with_modulefiles(world, name).prefix)
    environ = {"PYTHONPATH": "/x", "CONDA_SHLVL": "1"}
    assert sorted(f.message.split(":")[0] for f in doctor.run(world.config, environ=environ)
                  if f.check == "environments") == ["a", "b"]
    found = doctor.run(world.config, "b", environ=environ)
    assert [(f.check, f.message.split(":")[0]) for f in found] == [("environments", "b")]
    with pytest.raises(PyenvmodError, match="no environment named 'c'"):
        doctor.run(world.config, "c", environ=environ)
    world.layout.prefix("left").mkdir()  # a leftover has no record, but it has a folder
    assert [f.message.split(":")[0] for f in doctor.run(world.config, "left", environ=environ)] == ["left"]
    world.layout.module_dir("mods").mkdir()  # modulefiles alone
    assert [f.message.split()[1] for f in doctor.run(world.config, "mods", environ=environ)] == [
        str(world.layout.module_dir("mods"))]


def test_a_modules_family_is_everything_before_its_last_slash():
    from pyenvmod.operations.doctor import loaded_builds

    def record(modules, files):
        from pyenvmod.records import metadata

        return metadata.EnvRecord(name="x", prefix="/p/x", python=PYTHON, base_python="/usr/bin/python3",
                                  backend="uv", module="pyenv/x/py3.12", created="", owner="me", platform="p",
                                  modules=modules, module_files=files)

    hierarchical = record(["mpi/openmpi/4.1"], ["/h/mpi/openmpi/4.1.lua"])
    assert loaded_builds.mismatches(hierarchical, [("mpi/mpich/4", "/h/mpi/mpich/4.lua")]) == [
        ("mpi/openmpi/4.1", "/h/mpi/openmpi/4.1.lua", None, None)], "another MPI of the same folder is not a swap"
    assert loaded_builds.mismatches(hierarchical, [("mpi/openmpi/5", "/h/mpi/openmpi/5.lua")]) == [
        ("mpi/openmpi/4.1", "/h/mpi/openmpi/4.1.lua", "mpi/openmpi/5", "/h/mpi/openmpi/5.lua")]
    unversioned = record(["StdEnv"], ["/h/StdEnv.lua"])
    assert loaded_builds.mismatches(unversioned, [("StdEnv/2023", "/h/StdEnv/2023.lua")]) == [
        ("StdEnv", "/h/StdEnv.lua", None, None)], "a module without a version has no family"
    first_unloaded = record(["extra/1", "gcc/12"], ["", "/h/gcc/12.lua"])
    assert loaded_builds.mismatches(first_unloaded, [("gcc/13", "/h/gcc/13.lua")]) == [
        ("gcc/12", "/h/gcc/12.lua", "gcc/13", "/h/gcc/13.lua")], "a module given by name only is passed over"


def test_the_toolchain_of_a_hierarchical_name_is_read_after_its_last_slash():
    from pyenvmod.operations.doctor import toolchain

    assert toolchain.toolchain(["Python/3.11/x-GCCcore-13.2.0"], NAMES) == {}, "its family is Python/3.11"
    assert toolchain.toolchain(["gcc/13/openmpi/4"], NAMES) == {}, "its family is gcc/13/openmpi"
    assert toolchain.toolchain(["Python/3.11.5-GCC-12.3.0"], NAMES) == {"gcc": "GCC/12.3.0"}


def test_with_its_python_gone_a_gone_base_is_still_only_a_warning(world):
    import shutil

    base = with_modulefiles(world, "base")
    top = world.make("top", extends=base)
    write_modulefiles(world.layout, top, modulefiles.options_from(world.config))
    shutil.rmtree(base.prefix)
    os.unlink(Path(top.prefix) / "bin" / "python")
    found = [(f.severity, f.message) for f in environments.check(ctx(world)) if f.message.startswith("top: ")]
    assert found == [("error", f"top: interpreter missing (was {top.base_python} removed?)"),
                     ("warning", f"top: its base environment 'base' at {base.prefix} is gone")]


def test_a_module_reloaded_from_another_file_under_its_own_name_needs_no_swap(world):
    from pyenvmod.operations.doctor import loaded_builds

    world.make("x", modules=["openmpi/4"], module_files=["/h/gcc/12/openmpi/4.lua"])
    environ = {"LOADEDMODULES": f"openmpi/4:pyenv/x/py{MM}", "_LMFILES_": f"/h/gcc/13/openmpi/4.lua:{lua(world, 'x')}"}
    (found,) = loaded_builds.check(ctx(world, environ))
    assert found.fix == (f"module unload pyenv/x/py{MM}; or create it again with today's modules (pyenvmod export x, "
                         "edit the modules, pyenvmod create --file)")


def test_the_extensions_of_a_distribution_are_its_own_so_files_inside_site_packages(tmp_path):
    from pyenvmod.operations.doctor import mpi as doctor_mpi

    site = tmp_path / "site"
    dist = _dist(site, "p", "1", record_rows=["p/a.so", "p/b.so.1", "p/c.py", "/abs/d.so", "../e.so", "p/../../f.so",
                                              "p/..so", "p/g.cpython-311-x86_64-linux-gnu.so"])
    assert doctor_mpi._extensions(site, dist) == [str(site / "p/a.so"), str(site / "p/..so"),
                                                   str(site / "p/g.cpython-311-x86_64-linux-gnu.so")]


def test_a_wheel_file_is_read_up_to_64_kib_and_a_record_up_to_32_mib(tmp_path):
    from pyenvmod.operations.doctor import mpi as doctor_mpi

    dist = tmp_path / "x-1.dist-info"
    dist.mkdir()
    head = b"Wheel-Version: 1.0\nTag: cp311-cp311-musllinux_1_1_x86_64\n"
    (dist / "WHEEL").write_bytes(head + b"#" * ((64 << 10) - len(head)))
    assert doctor_mpi._wheel_tag(dist) == "cp311-cp311-musllinux_1_1_x86_64"
    (dist / "WHEEL").write_bytes(head + b"#" * ((64 << 10) - len(head) + 1))
    assert doctor_mpi._wheel_tag(dist) == ""
    row = b"a.so,,\n"
    (dist / "RECORD").write_bytes(row + b"#" * ((32 << 20) - len(row)))
    assert doctor_mpi._extensions(tmp_path, dist) == [str(tmp_path / "a.so")]
    with open(dist / "RECORD", "ab") as fh:
        fh.write(b"#")
    assert doctor_mpi._extensions(tmp_path, dist) == []


def test_a_binary_wheel_is_reported_and_the_next_mpi_package_is_still_read(world, tmp_path):
    from test_elf_unit import build

    from pyenvmod.operations.doctor import mpi as doctor_mpi

    record, site, lib = _mpi_world(world, tmp_path)
    import shutil

    shutil.rmtree(site / "mpi4py-3.1.5.dist-info")
    _dist(site, "mpi4py", "3.1.5", tag="cp311-cp311-musllinux_1_1_x86_64")
    build(site / "petsc.so", needed=["libmpi_petsc.so.77"])
    _dist(site, "petsc4py", "3.20", tag="cp311-cp311-linux_x86_64", record_rows=["petsc.so"])
    found = doctor_mpi.check(ctx(world, {"LOADEDMODULES": "openmpi/4.1"}))
    assert [(f.severity, f.message.split(" (")[0]) for f in found] == [
        ("error", "m: mpi4py 3.1.5 was installed from a binary wheel"),
        ("warning", "m: petsc.so needs libmpi_petsc.so.77, which is not found")]


@pytest.mark.parametrize("base_name", ["interpreter", "modulefile", "is-missing"])
def test_a_gone_base_whose_name_reads_like_a_problem_is_a_warning_and_fix_keeps_the_modulefiles(world, base_name):
    """The problems are sentences holding names and paths: a base named 'interpreter' made the doctor call a
    working environment gone (its --fix removed that environment's modulefiles), one named 'modulefile' called
    its modulefiles missing."""
    import shutil

    base = with_modulefiles(world, base_name)
    top = world.make("top", extends=base)
    write_modulefiles(world.layout, top, modulefiles.options_from(world.config))
    shutil.rmtree(base.prefix)
    found = [f for f in environments.check(ctx(world)) if f.message.startswith("top: ")]
    assert [(f.check, f.severity, f.message, f.fix, f.repair) for f in found] == [
        ("environments", "warning", f"top: its base environment {base_name!r} at {base.prefix} is gone",
         "see the message", None)]
    assert world.layout.module_dir("top").is_dir()


def test_a_missing_kernel_of_a_gone_environment_is_not_a_second_repair(world):
    record = world.make("a")
    os.unlink(Path(record.prefix) / "bin" / "python")
    problems = [listing.Problem(listing.INTERPRETER, "interpreter missing (was x removed?)"),
                listing.Problem(listing.KERNEL, "kernel /k/a is missing"),
                listing.Problem(listing.MODULEFILES, "lua modulefile missing")]
    entry = listing.Entry("a", record, problems, "broken")
    c = doctor.Context(world.config, world.layout, Path(os.environ["HOME"]), {}, None, [entry])
    assert [(f.severity, f.message, f.repair is not None) for f in environments.check(c)] == [
        ("error", "a: interpreter missing (was x removed?)", True), ("warning", "a: kernel /k/a is missing", False)]


# --- the survivors of the first full run -----------------------------------------------------------

def test_the_default_uv_cache_and_a_refused_cache_before_another_are_each_reported(world):
    home = Path(os.environ["HOME"])
    uv = uv_shaped(home / ".cache" / "uv")
    pip = home / ".cache" / "pip"
    (pip / "wheels").mkdir(parents=True)
    (pip / "wheels" / "mine.whl").write_text("mine\n")
    found = caches.check(ctx(world))
    assert [(f.check, f.severity, f.repair is None) for f in found] == [("caches", "info", True),
                                                                         ("caches", "info", False)]
    assert str(pip) in found[0].message and "not a pip cache that --fix may empty" in found[0].message
    assert found[1].message.startswith(f"uv cache in your home directory (its default place): {uv} holds")


def test_a_second_conda_init_block_does_not_move_the_line_reported(world):
    home = Path(os.environ["HOME"])
    (home / ".zshrc").write_text("a\n" + BLOCK + "b\n" + BLOCK)
    (found,) = conda_init.check(ctx(world))
    assert found.message.startswith(f"{home / '.zshrc'}:2 has a 'conda init' block")


def test_a_module_without_check_beside_the_checks_is_not_one(monkeypatch, tmp_path):
    (tmp_path / "helper_only.py").write_text("def check(ctx):\n    return []\n")
    (tmp_path / "declared.py").write_text(
        "from pyenvmod.operations.doctor.finding import Check\n\ndef check(ctx):\n    return []\n\n"
        'CHECK = Check("declared", 5, "user", looks_at="x", finding="y", fix="z")\n')
    monkeypatch.setattr(doctor, "__path__", [*doctor.__path__, str(tmp_path)])
    names = [m.__name__.rsplit(".", 1)[1] for m in doctor.checks()]
    assert names[0] == "declared" and "helper_only" not in names and "common" not in names


def test_the_toolchain_check_reads_each_environment_and_module_by_its_last_slash(world):
    from pyenvmod.operations.doctor import toolchain

    world.make("a", modules=["gcc/12"], module_files=[""])  # its Python is no module's
    world.make("b", modules=["python/3.12", "gcc/12"], module_files=["", ""])
    world.make("c", modules=["python/3.12/GCC", "gcc/12"], module_files=["", ""])
    world.make("d", modules=["python/3.12", "gcc/12"], module_files=["", ""])
    world.layout.meta_file("d").write_text("{")  # broken: no record to compare
    environ = {"LOADEDMODULES": "gcc/13:gcc/13/cuda:pyenv/a/py3:pyenv/b/py3:pyenv/c/py3",
               "_LMFILES_": ":".join(str(lua(world, n)) for n in "abcd")}
    assert [f.message[:16] for f in toolchain.check(ctx(world, environ))] == ["b: gcc/13 is loa"]
    assert toolchain.check(ctx(world, environ, name="d")) == []
    assert toolchain.check(ctx(world, environ, name="c")) == [], "python/3.12/GCC's family is python/3.12"


def test_a_tombstone_written_back_carries_the_sites_module_settings(world):
    """Its unload must undo what the site's configuration made the module set (its 'environment')."""
    world.config.set("environment", {"PYENVMOD_DOCTOR_TEST_VAR": "set-by-the-site"}, "test")
    _deleted(world, "a")
    import shutil

    shutil.rmtree(world.layout.module_dir("a"))
    path = lua(world, "a")
    (found,) = loaded_deleted.check(ctx(world, {"_LMFILES_": str(path)}))
    found.repair()
    assert "PYENVMOD_DOCTOR_TEST_VAR" in path.read_text()


def test_recorded_modules_of_an_environment_after_one_without_modules_are_checked(world):
    world.make("aa-plain")
    world.make("b", modules=["gone/1"], module_paths=["/nowhere"])
    assert [f.message.split(":")[0] for f in recorded_modules.check(ctx(world))] == ["b"]


def test_loaded_modules_need_both_variables():
    from pyenvmod.operations.doctor import loaded_builds

    assert loaded_builds.loaded_modules({"_LMFILES_": "/h/a/1.lua"}) == []
    assert loaded_builds.loaded_modules({"LOADEDMODULES": "a/1"}) == []


def test_every_loaded_environment_is_compared_after_one_without_a_record_or_a_mismatch(world):
    from pyenvmod.operations.doctor import loaded_builds

    world.make("a", modules=["gcc/13"], module_files=["/h/gcc/13.lua"])  # as built
    world.make("c", modules=["gcc/12"], module_files=["/h/gcc/12.lua"])
    environ = {"LOADEDMODULES": f"gcc/13:pyenv/z/py3:pyenv/a/py3:pyenv/c/py3",
               "_LMFILES_": f"/h/gcc/13.lua:{lua(world, 'z')}:{lua(world, 'a')}:{lua(world, 'c')}"}
    assert [f.message.split(" ")[0] for f in loaded_builds.check(ctx(world, environ))] == ["pyenv/c/py" + MM]


def test_a_dist_info_name_with_a_hyphen_keeps_it(tmp_path):
    from pyenvmod.operations.doctor import mpi as doctor_mpi

    (tmp_path / "impi-rt-2021.10.dist-info").mkdir()
    assert {k: v[0] for k, v in doctor_mpi._dists(tmp_path).items()} == {"impi-rt": "2021.10"}


def test_a_wheel_tag_is_what_follows_the_first_colon_even_in_bytes_that_are_not_utf8(tmp_path):
    from pyenvmod.operations.doctor import mpi as doctor_mpi

    dist = tmp_path / "x-1.dist-info"
    dist.mkdir()
    (dist / "WHEEL").write_bytes(b"Generator: caf\xe9 1.0\nTag:cp311-cp311-manylinux_2_17_x86_64\n")
    assert doctor_mpi._wheel_tag(dist) == "cp311-cp311-manylinux_2_17_x86_64"
    (dist / "WHEEL").write_bytes(b"Tag: a:b:c\n")
    assert doctor_mpi._wheel_tag(dist) == "a:b:c"


def test_the_mpi_environment_is_read_after_ones_that_are_passed_over(world, tmp_path):
    import shutil

    from pyenvmod.operations.doctor import mpi as doctor_mpi

    world.make("a")  # no MPI module
    world.make("b", modules=["openmpi/4.1"], backend="conda")
    shutil.rmtree(world.make("c", modules=["openmpi/4.1"]).prefix)
    record, site, lib = _mpi_world(world, tmp_path)
    assert [f.message.split(":")[0] for f in doctor_mpi.check(ctx(world, {"LD_LIBRARY_PATH": str(lib)}))] == ["m"]


def test_a_leftover_a_broken_record_and_a_gone_folder_are_each_reported_in_order(world):
    import shutil

    world.layout.prefix("a-left").mkdir()
    with_modulefiles(world, "b-broken")
    world.layout.meta_file("b-broken").write_text("{")
    with_modulefiles(world, "c-before")
    world.layout.meta_file("c-before").write_text("{")
    shutil.rmtree(with_modulefiles(world, "d-gone").prefix)
    assert [(f.message.split(":")[0], f.severity) for f in environments.check(ctx(world))] == [
        ("a-left", "error"), ("b-broken", "error"), ("c-before", "error"), ("d-gone", "error")]


def test_a_modulefile_of_a_site_module_owner_is_read_for_the_shadow_check(world, tmp_path, monkeypatch):
    import pwd

    from modsys import Lmod
    from test_guards_installed import dist

    from pyenvmod.operations.doctor import shadowed
    from pyenvmod.packages import module_packages

    Lmod().require()
    tree, bundle = tmp_path / "modulefiles", tmp_path / "sb" / "site-packages"
    dist(bundle, "numpy", "1.26.4")
    (tree / "SciPy-bundle").mkdir(parents=True)
    modulefile = tree / "SciPy-bundle" / "2023.07.lua"
    modulefile.write_text(f'prepend_path("PYTHONPATH", "{bundle}")\n')
    nobody = pwd.getpwnam("nobody")
    os.chown(modulefile, nobody.pw_uid, nobody.pw_gid)  # the site's software account wrote it
    environ = {"LMOD_CMD": Lmod.modulecmd(), "MODULEPATH": str(tree)}
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    x = world.make("x", modules=["SciPy-bundle/2023.07"])
    dist(world.site(x.prefix), "numpy", "2.0.0")
    module_packages._SHOWN.clear()
    try:
        assert shadowed.check(ctx(world, environ)) == [], "a stranger's modulefile is never run"
        module_packages._SHOWN.clear()
        world.config.set("module_owners", ["nobody"], "site")
        assert [f.message.split(" is installed")[0] for f in shadowed.check(ctx(world, environ))] == ["x: numpy 2.0.0"]
    finally:
        module_packages._SHOWN.clear()
