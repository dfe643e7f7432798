"""Writing and removing files safely: atomic replace, umask-following modes, no symlink escapes."""

import os
import shutil
import tempfile
from pathlib import Path

from pyenvmod.errors import PyenvmodError


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes 0600; follow the umask like any other file, never world-writable.
        os.chmod(tmp, 0o666 & ~umask() & ~0o002)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def world_writable(top):
    """Yield (path, mode) of everything under ``top`` that others may write; symlinks and
    sticky folders (like /tmp) are not counted."""
    import stat

    for folder, dirs, names in os.walk(top):
        for name in [*dirs, *names]:
            path = os.path.join(folder, name)
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                continue
            if mode & stat.S_IWOTH and not stat.S_ISLNK(mode) and not (stat.S_ISDIR(mode) and mode & stat.S_ISVTX):
                yield path, mode


def drop_world_write(path, mode) -> None:
    import stat

    os.chmod(path, stat.S_IMODE(mode) & ~stat.S_IWOTH)


def no_world_write(top) -> int:
    """Take write permission for others off everything under ``top`` (helpers such as uv
    leave world-writable lock files). Returns how many were changed."""
    found = list(world_writable(top))
    for path, mode in found:
        drop_world_write(path, mode)
    return len(found)


def share_with_group(top, gid: int) -> None:
    """For a group tree: everything under ``top`` we own belongs to the tree's group, which gets the
    owner's permissions (read, write, search); others never get write. Symlinks are left alone."""
    import stat

    for folder, dirs, names in os.walk(top):
        for name in [folder, *(os.path.join(folder, n) for n in [*dirs, *names])]:
            try:
                st = os.lstat(name)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode) or st.st_uid != os.getuid():
                continue
            if st.st_gid != gid:
                os.chown(name, -1, gid)
            owner = (st.st_mode & 0o700) >> 3
            os.chmod(name, (stat.S_IMODE(st.st_mode) | owner) & ~0o002)


def remove_inside(path: Path, root: Path) -> bool:
    """Remove a file or folder tree at ``path`` only if it lies inside ``root``.

    A symlink is removed as a link, never followed; a path that resolves outside
    the root is refused. Returns whether anything was removed.
    """
    if not os.path.lexists(path):
        return False
    real_root = os.path.realpath(root)
    parent = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    if os.path.commonpath([real_root, parent]) != real_root:
        raise PyenvmodError(f"refusing to remove {path}: it is outside the root {root}")
    if os.path.islink(path) or not os.path.isdir(path):
        os.unlink(path)
    else:
        shutil.rmtree(path)  # does not follow symlinks inside the tree
    return True


def exchange(a: Path, b: Path) -> None:
    """Swap two folders: atomically with Linux renameat2(RENAME_EXCHANGE) where the filesystem
    supports it, else with two renames (a brief moment where ``a`` is missing)."""
    import ctypes
    import errno

    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is not None:
        at_fdcwd, rename_exchange = -100, 2
        if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(err, os.strerror(err), str(a))
    parked = a.with_name(a.name + ".exchange")
    os.rename(a, parked)
    os.rename(b, a)
    os.rename(parked, b)


def replace_in_text_files(folder: Path, old: str, new: str) -> int:
    """Replace ``old`` by ``new`` in the text files directly in ``folder`` (scripts' #! lines,
    activation scripts). Returns how many files changed."""
    changed = 0
    old_b, new_b = os.fsencode(old), os.fsencode(new)
    for path in folder.iterdir():
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data or old_b not in data:
            continue
        mode = path.stat().st_mode
        path.write_bytes(data.replace(old_b, new_b))
        os.chmod(path, mode)
        changed += 1
    return changed
