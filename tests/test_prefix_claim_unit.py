"""Hole 8 (issue 22) in-process: 'create --prefix' takes an existing empty folder only when it is the
user's and nobody else may write it; a folder pyenvmod makes itself is always the user's."""

import os

import pytest

from pyenvmod.trust import private_files
from pyenvmod.errors import PyenvmodError
from pyenvmod.operations import external_prefix

from test_trust_cache_locks_unit import ME, OTHER, as_me  # noqa: F401 (fixture)


def _folder(tmp_path, owner=ME, mode=0o755):
    folder = tmp_path / "env"
    folder.mkdir()
    os.chown(folder, owner, owner)
    folder.chmod(mode)
    return folder


def test_a_missing_folder_is_made_and_is_the_users(tmp_path):
    private_files.claim_folder(tmp_path / "new", "--prefix")
    assert (tmp_path / "new").is_dir() and (tmp_path / "new").stat().st_uid == os.getuid()


def test_the_users_private_empty_folder_is_accepted(as_me, tmp_path):
    folder = _folder(tmp_path)
    private_files.claim_folder(folder, "--prefix")
    external_prefix._mine(folder)


@pytest.mark.parametrize("owner, mode, fragment", [
    (OTHER, 0o755, "belongs to uid 23456, not to you"),
    (OTHER, 0o2775, "belongs to uid 23456, not to you"),
    (ME, 0o2775, "writable by its group"),
    (ME, 0o757, "writable by anyone"),
])
def test_another_users_or_a_shared_folder_is_refused_in_one_line(as_me, tmp_path, owner, mode, fragment):
    folder = _folder(tmp_path, owner, mode)
    for check in (lambda: private_files.claim_folder(folder, "--prefix"), lambda: external_prefix._mine(folder)):
        with pytest.raises(PyenvmodError) as caught:
            check()
        assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_a_symlink_or_a_file_is_not_claimed(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path)
    for path in (tmp_path / "file", tmp_path / "link"):
        with pytest.raises(PyenvmodError, match="is not a folder"):
            private_files.claim_folder(path, "--prefix")


def test_a_made_folder_is_0755_whatever_the_umask(tmp_path):
    """The folder of an environment others may use: readable by all, writable by the user only."""
    old = os.umask(0)
    try:
        private_files.claim_folder(tmp_path / "new", "--prefix")
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "new").st_mode & 0o7777 == 0o755


def test_each_refusal_word_for_word(as_me, tmp_path):
    folder = _folder(tmp_path, OTHER)
    with pytest.raises(PyenvmodError) as caught:
        private_files.claim_folder(folder, "--prefix")
    assert str(caught.value) == (f"--prefix {folder} belongs to uid {OTHER}, not to you: only a folder of yours, or "
                                 "one pyenvmod makes, may hold your environment; give a path that does not exist yet")
    os.chown(folder, ME, ME)
    folder.chmod(0o2775)
    with pytest.raises(PyenvmodError) as caught:
        private_files.claim_folder(folder, "--prefix")
    assert str(caught.value) == (f"--prefix {folder} is writable by its group (mode 2775), so others could change "
                                 f"what pyenvmod does; make it private: chmod go-w {folder}")
    (tmp_path / "file").write_text("")
    with pytest.raises(PyenvmodError) as caught:
        private_files.claim_folder(tmp_path / "file", "--prefix")
    assert str(caught.value) == f"--prefix {tmp_path}/file exists and is not a folder; give a new or empty folder"
