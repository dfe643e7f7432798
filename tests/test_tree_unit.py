"""tree.py in-process, on real folders and symlinks: the paths it hands out, what it accepts from a
record, and its files and locks. (The attacks through the command line, as a second Unix user, are
in test_trust_*.py; these are the unit cases the mutation run credits.)"""

import os
import time
from pathlib import Path

import pytest

from pyenvmod.errors import PyenvmodError
from pyenvmod.layout import Layout
from pyenvmod.metadata import EnvRecord
from pyenvmod.tree import Tree


@pytest.fixture
def tree(tmp_path) -> Tree:
    tree = Tree(Layout(tmp_path / "root", "testarch-testos1"))
    tree.ensure()
    return tree


def record(tree, name="e", **changes) -> EnvRecord:
    fields = dict(name=name, prefix=str(tree.prefix(name)), python="3.12.1", base_python="/usr/bin/python3",
                  backend="uv", module=f"pyenv/{name}/py3.12", created="2026-01-01T00:00:00+00:00", owner="me",
                  platform=tree.layout.platform)
    fields.update(changes)
    return EnvRecord(**fields)


def check(tree, rec):
    return tree.check_record(rec, Path("/meta/e.json"))


# --- paths from the layout ---------------------------------------------------------------------

@pytest.mark.parametrize("method", ["prefix", "meta_file", "history_dir", "module_dir", "activate_dir", "images_dir"])
def test_paths_are_given_for_valid_names_only(tree, method):
    path = getattr(tree, method)("good")
    assert str(path).startswith(str(tree.root)) and "good" in str(path)
    with pytest.raises(PyenvmodError):
        getattr(tree, method)("../evil")


def test_of_prefix_finds_the_tree_of_an_environment_folder(tree):
    found = Tree.of_prefix(tree.prefix("e"))
    assert found.layout == tree.layout and found.prefix("e") == tree.prefix("e")
    with pytest.raises(PyenvmodError, match="not an environment folder"):
        Tree.of_prefix(tree.root / "testarch-testos1" / "modules" / "e")
    with pytest.raises(PyenvmodError):
        Tree.of_prefix(tree.root / "bad platform" / "envs" / "e")


def test_inside_is_strictly_inside_the_platform_folder_after_resolving_links(tree, tmp_path):
    base = tree.layout.base
    assert tree.inside(base / "envs" / "e")
    assert not tree.inside(base)
    assert not tree.inside(tmp_path / "elsewhere")
    (base / "envs" / "out").symlink_to(tmp_path)
    assert not tree.inside(base / "envs" / "out" / "x")
    (tmp_path / "in").symlink_to(base / "envs")
    assert tree.inside(tmp_path / "in" / "e")


def test_same_place_needs_the_derived_folder_itself_not_a_link(tree, tmp_path):
    derived = tree.prefix("e")
    derived.mkdir()
    (tmp_path / "alias").symlink_to(derived)
    assert tree.same_place(str(derived), derived)
    assert tree.same_place(str(tmp_path / "alias"), derived)  # the same folder by another name
    assert not tree.same_place(str(tree.prefix("f")), derived)
    derived.rmdir()
    (tmp_path / "real").mkdir()
    derived.symlink_to(tmp_path / "real")
    assert not tree.same_place(str(derived), derived)


# --- folders, files and locks --------------------------------------------------------------------

def test_check_dir_refuses_a_symlinked_folder_and_accepts_a_missing_one(tree, tmp_path):
    tree.check_dir(tree.layout.base / "history" / "missing")
    (tree.layout.base / "history").symlink_to(tmp_path)
    with pytest.raises(PyenvmodError):
        tree.check_dir(tree.layout.base / "history" / "x")


def test_write_read_remove_stay_below_the_root(tree, tmp_path):
    folder = tree.mkdir(tree.history_dir("e"))
    assert folder.is_dir() and not folder.stat().st_mode & 0o002
    tree.write(folder / "0001.json", "{}\n", mode=0o640)
    assert tree.read(folder / "0001.json", 100) == b"{}\n"
    assert (folder / "0001.json").stat().st_mode & 0o777 == 0o640
    with pytest.raises(PyenvmodError):
        tree.read(folder / "0001.json", 2)
    assert tree.remove(folder) is True and not folder.exists()
    assert tree.remove(folder) is False
    with pytest.raises(PyenvmodError):
        tree.remove(tree.root)
    with pytest.raises(PyenvmodError):
        tree.write(tmp_path / "outside.txt", "x")


