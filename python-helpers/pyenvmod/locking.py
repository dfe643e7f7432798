"""A per-name lock (flock) with a timeout and a message that names who holds it."""

import errno
import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path

from pyenvmod.errors import PyenvmodError


def _holder(fd: int) -> str:
    try:
        data = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        data = ""
    return data or "another pyenvmod process"


@contextmanager
def locked(path: Path, timeout: float, what: str):
    """Hold an exclusive lock on ``path`` for the block; wait at most ``timeout`` seconds.

    The file keeps the holder's description (pid and host) so a waiting process can
    say who holds it. Lock files are never deleted: that would race with waiters.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
                if time.monotonic() >= deadline:
                    raise PyenvmodError(
                        f"{what} is busy: {_holder(fd)} holds the lock {path}; "
                        "wait for it to finish and try again"
                    ) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {os.uname().nodename}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def is_held(path: Path) -> bool:
    """True while some process holds the lock (a create in progress, say)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
