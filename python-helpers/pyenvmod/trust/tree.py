"""The one place trust is decided: a tree (root + platform) hands out only checked paths.

In a group tree everything a member can write (metadata, history, lock files, folders,
symlinks) is untrusted input. So:

- every path comes from the layout (root + platform + a validated name), never from a record;
  a path a record names (its prefix, its base's, its kernels) is accepted only when it is
  the one the layout gives, checked after resolving symlinks;
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

from pyenvmod.records import metadata, names
from pyenvmod.trust import files, locking
from pyenvmod.errors import PyenvmodError
from pyenvmod.records.layout import Layout

HISTORY_MAX_BYTES = 4 << 20
PREFIX_MARKER = ".pyenvmod-prefix.json"  # in the folder of an environment made with 'create --prefix'


class Tree(namedtuple("Tree", "layout shared", defaults=(False,))):
    """``layout``: the tree's folders; ``shared``: a group tree (lock files group-writable)."""

    __slots__ = ()

    @classmethod
    def for_config(cls, config) -> "Tree":
        from pyenvmod.records import platform_tag

        return cls(Layout(config.root, platform_tag.current()), bool(config.group))

    @classmethod
    def of_prefix(cls, prefix: Path) -> "Tree":
        """The tree holding an environment folder ``ROOT/PLATFORM/envs/NAME`` (a group's, a site's)."""
        prefix = Path(os.path.normpath(os.path.abspath(prefix)))
        if prefix.parent.name != "envs":
            raise PyenvmodError(f"{prefix} is not an environment folder of a pyenvmod tree "
                                "(ROOT/PLATFORM/envs/NAME)")
        base = prefix.parent.parent
        names.validate(prefix.name)
        return cls(Layout(base.parent, names.validate_platform(base.name)))

    # -- paths: derived from the layout, for valid names only ------------------------------------
    @property
    def root(self) -> Path:
        return self.layout.root

    def prefix(self, name: str) -> Path:
        return self.layout.prefix(names.validate(name))

    def meta_file(self, name: str) -> Path:
        return self.layout.meta_file(names.validate(name))

    def history_dir(self, name: str) -> Path:
        return self.layout.history_dir(names.validate(name))

    def module_dir(self, name: str) -> Path:
        return self.layout.module_dir(names.validate(name))

    def activate_dir(self, name: str) -> Path:
        return self.layout.activate_dir(names.validate(name))

    def images_dir(self, name: str) -> Path:
        """What 'pyenvmod pack' writes for ``name``: its image, stamp and launchers (see staging/)."""
        from pyenvmod.staging import images_dir

        return images_dir(self.layout, names.validate(name))

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
        return locking.locked(self.layout.lock_file(names.validate(name)), timeout, f"environment {name!r}",
                              inside=self.root, shared=self.shared)

    # -- records ---------------------------------------------------------------------------------
    def record(self, name: str) -> metadata.EnvRecord:
        """The checked record of ``name`` (FileNotFoundError when it has none): its schema, and
        every path in it, as ``check_record`` says."""
        path = self.meta_file(name)
        record = metadata.read(path, inside=self.root)
        return self.check_record(record, path)

    def check_record(self, record: metadata.EnvRecord, source: Path) -> metadata.EnvRecord:
        """Paths a record names are the layout's, or refused naming ``source``:
        its prefix (adopted environments: anywhere, pyenvmod never writes there), its base's
        prefix and modules folder (``TREE/envs/NAME`` and ``TREE/modules`` of one tree), its
        kernels (``.../kernels/pyenv-NAME`` folders)."""
        fix = "repair or delete it"
        derived = self.layout.prefix(record.name)
        if record.adopted:
            if self.inside(record.prefix):
                raise PyenvmodError(f"metadata file {source}: an adopted environment's prefix {record.prefix} "
                                    f"lies inside the tree; {fix}")
        elif self._external(record):
            pass  # made with 'create --prefix': its folder's marker, written by this user, names it
        elif not self.same_place(record.prefix, derived):
            raise PyenvmodError(f"metadata file {source}: prefix {record.prefix} is not the folder of "
                                f"{record.name!r} in this tree ({derived}); {fix}")
        else:
            record.prefix = str(derived)  # from here on, the path the layout gives
        if record.platform != self.layout.platform:
            raise PyenvmodError(f"metadata file {source}: platform {record.platform!r} is not this tree's "
                                f"{self.layout.platform!r}; {fix}")
        if record.extends:
            base = Path(os.path.normpath(record.extends["prefix"]))
            ok = (os.path.isabs(record.extends["prefix"]) and base.name == record.extends["name"]
                  and base.parent.name == "envs"
                  and os.path.normpath(record.extends["modules_dir"]) == str(base.parent.parent / "modules")
                  and record.extends["module"].startswith(f"pyenv/{record.extends['name']}/"))
            if not ok:
                raise PyenvmodError(f"metadata file {source}: extends names {record.extends['prefix']} and "
                                    f"{record.extends['modules_dir']}, which are not an environment of a "
                                    f"pyenvmod tree and that tree's modules folder; {fix}")
        from pyenvmod.records.names import kernel_name

        for path in record.kernels:
            kernel = Path(path)
            if not kernel.is_absolute() or kernel.name != kernel_name(record.name) \
                    or kernel.parent.name != "kernels" or ".." in kernel.parts:
                raise PyenvmodError(f"metadata file {source}: kernel {path} is not a kernelspec folder of "
                                    f"{record.name!r} (.../kernels/{kernel_name(record.name)}); {fix}")
        return record

    def _external(self, record: metadata.EnvRecord) -> bool:
        """An environment made with ``create --prefix`` in a private tree: outside the tree, and its
        folder holds a marker naming this tree and environment, owned by the calling user."""
        return (not self.shared and os.path.isabs(record.prefix) and not self.inside(record.prefix)
                and self.owns_prefix(record.prefix, record.name))

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

    def write_anchor(self, record: metadata.EnvRecord) -> Path:
        """The folder writes into an environment are anchored at (no symlinked folder below it is
        followed): the tree, or the environment's own folder when it was made with --prefix."""
        return Path(record.prefix) if self._external(record) else self.root

    def write_record(self, record: metadata.EnvRecord) -> None:
        metadata.write(self.meta_file(record.name), record, inside=self.root)

    def names(self) -> list[str]:
        return self.layout.names()
