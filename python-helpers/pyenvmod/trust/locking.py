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


def _open(path: Path, inside, shared: bool) -> tuple[int, bool]:
    """Open (or create) the lock file without following a symlink, dangling or not; only a
    regular file will do. Returns (descriptor, writable)."""
    import stat

    from pyenvmod.trust import files

    dir_fd = files.open_dir(inside, path.parent) if inside is not None else \
        os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    flags = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        try:
            fd, writable = os.open(path.name, os.O_RDWR | os.O_CREAT | flags, 0o664 if shared else 0o644,
                                   dir_fd=dir_fd), True
        except PermissionError:
            # another maintainer's lock file we may not write: flock works on a read-only descriptor
            fd, writable = os.open(path.name, os.O_RDONLY | flags, dir_fd=dir_fd), False
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PyenvmodError(f"the lock file {path} is a symlink: pyenvmod never follows links in its "
                                "tree; remove it") from None
        raise
    finally:
        os.close(dir_fd)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise PyenvmodError(f"the lock file {path} is not a regular file; remove it")
    if st.st_uid == os.getuid():
        # group trees: every maintainer must be able to lock; nobody else ever writes
        wanted = (0o664 if shared else 0o644) & ~0o002
        if stat.S_IMODE(st.st_mode) != wanted:
            os.fchmod(fd, wanted)
    # a hard link to another file is never written (only locked)
    return fd, writable and st.st_nlink == 1


@contextmanager
def locked(path: Path, timeout: float, what: str, inside=None, shared: bool = False):
    """Hold an exclusive lock on ``path`` for the block; wait at most ``timeout`` seconds.

    The file keeps the holder's description (pid and host) so a waiting process can
    say who holds it. Lock files are never deleted: that would race with waiters.
    ``inside``: the tree the lock file belongs to (no folder on the way may be a symlink);
    ``shared``: a group tree, whose lock files are group-writable.
    """
    fd, writable = _open(Path(path), inside, shared)
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
        if writable:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {os.uname().nodename}\n".encode(), 0)
        try:
            yield
        finally:
            if writable:
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def is_held(path: Path) -> bool:
    """True while some process holds the lock (a create in progress, say)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
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
