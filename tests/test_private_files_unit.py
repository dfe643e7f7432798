"""private_files.py in-process: templates and configuration files are read only when nobody but their
owner (and root) can change them, as ssh treats its configuration. Real files, owners and modes (the
suite runs as root, so it can hand files to other owners and groups)."""

import os

import pytest

from pyenvmod import private_files
from pyenvmod.errors import PyenvmodError

STAFF = 50  # a group named after nobody: group write is others' write
DAEMON = 1  # a user that is not the caller, root, or the folder's owner


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "site"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    return folder


def made(folder, mode=0o644, uid=None, gid=None):
    path = folder / "config.yaml"
    path.write_text("x: 1\n")
    os.chmod(path, mode)
    os.chown(path, -1 if uid is None else uid, -1 if gid is None else gid)
    return path


def test_an_absent_file_is_fine(folder):
    private_files.check(folder / "missing.yaml", "configuration file")


def test_a_private_file_in_a_private_folder_is_accepted(folder):
    private_files.check(made(folder), "configuration file")


def test_a_file_anyone_may_write_is_refused_with_its_mode_and_the_fix(folder):
    path = made(folder, 0o666)
    with pytest.raises(PyenvmodError) as caught:
        private_files.check(path, "configuration file")
    assert caught.value.message == (f"the configuration file {path} is writable by anyone (mode 0666), so others "
                                    f"could change what pyenvmod does; make it private: chmod go-w {path}")


def test_group_write_counts_unless_the_group_is_the_owners_own(folder):
    path = made(folder, 0o664, gid=STAFF)
    with pytest.raises(PyenvmodError, match=r"is writable by its group \(mode 0664\)"):
        private_files.check(path, "template")
    os.chown(path, -1, 0)  # root's own group, with nobody else in it
    private_files.check(path, "template")


def test_a_file_of_another_user_is_refused_naming_them(folder):
    path = made(folder, uid=DAEMON)
    with pytest.raises(PyenvmodError) as caught:
        private_files.check(path, "template")
    assert f"the template {path} belongs to daemon, not to you, root or the owner of {folder}" in caught.value.message
    assert caught.value.message.endswith("pyenvmod does not read templates others control: remove it, or have it "
                                         "owned by root")
    os.chown(path, 4242, -1)
    with pytest.raises(PyenvmodError, match="belongs to uid 4242"):
        private_files.check(path, "template")


def test_a_file_of_the_folders_owner_is_accepted(folder):
    os.chown(folder, DAEMON, -1)  # a site's software account owns the folder and what is in it
    private_files.check(made(folder, uid=DAEMON), "template")


def test_the_folder_holding_it_must_be_private_unless_sticky(folder):
    path = made(folder)
    os.chmod(folder, 0o777)
    with pytest.raises(PyenvmodError) as caught:
        private_files.check(path, "configuration file")
    assert (f"the folder {folder} holding the configuration file {path} is writable by anyone (mode 0777)"
            in caught.value.message and caught.value.message.endswith(f"chmod go-w {folder}"))
    os.chmod(folder, 0o1777)  # like /tmp: nobody may replace another's file
    private_files.check(path, "configuration file")
    os.chmod(folder, 0o775)
    os.chown(folder, -1, STAFF)
    with pytest.raises(PyenvmodError, match="writable by its group"):
        private_files.check(path, "configuration file")


def test_a_path_that_cannot_be_checked_says_why(folder):
    path = made(folder)
    with pytest.raises(PyenvmodError, match=r"cannot check the template .*config.yaml/x: Not a directory"):
        private_files.check(path / "x", "template")


def test_a_folder_is_checked_like_a_file(folder):
    os.chmod(folder, 0o777)
    with pytest.raises(PyenvmodError, match=f"the template folder {folder} is writable by anyone"):
        private_files.check(folder, "template folder")


def test_a_group_nobody_knows_is_no_private_group(folder):
    path = made(folder, 0o664, uid=4242, gid=4243)  # neither has a name: group write is others' write
    with pytest.raises(PyenvmodError, match="is writable by its group"):
        private_files.check(path, "template")
