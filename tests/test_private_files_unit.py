"""private_files.py and identity.py in-process (mutation scope of the trust code): templates and
configuration files are read only when nobody but their owner (and root) can change them, as ssh
treats its configuration; which owners and modes are accepted, word for word. Real files owned (as
root, with chown) by real system accounts and groups, and a real user made for the test."""

import grp
import os
import pwd
import stat
import subprocess

import pytest

from pyenvmod.trust import identity, private_files
from pyenvmod.errors import PyenvmodError

pytestmark = pytest.mark.skipif(os.getuid() != 0 and os.environ.get("CI") != "true",
                                reason="chown to other users needs root")

DAEMON = pwd.getpwnam("daemon")  # a system account that is not us: uid 1, group daemon (gid 1)
SYS = grp.getgrnam("sys")
NOBODY = 4242424  # a uid and gid without an entry


@pytest.fixture
def folder(tmp_path):
    """A private folder (0755, ours) to hold the files checked."""
    folder = tmp_path / "site"
    folder.mkdir()
    os.chmod(folder, 0o755)
    return folder


def made(path, mode=0o644, uid=-1, gid=-1):
    """An empty file with this mode and owner (-1: ours)."""
    path.write_text("")
    os.chown(path, uid, gid)
    os.chmod(path, mode)
    return path


def test_identity_is_the_real_uid():
    assert identity.user_name() == pwd.getpwuid(os.getuid()).pw_name


def test_identity_of_a_uid_without_a_passwd_entry():
    """In-process: only the real uid changes (the effective one stays root, so it is put back)."""
    os.setresuid(NOBODY, 0, 0)
    try:
        name = identity.user_name()
    finally:
        os.setresuid(0, 0, 0)
    assert name == str(NOBODY)
    assert identity.user_name() == "root"


def test_absent_and_private_files_pass(folder):
    private_files.check(folder / "missing.j2", "template")
    private_files.check(made(folder / "t.j2"), "template")
    private_files.check(folder, "template folder")


@pytest.mark.parametrize("mode,gid,what,writers,shown", [
    (0o646, -1, "template", "anyone", "0646"),
    (0o664, SYS.gr_gid, "configuration file", "its group", "0664"),  # a group others are in
    (0o2674, SYS.gr_gid, "configuration file", "its group", "2674"),  # the mode in full, setgid included
])
def test_a_file_others_may_write_is_refused_word_for_word(folder, mode, gid, what, writers, shown):
    path = made(folder / "f", mode, gid=gid)
    with pytest.raises(PyenvmodError) as err:
        private_files.check(path, what)
    assert str(err.value) == (f"the {what} {path} is writable by {writers} (mode {shown}), so others could change "
                              f"what pyenvmod does; make it private: chmod go-w {path}")


def test_a_folder_is_checked_like_a_file(folder):
    os.chmod(folder, 0o777)
    with pytest.raises(PyenvmodError, match=f"the template folder {folder} is writable by anyone"):
        private_files.check(folder, "template folder")


def test_group_writable_in_the_owners_private_group_is_fine(folder):
    os.chown(folder, DAEMON.pw_uid, -1)
    # group daemon: the account's own, nobody else in it
    path = made(folder / "t.j2", 0o664, uid=DAEMON.pw_uid, gid=DAEMON.pw_gid)
    assert grp.getgrgid(DAEMON.pw_gid).gr_name == "daemon" and not grp.getgrgid(DAEMON.pw_gid).gr_mem
    private_files.check(path, "template")
    for gid in (SYS.gr_gid, NOBODY):  # a group not named after the owner; a group without an entry
        os.chown(path, DAEMON.pw_uid, gid)
        with pytest.raises(PyenvmodError, match="writable by its group"):
            private_files.check(path, "template")
    assert private_files._private_group(NOBODY, DAEMON.pw_gid) is False  # an owner without an entry


