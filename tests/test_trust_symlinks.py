"""Hole 2, symlinks in the tree: a group member (alice) plants symlinks where the maintainer's (bob's)
pyenvmod opens lock files, creates folders and writes files. Nothing is followed: bob's files keep
their content, nothing is created through a dangling link, and the command says which link to remove."""

import os
import stat

import pytest

from conftest import assert_one_line_error
from users import group_env, people, snapshot, victim  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


def _link(user, target, link):
    result = user.run("sh", "-c", f"rm -rf '{link}' && ln -s '{target}' '{link}'")
    assert result.returncode == 0, result.stderr


def test_a_lock_file_symlink_is_never_truncated_through(people):
    base = group_env(people, "links-lock")
    notes = people.bob.home / "notes.txt"
    assert people.bob.run("sh", "-c", f"echo 'my thesis' > {notes}").returncode == 0
    lock = base / "locks" / "newenv.lock"
    _link(people.alice, notes, lock)  # a name nobody locked yet: alice may create it
    result = people.bob.pyenvmod("--group", base.parent, "create", "newenv")
    assert_one_line_error(result, str(lock), "symlink")
    assert notes.read_text() == "my thesis\n"
    assert not (base / "envs" / "newenv").exists()


def test_nothing_is_created_through_a_dangling_lock_link(people):
    base = group_env(people, "links-dangling")
    planted = people.bob.home / "planted-by-alice"
    lock = base / "locks" / "shared.lock"
    # bob's own lock file is protected by the sticky bit: alice cannot replace it ...
    assert base.joinpath("locks").stat().st_mode & stat.S_ISVTX
    assert people.alice.run("rm", "-f", lock).returncode != 0 and lock.exists() and not lock.is_symlink()
    # ... so she plants a dangling link for a name without a lock file yet
    lock = base / "locks" / "other.lock"
    _link(people.alice, planted, lock)
    assert_one_line_error(people.bob.pyenvmod("--group", base.parent, "create", "other"), str(lock), "symlink")
    assert not os.path.lexists(planted)


def test_a_fifo_as_lock_file_is_refused_without_hanging(people):
    base = group_env(people, "links-fifo")
    lock = base / "locks" / "piped.lock"
    assert people.alice.run("mkfifo", lock).returncode == 0
    result = people.bob.pyenvmod("--group", base.parent, "create", "piped", timeout=60)
    assert_one_line_error(result, str(lock), "not a regular file")


@pytest.mark.parametrize("folder", ["modules/pyenv/shared", "activate/shared"])
def test_a_symlinked_modulefile_folder_is_refused(people, folder):
    base = group_env(people, "links-" + folder.split("/")[0])
    if folder.startswith("activate"):
        config = people.bob.home / ".config" / "pyenvmod"
        assert people.bob.run("mkdir", "-p", config).returncode == 0
        assert people.bob.run("sh", "-c", f"echo 'formats: [lua, tcl, bash]' > {config}/config.yaml").returncode == 0
        assert people.bob.pyenvmod("--group", base.parent, "module", "shared").returncode == 0
    target = victim(people.bob)
    before = snapshot(target)
    _link(people.alice, target, base / folder)
    result = people.bob.pyenvmod("--group", base.parent, "module", "shared")
    assert_one_line_error(result, str(base / folder), "symlink")
    assert snapshot(target) == before


def test_a_symlinked_site_packages_is_never_written_through(people):
    base = group_env(people, "links-site")
    target = victim(people.bob)
    before = snapshot(target)
    site = base / "envs" / "shared" / "lib" / "python3.11" / "site-packages"
    _link(people.alice, target / "lib" / "python3.11" / "site-packages", site)
    result = people.bob.pyenvmod("--group", base.parent, "module", "shared")
    assert_one_line_error(result, str(site), "symlink")
    assert snapshot(target) == before


def test_a_symlinked_environment_folder_makes_the_record_refused(people):
    base = group_env(people, "links-env")
    target = victim(people.bob)
    before = snapshot(target)
    _link(people.alice, target, base / "envs" / "shared")
    assert_one_line_error(people.bob.pyenvmod("--group", base.parent, "module", "shared"), "prefix")
    result = people.bob.pyenvmod("--group", base.parent, "delete", "shared", "--yes")
    assert result.returncode == 0, result.stderr
    assert not os.path.lexists(base / "envs" / "shared")  # the link went, not what it points at
    assert snapshot(target) == before


@pytest.mark.parametrize("folder", ["meta", "locks", "envs"])
def test_a_symlinked_tree_folder_is_refused_before_anything_is_written(people, folder):
    base = group_env(people, "links-tree-" + folder)
    target = victim(people.bob)
    before = snapshot(target)
    moved = base / f"{folder}.moved"
    result = people.alice.run("sh", "-c", f"mv '{base / folder}' '{moved}' && ln -s '{target}' '{base / folder}'")
    assert result.returncode == 0, result.stderr
    result = people.bob.pyenvmod("--group", base.parent, "create", "another")
    assert_one_line_error(result, str(base / folder), "symlink")
    assert snapshot(target) == before


def test_a_symlinked_history_folder_stops_install_before_history_is_written(people):
    """The history is written last by install/update/remove/rollback: through a link it would land in
    bob's folder. In-process, as bob, so no package needs downloading."""
    base = group_env(people, "links-history-write")
    target = victim(people.bob)
    before = snapshot(target)
    _link(people.alice, target, base / "history" / "shared")
    code = ("import sys; from pathlib import Path; from pyenvmod.records import history; from pyenvmod.records.layout import Layout; "
            "from pyenvmod.errors import PyenvmodError\n"
            "try:\n    history.add(Layout(Path(sys.argv[1]), sys.argv[2]), 'shared', 'install', ['x'], {'x': '1'})\n"
            "except PyenvmodError as exc:\n    print(exc.message)\n")
    result = people.bob.python(code, base.parent, base.name)
    assert "symlink" in result.stdout and str(base / "history" / "shared") in result.stdout, result
    assert snapshot(target) == before