def test_the_lock_is_taken_once_and_waited_for(tree):
    with tree.lock("e", 5):
        assert os.path.isfile(tree.layout.lock_file("e"))
        start = time.monotonic()
        with pytest.raises(PyenvmodError):
            with tree.lock("e", 0.3):
                pass
        assert time.monotonic() - start >= 0.25
    with tree.lock("e", 0):
        pass
    with pytest.raises(PyenvmodError):
        tree.lock("../x", 1)


def test_a_shared_trees_lock_file_is_group_writable(tmp_path):
    shared = Tree(Layout(tmp_path / "root", "testarch-testos1"), shared=True)
    shared.ensure()
    with shared.lock("e", 1):
        pass
    assert shared.layout.lock_file("e").stat().st_mode & 0o060 == 0o060


# --- records -------------------------------------------------------------------------------------

def test_a_records_prefix_becomes_the_layouts(tree, tmp_path):
    tree.prefix("e").mkdir()
    (tmp_path / "alias").symlink_to(tree.prefix("e"))
    checked = check(tree, record(tree, prefix=str(tmp_path / "alias")))
    assert checked.prefix == str(tree.prefix("e"))


@pytest.mark.parametrize("prefix", ["/usr", "relative/envs/e", "{other}"])
def test_a_prefix_that_is_not_the_layouts_is_refused(tree, prefix):
    tree.prefix("e").mkdir()
    tree.prefix("other").mkdir()
    prefix = prefix.format(other=tree.prefix("other"))
    with pytest.raises(PyenvmodError, match="is not the folder of 'e' in this tree"):
        check(tree, record(tree, prefix=prefix))


def test_an_adopted_environment_lives_outside_the_tree_only(tree, tmp_path):
    outside = tmp_path / "conda-env"
    outside.mkdir()
    assert check(tree, record(tree, prefix=str(outside), adopted=True)).prefix == str(outside)
    tree.prefix("e").mkdir()
    with pytest.raises(PyenvmodError, match="adopted environment's prefix"):
        check(tree, record(tree, prefix=str(tree.prefix("e")), adopted=True))


def test_a_record_of_another_platform_is_refused(tree):
    tree.prefix("e").mkdir()
    with pytest.raises(PyenvmodError, match="platform 'otherarch-os2'"):
        check(tree, record(tree, platform="otherarch-os2"))


def base_of(tree, name="base", **changes):
    extends = {"name": name, "prefix": str(tree.prefix(name)), "module": f"pyenv/{name}/py3.12",
               "modules_dir": str(tree.layout.modules_dir), "python": "3.12.1"}
    extends.update(changes)
    return extends


def test_a_base_in_a_tree_is_accepted(tree):
    tree.prefix("e").mkdir()
    assert check(tree, record(tree, extends=base_of(tree))).extends["name"] == "base"


@pytest.mark.parametrize("change", [
    {"prefix": "relative/envs/base"},
    {"name": "other"},
    {"prefix": "/somewhere/notenvs/base"},
    {"modules_dir": "/somewhere/else/modules"},
    {"module": "pyenv/other/py3.12"},
])
def test_a_base_that_is_not_an_environment_of_a_tree_is_refused(tree, change):
    tree.prefix("e").mkdir()
    with pytest.raises(PyenvmodError, match="extends names"):
        check(tree, record(tree, extends={**base_of(tree), **change}))


def test_kernels_must_be_this_environments_kernelspec_folders(tree, tmp_path):
    tree.prefix("e").mkdir()
    good = str(tmp_path / "share" / "jupyter" / "kernels" / "pyenv-e")
    assert check(tree, record(tree, kernels=[good])).kernels == [good]
    for bad in ["share/jupyter/kernels/pyenv-e", str(tmp_path / "kernels" / "pyenv-f"),
                str(tmp_path / "notkernels" / "pyenv-e"), str(tmp_path / "kernels" / ".." / "kernels" / "pyenv-e")]:
        with pytest.raises(PyenvmodError, match="is not a kernelspec folder"):
            check(tree, record(tree, kernels=[bad]))


