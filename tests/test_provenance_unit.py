"""provenance.py in-process (issue 22, hole 5): what proves an adopted folder was registered in a
group tree by its owner, and which environments a group environment may extend for its image."""

import json
import os
from collections import namedtuple
from pathlib import Path

import pytest

from pyenvmod.records import provenance
from pyenvmod.errors import PyenvmodError
from pyenvmod.trust.tree import PREFIX_MARKER

from test_trust_cache_locks_unit import ME, OTHER, as_me  # noqa: F401 (fixture)


def _adopted(tmp_path, tree="/trees/lab/x86_64", name="tool", owner=ME, marker_owner=None, mode=0o755,
             marker=True):
    folder = tmp_path / "tool"
    folder.mkdir()
    if marker:
        (folder / PREFIX_MARKER).write_text(json.dumps({"tree": tree, "name": name}) + "\n")
        os.chown(folder / PREFIX_MARKER, marker_owner or owner, 0)
    os.chown(folder, owner, 0)
    folder.chmod(mode)
    return folder


@pytest.fixture
def owner_is_me(monkeypatch):
    """Record owners by name: 'me' is uid ME, 'other' is uid OTHER."""
    uids = {"me": ME, "other": OTHER}
    monkeypatch.setattr(provenance, "_owner_uid", lambda name: uids.get(name))


def test_a_folder_its_owner_registered_here_is_proven(as_me, owner_is_me, tmp_path):
    folder = _adopted(tmp_path)
    assert provenance.proven("/trees/lab/x86_64", str(folder), "tool", "me") == ""


@pytest.mark.parametrize("change, owner, name, fragment", [
    ({}, "other", "tool", "does not belong to the record's owner 'other'"),
    ({"marker_owner": OTHER}, "me", "tool", "was not written by 'me'"),
    ({"marker": False}, "me", "tool", "has no readable marker"),
    ({"mode": 0o777}, "me", "tool", "others may write the folder"),
    ({"tree": "/trees/other/x86_64"}, "me", "tool", "names another tree or environment"),
    ({}, "me", "fake", "names another tree or environment"),
    ({}, "nosuchuser", "tool", "does not belong"),
])
def test_anything_else_is_not_proven(as_me, owner_is_me, tmp_path, change, owner, name, fragment):
    folder = _adopted(tmp_path, **change)
    assert fragment in provenance.proven("/trees/lab/x86_64", str(folder), name, owner)


def test_a_marker_that_is_a_fifo_or_a_link_proves_nothing_and_does_not_block(as_me, owner_is_me, tmp_path):
    folder = _adopted(tmp_path, marker=False)
    os.mkfifo(folder / PREFIX_MARKER)
    assert "no readable marker" in provenance.proven("/trees/lab/x86_64", str(folder), "tool", "me")
    os.unlink(folder / PREFIX_MARKER)
    elsewhere = tmp_path / "m.json"
    elsewhere.write_text(json.dumps({"tree": "/trees/lab/x86_64", "name": "tool"}))
    (folder / PREFIX_MARKER).symlink_to(elsewhere)
    assert "no readable marker" in provenance.proven("/trees/lab/x86_64", str(folder), "tool", "me")


