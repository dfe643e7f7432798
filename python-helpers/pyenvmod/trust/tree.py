"""The one place trust is decided: a tree (root + platform) hands out only checked paths.

In a group tree everything a member can write (metadata, history, lock files, folders,
symlinks) is untrusted input. So:

- every path comes from the layout (root + platform + a validated name), never from a record;
  a path a record names (its prefix, its base's, its kernels) is accepted only when it is
  the one the layout gives, checked after resolving symlinks (``records.registry``, with
  ``inside``, ``same_place`` and ``owns_prefix`` here);
- files are read and written through descriptors reached from the root without following
  any symlink below it (``files.open_dir``): regular files only, with a size cap;
- folders are created refusing symlinked ones, never world-writable whatever the umask;
- lock files are opened with O_NOFOLLOW, group-writable in a group tree.

Operations use a ``Tree`` instead of calling ``os``/``open`` on paths they computed or read.
"""

import json
import os
from collections import namedtuple
from pathlib import Path

from pyenvmod.trust import files, locking

HISTORY_MAX_BYTES = 4 << 20
PREFIX_MARKER = ".pyenvmod-prefix.json"  # in the folder of an environment made with 'create --prefix'


class Tree(namedtuple("Tree", "layout shared", defaults=(False,))):
    """``layout``: the tree's folders (a ``records.layout.Layout``, which also holds the rule for
    names); ``shared``: a group tree (lock files group-writable). The tree's records, checked, are
    ``records.registry``'s; the tree of a configuration is ``operations.common.tree_for``'s."""

    __slots__ = ()

    # -- paths: derived from the layout, for valid names only ------------------------------------
    @property
    def root(self) -> Path:
        return self.layout.root

    def prefix(self, name: str) -> Path:
        return self.layout.prefix(self.layout.valid(name))

    def meta_file(self, name: str) -> Path:
        return self.layout.meta_file(self.layout.valid(name))

    def history_dir(self, name: str) -> Path:
        return self.layout.history_dir(self.layout.valid(name))

    def module_dir(self, name: str) -> Path:
        return self.layout.module_dir(self.layout.valid(name))

    def activate_dir(self, name: str) -> Path:
        return self.layout.activate_dir(self.layout.valid(name))

    def inside(self, path) -> bool:
        """True when ``path``, symlinks resolved, lies strictly inside the tree's platform folder."""
        base = os.path.realpath(self.layout.base)
        real = os.path.realpath(path)
        return real != base and os.path.commonpath([base, real]) == base

    def same_place(self, given: str, derived: Path) -> bool:
        """``given`` (from a record) names exactly the folder the layout derives, after resolving
        symlinks, and that folder is not itself a symlink."""
        return (not os.path.islink(derived) and self.inside(derived)
                and os.path.realpath(given) == os.path.realpath(derived))

    # -- folders and files, never through a symlink below the root -------------------------------
    def ensure(self) -> None:
        self.layout.ensure(shared=self.shared)

    def mkdir(self, path) -> Path:
        return files.make_dirs(self.root, path)

    def check_dir(self, path) -> None:
        """Refuse when a folder between the root and ``path`` (or ``path``) is a symlink."""
        try:
            os.close(files.open_dir(self.root, path))
        except FileNotFoundError:
            pass

    def write(self, path, text: str, mode: int | None = None) -> None:
        files.write_atomic(path, text, inside=self.root, mode=mode)

    def read(self, path, limit: int) -> bytes:
        return files.read_bytes(path, limit, inside=self.root)

    def remove(self, path, left=None) -> bool:
        """Remove ``path`` below the root (``left``: collect what cannot be removed, see files)."""
        return files.remove_inside(path, self.root, left)

    def lock(self, name: str, timeout: float):
        return locking.locked(self.layout.lock_file(self.layout.valid(name)), timeout, f"environment {name!r}",
                              inside=self.root, shared=self.shared)

    # -- environments made with 'create --prefix': the marker in their folder --------------------
    def prefix_marker(self, name: str) -> str:
        """The text of the marker (``PREFIX_MARKER``) in the folder of ``name`` made with --prefix."""
        return json.dumps({"tree": str(self.layout.base), "name": name}) + "\n"

    def owns_prefix(self, prefix: str, name: str) -> bool:
        """The folder carries this tree's marker for ``name``, written by the calling user."""
        try:
            fd = os.open(os.path.join(prefix, PREFIX_MARKER), os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return False
        with os.fdopen(fd, encoding="utf-8") as fh:
            if os.fstat(fh.fileno()).st_uid != os.getuid():
                return False
            try:
                data = json.load(fh)
            except ValueError:
                return False
        return isinstance(data, dict) and data.get("tree") == str(self.layout.base) and data.get("name") == name \
            and not os.path.islink(prefix)

    def names(self) -> list[str]:
        return self.layout.names()
