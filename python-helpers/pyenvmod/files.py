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