@pytest.fixture
def open_tmp():
    """A scratch folder everyone may enter (pytest's own is 0700, a private place itself)."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="t22-provenance-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_a_private_place_is_found_from_the_top(open_tmp):
    tmp_path = open_tmp
    open_folder = tmp_path / "open" / "envs" / "base"
    open_folder.mkdir(parents=True)
    for p in (tmp_path, tmp_path / "open", open_folder.parent, open_folder):
        p.chmod(0o755)
    assert provenance._private_above(str(open_folder)) == ""
    (tmp_path / "open").chmod(0o750)
    assert provenance._private_above(str(open_folder)) == str(tmp_path / "open")


Tree = namedtuple("Tree", "layout shared")
Layout = namedtuple("Layout", "base")


class _Tree(Tree):
    def inside(self, path):
        return str(path).startswith(str(self.layout.base) + "/")


def _record(**fields):
    base = dict(name="sim", adopted=False, prefix="/x", owner="me", extends=None)
    base.update(fields)
    return namedtuple("Record", base)(**base)


def test_a_group_environment_may_not_extend_a_private_one(open_tmp):
    tmp_path = open_tmp
    tree = _Tree(Layout(tmp_path / "lab" / "x86_64"), True)
    private = tmp_path / "home" / "envs" / "base"
    private.mkdir(parents=True)
    (tmp_path / "home").chmod(0o700)
    with pytest.raises(PyenvmodError, match="private place") as caught:
        provenance.check_for_pack(tree, _record(extends={"prefix": str(private)}))
    assert "\n" not in str(caught.value)
    (tmp_path / "home").chmod(0o755)
    provenance.check_for_pack(tree, _record(extends={"prefix": str(private)}))  # a site's, open to all
    inside = tree.layout.base / "envs" / "base"
    provenance.check_for_pack(tree, _record(extends={"prefix": str(inside)}))  # the same tree


def test_a_private_tree_checks_nothing(tmp_path):
    tree = _Tree(Layout(tmp_path), False)
    provenance.check_for_pack(tree, _record(adopted=True, prefix="/anywhere",
                                            extends={"prefix": "/root/private/envs/x"}))


def test_an_unproven_adopted_folder_is_refused_in_one_line(tmp_path):
    tree = _Tree(Layout(tmp_path / "lab" / "x86_64"), True)
    with pytest.raises(PyenvmodError, match="is adopted from /nonexistent, but its folder") as caught:
        provenance.check_for_pack(tree, _record(adopted=True, prefix="/nonexistent"))
    assert "\n" not in str(caught.value) and "adopts it again" in str(caught.value)


# ---- issue 23 (mutation): a proven folder is packed, every refusal word for word -----------------------

def test_owner_uid_is_the_accounts():
    assert provenance._owner_uid("root") == 0 and provenance._owner_uid("no-such-user-t23") is None


def test_a_proven_adopted_folder_of_a_group_tree_is_packed(as_me, owner_is_me, tmp_path):
    tree = _Tree(Layout(Path("/trees/lab/x86_64")), True)
    folder = _adopted(tmp_path)
    provenance.check_for_pack(tree, _record(adopted=True, prefix=str(folder), name="tool", owner="me"))
    with pytest.raises(PyenvmodError):  # the record's name or owner is what the marker must name
        provenance.check_for_pack(tree, _record(adopted=True, prefix=str(folder), name="other", owner="me"))
    with pytest.raises(PyenvmodError):
        provenance.check_for_pack(tree, _record(adopted=True, prefix=str(folder), name="tool", owner="other"))


def test_the_refusals_word_for_word(as_me, owner_is_me, tmp_path, open_tmp):
    folder = _adopted(tmp_path, marker=False)
    assert provenance.proven("/trees/lab/x86_64", str(folder), "tool", "me") == (
        f"the folder {folder} has no readable marker {PREFIX_MARKER} (written by 'adopt' and 'create --prefix')")
    tree = _Tree(Layout(Path("/trees/lab/x86_64")), True)
    with pytest.raises(PyenvmodError) as caught:
        provenance.check_for_pack(tree, _record(adopted=True, prefix=str(folder), name="tool", owner="me"))
    assert caught.value.message == (
        f"'tool' is adopted from {folder}, but the folder {folder} has no readable marker {PREFIX_MARKER} (written "
        "by 'adopt' and 'create --prefix'): pyenvmod packs an adopted folder into a group image only when its owner "
        f"registered it; its owner adopts it again ('pyenvmod --group ... adopt {folder}')")
    private = open_tmp / "home" / "envs" / "base"
    private.mkdir(parents=True)
    (open_tmp / "home").chmod(0o700)
    with pytest.raises(PyenvmodError) as caught:
        provenance.check_for_pack(tree, _record(extends={"prefix": str(private) + "/"}))
    assert caught.value.message == (
        f"'sim' extends {private}, in a private place ({open_tmp / 'home'} is not open to others): a group image never "
        "carries another tree's private environment; recreate it extending an environment of this group's tree or "
        "the site's")
    (open_tmp / "home").chmod(0o755)
    assert provenance._private_above(str(open_tmp / "missing" / "x")) == str(open_tmp / "missing")
