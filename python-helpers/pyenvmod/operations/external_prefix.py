"""Environments at a folder of the user's choosing (``create --prefix PATH``, like conda's ``-p``):
the environment lives there, its modulefiles, metadata and history in the tree as for any other.

The folder gets a marker naming the tree and the environment, written by its creator; ``delete``
removes such a folder only when the marker in it names this tree and this environment, so a
record pointing at some other folder (metadata in a group tree is anyone's word) deletes nothing.
"""

import os
from pathlib import Path

from pyenvmod.trust import files
from pyenvmod.errors import PyenvmodError
from pyenvmod.records.layout import Layout
from pyenvmod.trust.tree import PREFIX_MARKER, Tree

MARKER = PREFIX_MARKER


def check(layout: Layout, path: str) -> Path:
    """The folder ``--prefix PATH`` names, if an environment may be made there: absent or empty."""
    prefix = Path(os.path.normpath(os.path.abspath(os.path.expanduser(path))))
    if any(c in str(prefix) for c in ":\n\r"):
        raise PyenvmodError(f"--prefix {prefix}: a folder with ':' or a line break cannot be on PATH; choose another")
    if os.path.commonpath([os.path.realpath(layout.root), os.path.realpath(prefix)]) == os.path.realpath(layout.root):
        raise PyenvmodError(f"--prefix {prefix} is inside pyenvmod's root {layout.root}; give a name instead "
                            "of --prefix for environments there")
    if os.path.islink(prefix) or (os.path.lexists(prefix) and not prefix.is_dir()):
        raise PyenvmodError(f"--prefix {prefix} exists and is not a folder; give a new or empty folder")
    if prefix.is_dir() and any(prefix.iterdir()):
        if (prefix / "pyvenv.cfg").is_file() or (prefix / "conda-meta").is_dir():
            raise PyenvmodError(f"--prefix {prefix} is already an environment; give it modulefiles with "
                                f"'pyenvmod adopt {prefix}', or choose a new folder")
        raise PyenvmodError(f"--prefix {prefix} is not empty and not an environment; give a new or empty folder")
    if not prefix.parent.is_dir():
        raise PyenvmodError(f"--prefix {prefix}: its parent folder {prefix.parent} does not exist; create it first")
    if prefix.is_dir():
        _mine(prefix)
    return prefix


def _mine(prefix: Path) -> None:
    """An existing (empty) folder becomes a prefix only when it is the user's and others cannot write it."""
    from pyenvmod.trust import private_files

    st = os.lstat(prefix)
    if st.st_uid != os.getuid():
        raise PyenvmodError(f"--prefix {prefix} belongs to {private_files._user(st.st_uid)}, not to you: only a "
                            "folder of yours, or one pyenvmod makes, may hold your environment; give a path that "
                            "does not exist yet")
    private_files._writable_by_others(st, f"--prefix {prefix}", f"chmod go-w {prefix}")


def claim(prefix: Path) -> None:
    """Under the create's lock: make the folder (it is then the user's), or check again the one found."""
    from pyenvmod.trust import private_files

    private_files.claim_folder(prefix, "--prefix")


def is_external(layout: Layout, record) -> bool:
    return not record.adopted and record.prefix != str(layout.prefix(record.name))


def mark(layout: Layout, prefix: Path, name: str) -> None:
    files.write_atomic(prefix / MARKER, Tree(layout).prefix_marker(name))


def owned(layout: Layout, prefix: str, name: str) -> bool:
    """The folder carries this tree's marker for ``name``, written by the calling user."""
    return Tree(layout).owns_prefix(prefix, name)


def remove(layout: Layout, record) -> bool:
    """Remove an external environment's folder when it is provably this one's (through descriptors:
    nothing in it is followed)."""
    if not is_external(layout, record) or not owned(layout, record.prefix, record.name):
        return False
    files.remove_inside(Path(record.prefix), Path(record.prefix).parent)
    return True


def empty(prefix: Path) -> None:
    """Undo a create at ``prefix``: the folder as it was before, absent or empty."""
    from pyenvmod.trust.folders import Folder

    try:
        held = Folder.open_last(prefix)
    except (OSError, PyenvmodError):
        return  # missing, or a link: never followed
    with held:
        for name in held.names():
            held.remove(name)
