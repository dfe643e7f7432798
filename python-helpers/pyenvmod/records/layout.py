"""Where things live under the root: one folder per platform, holding envs, modules and metadata.

    ROOT/<arch>-<os>/envs/NAME/                 the environment (its prefix)
    ROOT/<arch>-<os>/modules/pyenv/NAME/TAG.lua  Lmod modulefile
    ROOT/<arch>-<os>/modules/pyenv/NAME/TAG      Tcl modulefile (Environment Modules)
    ROOT/<arch>-<os>/meta/NAME.json             metadata: written last, it registers the env
    ROOT/<arch>-<os>/locks/NAME.lock            per-name lock

The module name is ``pyenv/NAME/TAG``: NAME is part of the module's name (Lmod's
one-name rule would otherwise swap one environment for another), TAG its version.
"""

import os
from collections import namedtuple
from pathlib import Path

from pyenvmod.errors import PyenvmodError

MODULE_FAMILY = "pyenv"


class Layout(namedtuple("Layout", "root platform")):
    """The folders of one platform under ``root`` (a Path). Immutable; a named tuple, not a
    dataclass: importing dataclasses took a tenth of a command's start-up (issue 14)."""

    __slots__ = ()

    @property
    def base(self) -> Path:
        return self.root / self.platform

    @property
    def envs_dir(self) -> Path:
        return self.base / "envs"

    @property
    def modules_dir(self) -> Path:
        """The directory users add with ``module use``."""
        return self.base / "modules"

    @property
    def meta_dir(self) -> Path:
        return self.base / "meta"

    @property
    def locks_dir(self) -> Path:
        return self.base / "locks"

    def prefix(self, name: str) -> Path:
        return self.envs_dir / name

    def meta_file(self, name: str) -> Path:
        return self.meta_dir / f"{name}.json"

    def lock_file(self, name: str) -> Path:
        return self.locks_dir / f"{name}.lock"

    def activate_dir(self, name: str) -> Path:
        """Activation scripts (bash, csh, fish) for shells without a module system."""
        return self.base / "activate" / name

    def history_dir(self, name: str) -> Path:
        return self.base / "history" / name

    def module_dir(self, name: str) -> Path:
        return self.modules_dir / MODULE_FAMILY / name

    @staticmethod
    def valid(name: str) -> str:
        """``name`` when it is a valid environment name, else the one-line refusal (``names``): the
        rule ``trust.tree.Tree`` applies before it hands out a path."""
        from pyenvmod.records.names import validate

        return validate(name)

    @staticmethod
    def module_tag(python_version: str) -> str:
        major_minor = ".".join(python_version.split(".")[:2])
        return f"py{major_minor}"

    @staticmethod
    def module_name(name: str, tag: str) -> str:
        return f"{MODULE_FAMILY}/{name}/{tag}"

    def names(self):
        """Names with metadata or an environment folder (a leftover shows up too)."""
        found = set()
        if self.meta_dir.is_dir():
            found.update(p.name[: -len(".json")] for p in self.meta_dir.glob("*.json"))
        if self.envs_dir.is_dir():
            found.update(p.name for p in self.envs_dir.iterdir() if not p.name.startswith("."))
        return sorted(found)

    def ensure(self, shared: bool = False) -> None:
        """Create the folders, or say clearly why the root cannot be used. ``shared``: a group
        tree, whose folders are setgid (new files belong to the tree's group) and group-writable.
        Whatever the umask, nothing is world-writable; the folders below the root must not be
        symlinks; ``locks/`` is sticky (nobody removes or swaps another's lock file)."""
        import stat

        from pyenvmod.trust import files
        from pyenvmod.trust.folders import Folder

        for path in (self.root, self.base, self.envs_dir, self.modules_dir, self.meta_dir, self.locks_dir):
            try:
                if path != self.root and os.path.islink(path):
                    raise PyenvmodError(files.refusal(path, self.root))
                if path == self.root:
                    files.make_root(path)  # the configured root: trusted
                # below it, each folder made and changed through its descriptor, never through a link
                with Folder.open(self.root, path, create_mode=0o777) as held:
                    st = os.fstat(held.fd)
                    if st.st_uid == os.getuid():
                        mode = stat.S_IMODE(st.st_mode)
                        if shared:
                            # the tree's group owns everything in it; maintainers write, nobody else does
                            if st.st_gid != self.root.stat().st_gid:
                                held.fchown_self(self.root.stat().st_gid)
                            mode |= 0o2070
                        if path == self.locks_dir:
                            mode |= stat.S_ISVTX
                        if mode & ~0o002 != stat.S_IMODE(st.st_mode):
                            held.fchmod_self(mode & ~0o002)
            except OSError as exc:
                raise PyenvmodError(
                    f"cannot create {path}: {exc.strerror}; set PYENVMOD_ROOT or 'root' in "
                    "the configuration to a writable directory"
                ) from None
        if not os.access(self.base, os.W_OK | os.X_OK):
            raise PyenvmodError(
                f"the root {self.base} is not writable; set PYENVMOD_ROOT or 'root' in the "
                "configuration to a writable directory"
            )

    def contains(self, path: Path) -> bool:
        """True when ``path`` is inside the root, following no symlink out of it."""
        real_root = os.path.realpath(self.root)
        real = os.path.realpath(path)
        return os.path.commonpath([real_root, real]) == real_root and real != real_root