@pytest.fixture
def solo():
    """A real user whose private group lists the user itself as its only member (as some sites do)."""
    import users

    name = users.PREFIX + "solo"
    with users.accounts_lock():
        subprocess.run(["userdel", name], capture_output=True)
        subprocess.run(["groupdel", name], capture_output=True)
        subprocess.run(["useradd", "--no-create-home", "--user-group", name], check=True, capture_output=True)
        subprocess.run(["gpasswd", "-a", name, name], check=True, capture_output=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        with users.accounts_lock():
            subprocess.run(["userdel", name], capture_output=True)
            subprocess.run(["groupdel", name], capture_output=True)


def test_a_private_group_listing_its_owner_is_still_private(solo):
    assert grp.getgrgid(solo.pw_gid).gr_mem == [solo.pw_name]
    assert private_files._private_group(solo.pw_uid, solo.pw_gid) is True


def test_a_private_group_with_another_member_is_shared(solo):
    subprocess.run(["gpasswd", "-a", DAEMON.pw_name, solo.pw_name], check=True, capture_output=True)
    assert sorted(grp.getgrgid(solo.pw_gid).gr_mem) == sorted([solo.pw_name, DAEMON.pw_name])
    assert private_files._private_group(solo.pw_uid, solo.pw_gid) is False


def test_owner_must_be_root_me_or_the_folders_owner(folder):
    path = made(folder / "t.j2", uid=DAEMON.pw_uid)
    with pytest.raises(PyenvmodError) as err:
        private_files.check(path, "template")
    assert str(err.value) == (f"the template {path} belongs to daemon, not to you, root or the owner of {folder}; "
                              "pyenvmod does not read templates others control: remove it, or have it owned by root")
    os.chown(path, NOBODY, -1)
    with pytest.raises(PyenvmodError, match=f"the template {path} belongs to uid {NOBODY}, not to you"):
        private_files.check(path, "template")
    os.chown(folder, DAEMON.pw_uid, -1)  # the site's software account owns the folder: its files are fine
    os.chown(path, DAEMON.pw_uid, -1)
    private_files.check(path, "template")
    os.chown(path, 0, -1)
    private_files.check(path, "template")


def test_the_folder_holding_it_must_be_private_unless_sticky(folder):
    path = made(folder / "t.j2")
    os.chmod(folder, 0o777)
    with pytest.raises(PyenvmodError) as err:
        private_files.check(path, "template")
    assert str(err.value) == (f"the folder {folder} holding the template {path} is writable by anyone (mode 0777), "
                              f"so others could change what pyenvmod does; make it private: chmod go-w {folder}")
    os.chown(folder, -1, SYS.gr_gid)
    os.chmod(folder, 0o775)
    with pytest.raises(PyenvmodError, match=f"the folder {folder} holding the template {path} is writable by its"):
        private_files.check(path, "template")
    os.chmod(folder, 0o1777)  # like /tmp: others cannot replace what is ours
    private_files.check(path, "template")


def test_a_folder_that_cannot_be_checked(folder):
    made(folder / "f")
    with pytest.raises(PyenvmodError) as err:
        private_files.check(folder / "f" / "x", "template")
    assert str(err.value) == f"cannot check the template {folder}/f/x: Not a directory"


def test_a_relative_path_checks_its_real_folder(folder, monkeypatch):
    made(folder / "t.j2")
    os.chmod(folder, 0o777)
    monkeypatch.chdir(folder)
    with pytest.raises(PyenvmodError, match=f"the folder {folder} holding"):
        private_files.check("t.j2", "template")
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o777


def test_module_owners_without_an_account_are_left_out_wherever_they_stand():
    """A site's module_owners: a name without an account is skipped, and the names after it still count."""
    assert identity.uids(["no-such-account-tr", "root", DAEMON.pw_name]) == (0, DAEMON.pw_uid)
    assert identity.uids(None) == () and identity.uids([]) == ()
