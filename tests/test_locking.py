"""The per-name lock, in-process: a waiter gets the lock once the holder lets go, a timeout
names the holder, the file says who holds it, and is_held sees a holder in any process."""

import os
import subprocess
import sys
import threading
import time

import pytest

from pyenvmod.trust import locking
from pyenvmod.errors import PyenvmodError

ME = f"pid {os.getpid()} on {os.uname().nodename}\n"


def hold_in_thread(path, seconds):
    """Take the lock in a thread (its own open file: flock conflicts within one process too)."""
    taken, done = threading.Event(), threading.Event()

    def holder():
        with locking.locked(path, 5, "holder"):
            taken.set()
            time.sleep(seconds)
        done.set()

    thread = threading.Thread(target=holder)
    thread.start()
    assert taken.wait(10)
    return thread, done


def test_the_lock_file_names_the_holder_while_held_and_is_kept_empty_after(tmp_path):
    path = tmp_path / "x.lock"
    with locking.locked(path, 1, "environment 'x'"):
        assert path.read_text() == ME
        assert locking.is_held(path)
    assert path.exists() and path.read_text() == ""
    assert not locking.is_held(path)


def test_a_waiter_gets_the_lock_when_the_holder_releases(tmp_path):
    path = tmp_path / "x.lock"
    thread, done = hold_in_thread(path, 1.0)
    start = time.monotonic()
    with locking.locked(path, 30, "environment 'x'"):
        waited = time.monotonic() - start
        assert done.is_set(), "the waiter got in while the holder still held the lock"
        assert path.read_text() == ME
    thread.join()
    assert 0.5 < waited < 25


def test_a_waiter_gives_up_after_the_timeout_naming_the_holder(tmp_path):
    path = tmp_path / "x.lock"
    thread, _ = hold_in_thread(path, 3.0)
    start = time.monotonic()
    with pytest.raises(PyenvmodError) as exc:
        with locking.locked(path, 0.5, "environment 'x'"):
            raise AssertionError("got a held lock")
    waited = time.monotonic() - start
    thread.join()
    assert exc.value.message == (f"environment 'x' is busy: {ME.strip()} holds the lock {path}; "
                                 "wait for it to finish and try again")
    assert 0.4 < waited < 2.9


def test_a_zero_timeout_tries_once(tmp_path):
    path = tmp_path / "x.lock"
    thread, _ = hold_in_thread(path, 1.0)
    start = time.monotonic()
    with pytest.raises(PyenvmodError):
        with locking.locked(path, 0, "environment 'x'"):
            pass
    assert time.monotonic() - start < 0.5
    thread.join()
    with locking.locked(path, 0, "environment 'x'"):
        pass


def test_a_holder_that_wrote_nothing_is_another_pyenvmod_process(tmp_path):
    path = tmp_path / "x.lock"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(path)!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "time.sleep(30)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        assert locking.is_held(path)
        with pytest.raises(PyenvmodError) as exc:
            with locking.locked(path, 0.2, "environment 'x'"):
                pass
        assert exc.value.message.startswith("environment 'x' is busy: another pyenvmod process holds the lock")
    finally:
        holder.kill()
        holder.wait()
    assert not locking.is_held(path)
    with locking.locked(path, 1, "environment 'x'"):
        pass


def test_the_lock_is_released_when_the_block_raises(tmp_path):
    path = tmp_path / "x.lock"
    with pytest.raises(RuntimeError):
        with locking.locked(path, 1, "environment 'x'"):
            raise RuntimeError("boom")
    assert not locking.is_held(path) and path.read_text() == ""


def test_is_held_of_a_missing_file_is_false(tmp_path):
    assert locking.is_held(tmp_path / "none.lock") is False


def test_a_lock_folder_that_cannot_be_opened_is_an_os_error(tmp_path):
    with pytest.raises(OSError):
        with locking.locked(tmp_path / "missing" / "x.lock", 1, "environment 'x'"):
            pass
