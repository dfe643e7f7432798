"""Which processes can still have a deleted module loaded (tombstones.possibly_loaded), on real processes.

The test starts its processes as a user of its own (a fresh uid) and checks with this process taken
for that user (os.getuid), so that only those processes are "this user's": the shells of everyone
else on the machine (root's included) stay out of sight, as another user's shells are for a real
user. In-process, so that mutmut credits these tests."""

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from modsys import require
from pyenvmod.modules import tombstones

UID = 3_900_000 + os.getpid() % 50_000  # no user of this machine, one per test process


@pytest.fixture(autouse=True)
def root():
    require(os.geteuid() == 0, "root (processes are started as another user)", "run the tests as root, as CI does")


def as_user(check):
    """check() with this process taken for the user UID (os.getuid): only the processes this test
    starts as UID are "this user's"; root reads their /proc files as their owner would."""
    real = os.getuid
    os.getuid = lambda: UID
    try:
        return check()
    finally:
        os.getuid = real


@pytest.fixture
def public(tmp_path):
    """A folder the user UID can reach (pytest's own are private to root)."""
    folder = tempfile.mkdtemp(prefix="pyenvmod-tomb-")
    os.chmod(folder, 0o755)
    yield Path(folder)
    shutil.rmtree(folder)


@pytest.fixture
def started():
    """start(argv, env=None, user=UID): a process left running until the test ends."""
    children = []

    def start(argv, env=None, user=UID):
        child = subprocess.Popen(argv, env=env if env is not None else {"PATH": "/usr/bin:/bin"}, user=user,
                                 group=user if user is not None else None, cwd="/")
        children.append(child)
        for _ in range(100):  # until it has run its program (its name is the program's)
            try:
                with open(f"/proc/{child.pid}/stat", "rb") as fh:
                    if b"(" + os.path.basename(os.fsencode(argv[0]))[:15] + b")" in fh.read():
                        break
            except OSError:
                pass
            time.sleep(0.02)
        return child

    yield start
    for child in children:
        child.kill()
        child.wait()


def test_a_process_of_the_user_with_the_module_in_its_environment_counts(tmp_path, started):
    path = str(tmp_path / "py3.12.lua")
    assert not as_user(lambda: tombstones.possibly_loaded([path], 0.0, {}))
    started(["sleep", "60"], env={"_LMFILES_": "/other.lua", "OTHER": f"_LMFILES_={path}"})
    assert not as_user(lambda: tombstones.possibly_loaded([path], 0.0, {}))
    started(["sleep", "60"], env={b"_LMFILES_": b"/caf\xe9.lua:" + os.fsencode(path)})  # not UTF-8: still read
    assert as_user(lambda: tombstones.possibly_loaded([path], 0.0, {}))


def test_another_users_process_does_not_count_nor_end_the_search(tmp_path, started):
    path = str(tmp_path / "py3.12.lua")
    started(["sleep", "60"], env={"_LMFILES_": path}, user=UID + 1)  # another user's, before ours
    assert not as_user(lambda: tombstones.possibly_loaded([path], 0.0, {}))
    started(["sleep", "60"], env={"_LMFILES_": path})
    assert as_user(lambda: tombstones.possibly_loaded([path], 0.0, {}))


def test_a_process_whose_name_is_not_utf8_is_still_read(tmp_path, public, started):
    path = str(tmp_path / "py3.12.lua")
    odd = os.fsencode(public) + b"/sl\xffp"
    os.symlink("/bin/sleep", odd)
    started([odd, b"60"], env={"_LMFILES_": path})
    assert as_user(lambda: tombstones.possibly_loaded([path], 0.0, {}))


def test_a_shell_started_before_the_tombstone_counts_and_one_started_after_does_not(tmp_path, started):
    path = str(tmp_path / "py3.12.lua")
    started(["sh", "-c", "sleep 60; :"])  # a shell without the module in its environment
    now = time.time()
    assert as_user(lambda: tombstones.possibly_loaded([path], now + 5, {}))
    assert not as_user(lambda: tombstones.possibly_loaded([path], now - 60, {}))
    # btime has whole seconds: a shell started less than a second after the tombstone still counts
    assert as_user(lambda: tombstones.possibly_loaded([path], now - 0.5, {}))


def test_a_login_shell_counts_as_a_shell(tmp_path, public, started):
    login = public / "-sh"
    login.symlink_to("/bin/sh")
    started([str(login), "-c", "sleep 60; :"])
    assert as_user(lambda: tombstones.possibly_loaded([str(tmp_path / "py3.12.lua")], time.time() + 5, {}))


def test_the_callers_own_environment_is_read_when_none_is_given(tmp_path, monkeypatch):
    path = str(tmp_path / "py3.12.lua")
    monkeypatch.setenv("_LMFILES_", f"{tmp_path}/./py3.12.lua")
    assert tombstones.possibly_loaded([path], 0.0)
    monkeypatch.setenv("_LMFILES_", "/other.lua")
    assert not as_user(lambda: tombstones.possibly_loaded([path], 0.0))


def test_a_modulefile_loaded_by_its_real_path_counts_when_the_tree_is_reached_through_a_link(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    (real / "py3.12.lua").write_text("")
    assert tombstones.possibly_loaded([str(tmp_path / "link" / "py3.12.lua")], 0.0,
                                      {"_LMFILES_": f"::{real}/py3.12.lua"})
    assert tombstones.possibly_loaded([str(tmp_path / "link" / "py3.12.lua")], 0.0,
                                      {"_LMFILES_": f"{tmp_path}/link/py3.12.lua"})



@pytest.mark.parametrize("name", ["x(sh", "sh)x", "(sh)", "Xsh", "sh-"])
def test_a_program_whose_name_only_holds_a_shells_name_is_no_shell(tmp_path, public, started, name):
    odd = public / name
    odd.symlink_to("/bin/sh")
    started([str(odd), "-c", "sleep 60; :"])
    assert not as_user(lambda: tombstones.possibly_loaded([str(tmp_path / "py3.12.lua")], time.time() + 5, {}))