def test_write_record_then_record_round_trips_with_checks(tree):
    tree.prefix("e").mkdir()
    tree.write_record(record(tree, description="hello"))
    assert tree.record("e").description == "hello"
    assert tree.names() == ["e"]
    with pytest.raises(FileNotFoundError):
        tree.record("missing")


def test_writes_are_anchored_at_the_root_or_a_marked_prefix(tree, tmp_path):
    tree.prefix("e").mkdir()
    assert tree.write_anchor(record(tree)) == tree.root
    outside = tmp_path / "project"
    outside.mkdir()
    (outside / ".pyenvmod-prefix.json").write_text(tree.prefix_marker("e"))
    assert tree.write_anchor(record(tree, prefix=str(outside))) == outside
    shared = Tree(tree.layout, shared=True)
    assert not shared._external(record(tree, prefix=str(outside)))  # a group tree keeps its environments


def test_for_config_is_the_configured_root_and_this_platform(tmp_path, monkeypatch):
    from pyenvmod import config as config_mod
    from pyenvmod import platform_tag

    monkeypatch.setenv("PYENVMOD_ROOT", str(tmp_path / "r"))
    monkeypatch.setenv("PYENVMOD_PLATFORM", "testarch-testos9")
    platform_tag.current.cache_clear()  # computed once per process: other tests ran with another
    try:
        config = config_mod.load()
        tree = Tree.for_config(config)
        assert tree.layout == Layout(tmp_path / "r", "testarch-testos9") and tree.shared is False
        config.group = tmp_path / "group"  # what --group sets
        assert Tree.for_config(config).shared is True
    finally:
        platform_tag.current.cache_clear()


def test_reads_records_and_locks_never_pass_a_linked_folder(tree, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "e.json").write_text("{}")
    (elsewhere / "f").write_text("x")
    (tree.layout.base / "history").symlink_to(elsewhere)
    with pytest.raises(PyenvmodError, match="symlink"):
        tree.read(tree.layout.base / "history" / "f", 10)
    meta = tree.layout.meta_dir
    meta.rmdir()
    meta.symlink_to(elsewhere)
    with pytest.raises(PyenvmodError, match="symlink"):
        tree.record("e")
    locks = tree.layout.locks_dir
    os.rmdir(locks)
    locks.symlink_to(elsewhere)
    with pytest.raises(PyenvmodError, match="symlink"):
        with tree.lock("e", 1):
            pass


def test_errors_name_the_record_the_environment_and_the_fix(tree):
    tree.prefix("e").mkdir()
    tree.write_record(record(tree, platform="otherarch-os2"))
    with pytest.raises(PyenvmodError) as caught:
        tree.record("e")
    assert caught.value.message == (f"metadata file {tree.meta_file('e')}: platform 'otherarch-os2' is not this "
                                    "tree's 'testarch-testos1'; repair or delete it")
    with pytest.raises(PyenvmodError) as caught:
        Tree.of_prefix(tree.layout.modules_dir / "e")
    assert caught.value.message.endswith("is not an environment folder of a pyenvmod tree (ROOT/PLATFORM/envs/NAME)")
    with tree.lock("e", 1):
        with pytest.raises(PyenvmodError, match="environment 'e'"):
            with tree.lock("e", 0):
                pass


def test_a_shared_tree_is_made_group_writable(tmp_path):
    shared = Tree(Layout(tmp_path / "root", "testarch-testos1"), shared=True)
    shared.ensure()
    assert shared.layout.envs_dir.stat().st_mode & 0o2070 == 0o2070


def test_a_record_is_never_written_through_a_linked_folder(tree, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    tree.layout.meta_dir.rmdir()
    tree.layout.meta_dir.symlink_to(elsewhere)
    with pytest.raises(PyenvmodError, match="symlink"):
        tree.write_record(record(tree))
    assert os.listdir(elsewhere) == []
