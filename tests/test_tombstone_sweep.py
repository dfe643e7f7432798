"""tombstones.sweep: a tombstone goes once nothing can have it loaded, under its name's lock
(taken through the tree, so a create of the same name never interleaves), in-process on a real tree."""

import os

import pytest

from pyenvmod.modules import tombstones
from pyenvmod.errors import PyenvmodError
from pyenvmod.records.layout import Layout
from pyenvmod.trust.tree import Tree
from test_render import record


@pytest.fixture
def layout(tmp_path):
    layout = Layout(tmp_path / "root", "p")
    layout.ensure()
    return layout


def buried(layout, name="mylab", long_ago=True):
    tombstones.bury(layout, record(name=name, prefix=str(layout.prefix(name)), module=f"pyenv/{name}/py3.12"),
                    {"formats": ["lua", "tcl"]})
    if long_ago:  # no shell of this user started before it: nothing can have it loaded
        os.utime(layout.module_dir(name) / ".modulerc", (1, 1))
    return layout.module_dir(name)


def test_a_tombstone_nothing_can_have_loaded_goes_and_one_in_use_stays(layout):
    gone, used = buried(layout, "gone"), buried(layout, "used")
    in_use = {"_LMFILES_": str(used / "py3.12.lua")}
    assert tombstones.sweep(layout, environ=in_use) == ["gone"]
    assert not gone.exists() and used.is_dir()
    assert tombstones.sweep(layout, environ={}) == ["used"]


def test_a_locked_name_is_left_for_next_time(layout):
    folder = buried(layout)
    with Tree(layout).lock("mylab", 0):  # a create of the same name, say
        assert tombstones.sweep(layout, environ={}) == []
        with pytest.raises(PyenvmodError, match="is busy"):
            with Tree(layout).lock("mylab", 0):
                pass
    assert folder.is_dir()
    assert tombstones.sweep(layout, environ={}) == ["mylab"] and not folder.exists()


def test_a_symlinked_lock_file_is_never_followed(layout, tmp_path):
    folder = buried(layout)
    target = tmp_path / "elsewhere.lock"
    layout.lock_file("mylab").symlink_to(target)
    assert tombstones.sweep(layout, environ={}) == []
    assert folder.is_dir() and not target.exists()


def test_a_group_tree_and_a_tree_without_modules_keep_everything(layout, tmp_path):
    folder = buried(layout)
    assert tombstones.sweep(layout, environ={}, shared=True) == [] and folder.is_dir()
    assert tombstones.sweep(Layout(tmp_path / "empty", "p"), environ={}) == []


def test_a_name_that_exists_again_is_no_tombstone(layout):
    folder = buried(layout)
    layout.meta_file("mylab").write_text("{}")  # created again meanwhile
    assert tombstones.sweep(layout, environ={}) == [] and folder.is_dir()


def test_a_live_environment_or_a_busy_name_does_not_stop_the_sweep(layout):
    live = buried(layout, "a-live")
    layout.meta_dir.mkdir(parents=True, exist_ok=True)
    layout.meta_file("a-live").write_text("{}")  # created again: its folder is no tombstone
    busy, gone = buried(layout, "b-busy"), buried(layout, "c-gone")
    with Tree(layout).lock("b-busy", 0):
        assert tombstones.sweep(layout, environ={}) == ["c-gone"]
    assert live.is_dir() and busy.is_dir() and not gone.exists()
