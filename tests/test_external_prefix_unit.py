"""Issue 23, 'create --prefix PATH' in-process (operations/external_prefix.py; mutmut credits only calls made
in the test process): the whole message of each refusal of an existing folder, and undoing a create there
(the folder left as it was: absent, or empty, its links never followed). The rest: test_operations_unit.py,
test_prefix_claim_unit.py, test_prefix_marker.py."""

import os

import pytest

from guardenv import World
from pyenvmod.errors import PyenvmodError


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    return World(tmp_path, monkeypatch)


def _refused(world, path) -> str:
    from pyenvmod.operations import external_prefix

    with pytest.raises(PyenvmodError) as info:
        external_prefix.check(world.layout, str(path))
    return info.value.message


def test_an_empty_folder_of_another_user_is_refused_word_for_word(world, tmp_path):
    folder = tmp_path / "theirs"
    folder.mkdir()
    os.chown(folder, 23456, 23456)
    assert _refused(world, folder) == (f"--prefix {folder} belongs to uid 23456, not to you: only a folder of yours, "
                                       "or one pyenvmod makes, may hold your environment; give a path that does not "
                                       "exist yet")


def test_an_empty_folder_others_may_write_is_refused_word_for_word(world, tmp_path):
    folder = tmp_path / "open"
    folder.mkdir()
    os.chmod(folder, 0o777)
    assert _refused(world, folder) == (f"--prefix {folder} is writable by anyone (mode 0777), so others could change "
                                       f"what pyenvmod does; make it private: chmod go-w {folder}")


def test_a_line_break_or_a_path_under_the_root_through_a_link_is_refused(world, tmp_path):
    assert _refused(world, f"{tmp_path}/a\nb").endswith(": a folder with ':' or a line break cannot be on PATH; "
                                                         "choose another")
    assert "line break" in _refused(world, f"{tmp_path}/a\rb")
    way_in = tmp_path / "way-in"
    way_in.symlink_to(world.layout.root)
    assert _refused(world, way_in / "x").startswith(f"--prefix {way_in / 'x'} is inside pyenvmod's root ")
    # a path beside the root whose name starts the same is not inside it
    from pyenvmod.operations import external_prefix

    beside = str(world.layout.root) + "-other"
    os.mkdir(beside)
    assert external_prefix.check(world.layout, beside + "/env") == world.layout.root.parent / (
        world.layout.root.name + "-other") / "env"


def test_a_home_relative_prefix_is_expanded(world, tmp_path, monkeypatch):
    from pyenvmod.operations import external_prefix

    monkeypatch.setenv("HOME", str(tmp_path))
    assert external_prefix.check(world.layout, "~/envs/../e") == tmp_path / "e"


def test_undoing_a_create_empties_the_folder_and_follows_no_link(world, tmp_path):
    from pyenvmod.operations import external_prefix

    prefix = tmp_path / "p"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "python").write_text("")
    (prefix / "pyvenv.cfg").write_text("")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    (prefix / "link").symlink_to(outside)
    external_prefix.empty(prefix)
    assert prefix.is_dir() and os.listdir(prefix) == []
    assert (outside / "keep").read_text() == "x"
    # a prefix that became a link: nothing behind it is touched
    os.rmdir(prefix)
    prefix.symlink_to(outside)
    external_prefix.empty(prefix)
    assert (outside / "keep").read_text() == "x" and prefix.is_symlink()
    external_prefix.empty(tmp_path / "never-made")  # absent: nothing to do


def test_a_path_with_any_other_character_is_accepted(world, tmp_path):
    from pyenvmod.operations import external_prefix

    assert external_prefix.check(world.layout, str(tmp_path / "My X-env_1.0")) == tmp_path / "My X-env_1.0"


def test_claiming_under_the_lock_refuses_what_is_no_longer_a_folder(world, tmp_path):
    from pyenvmod.operations import external_prefix

    path = tmp_path / "p"
    external_prefix.claim(path)
    assert path.is_dir() and path.stat().st_uid == os.getuid()
    external_prefix.claim(path)  # the user's own, private: accepted again
    os.rmdir(path)
    path.write_text("")  # made a file between the check and the lock
    with pytest.raises(PyenvmodError) as info:
        external_prefix.claim(path)
    assert info.value.message == f"--prefix {path} exists and is not a folder; give a new or empty folder"
