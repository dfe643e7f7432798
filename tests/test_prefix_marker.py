"""The marker that proves a folder given to 'create --prefix' is the user's environment of this
tree (tree.py decides; operations/external_prefix.py writes it), in-process on real folders."""

import json
import os

import pytest

from pyenvmod.errors import PyenvmodError
from pyenvmod.records.layout import Layout
from pyenvmod.records import registry
from pyenvmod.records.metadata import EnvRecord
from pyenvmod.operations import external_prefix
from pyenvmod.trust.tree import PREFIX_MARKER, Tree


@pytest.fixture
def layout(tmp_path):
    layout = Layout(tmp_path / "root", "testarch-testos1")
    layout.ensure()
    return layout


@pytest.fixture
def prefix(tmp_path):
    folder = tmp_path / "project" / "env"
    folder.mkdir(parents=True)
    return folder


def record(layout, prefix, name="proj") -> EnvRecord:
    return EnvRecord(name=name, prefix=str(prefix), python="3.12.1", base_python="/usr/bin/python3.12",
                     backend="uv", module=f"pyenv/{name}/py3.12", created="2026-11-24T10:00:00+00:00",
                     owner="alice", platform=layout.platform)


def test_the_marker_written_names_the_tree_and_the_environment(layout, prefix):
    external_prefix.mark(layout, prefix, "proj")
    assert external_prefix.MARKER == PREFIX_MARKER
    assert json.loads((prefix / PREFIX_MARKER).read_text()) == {"tree": str(layout.base), "name": "proj"}
    tree = Tree(layout)
    assert tree.owns_prefix(str(prefix), "proj") and external_prefix.owned(layout, str(prefix), "proj")
    assert not tree.owns_prefix(str(prefix), "other")
    assert not Tree(Layout(layout.root, "otherarch-otheros1")).owns_prefix(str(prefix), "proj")


@pytest.mark.parametrize("text", ["", "not json", "[]", '"proj"', '{"name": "proj"}', '{"tree": 1, "name": "proj"}'])
def test_a_marker_that_does_not_say_so_proves_nothing(layout, prefix, text):
    (prefix / PREFIX_MARKER).write_text(text)
    assert not Tree(layout).owns_prefix(str(prefix), "proj")


def test_no_marker_a_linked_marker_or_a_linked_folder_proves_nothing(layout, prefix, tmp_path):
    tree = Tree(layout)
    assert not tree.owns_prefix(str(prefix), "proj")
    real = tmp_path / "real-marker.json"
    real.write_text(tree.prefix_marker("proj"))
    (prefix / PREFIX_MARKER).symlink_to(real)
    assert not tree.owns_prefix(str(prefix), "proj")
    (prefix / PREFIX_MARKER).unlink()
    external_prefix.mark(layout, prefix, "proj")
    link = tmp_path / "link-to-env"
    link.symlink_to(prefix)
    assert tree.owns_prefix(str(prefix), "proj") and not tree.owns_prefix(str(link), "proj")


def test_a_marker_of_another_user_proves_nothing(layout, prefix):  # the suite runs as root (tests/users.py)
    external_prefix.mark(layout, prefix, "proj")
    os.chown(prefix / PREFIX_MARKER, 65534, -1)
    assert not Tree(layout).owns_prefix(str(prefix), "proj")


def test_the_record_of_a_marked_folder_is_accepted_and_writes_are_anchored_there(layout, prefix, tmp_path):
    rec = record(layout, prefix)
    with pytest.raises(PyenvmodError, match="is not the folder of"):
        registry.check(Tree(layout), record(layout, prefix), tmp_path / "proj.json")
    external_prefix.mark(layout, prefix, "proj")
    assert registry.check(Tree(layout), rec, tmp_path / "proj.json").prefix == str(prefix)
    assert registry.write_anchor(Tree(layout), rec) == prefix
    with pytest.raises(PyenvmodError, match="is not the folder of"):  # a group tree: anyone may write a marker
        registry.check(Tree(layout, shared=True), record(layout, prefix), tmp_path / "proj.json")
    assert registry.write_anchor(Tree(layout, shared=True), rec) == layout.root
