"""A checked folder, held by its descriptor: every change is made relative to it.

``Folder.open(top, path)`` reaches ``path`` from the trusted ``top`` without following a
symlink at any step (``open_dir``); from then on a member who renames or swaps a
folder on the way changes nothing we do: names are looked up in the folder we hold
(``dir_fd=``), files are opened with O_NOFOLLOW and changed through their descriptor
(``fchmod`` after ``fstat``), temporary names are unpredictable and created with O_EXCL, and
walks are ``os.fwalk`` without following links (which checks each folder it enters is the
one it listed).
"""

import os
import stat

from pyenvmod.errors import PyenvmodError

_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _parts(top, path) -> list[str]:
    top = os.path.normpath(os.path.abspath(top))
    path = os.path.normpath(os.path.abspath(path))
    rel = os.path.relpath(path, top)
    if rel == ".":
        return []
    if rel == ".." or rel.startswith(".." + os.sep):
        raise PyenvmodError(f"refusing to use {path}: it is outside the tree {top}")
    return rel.split(os.sep)


def refusal(path, top) -> str:
    """The one-line refusal of a symlink (or non-folder) found inside the tree ``top``."""
    real_top = os.path.realpath(top)
    outside = os.path.commonpath([real_top, os.path.realpath(path)]) != real_top
    where = "a symlink to outside the root" if outside else "a symlink or not a folder"
    return f"refusing {path}: it is {where}, and pyenvmod never follows links inside its tree; remove it"


def open_dir(top, path, create_mode: int | None = None) -> int:
    """A descriptor of the folder ``path`` below ``top``, reached without following any symlink
    below ``top`` (``top`` itself is trusted: the configured root). Missing folders are created
    with ``create_mode`` (less the umask, never world-writable, keeping an inherited setgid bit)
    when it is given; else FileNotFoundError. A symlink or non-folder on the way is refused."""
    import errno

    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    done = str(top)
    try:
        for part in _parts(top, path):
            done = os.path.join(done, part)
            created = False
            if create_mode is not None:
                try:
                    os.mkdir(part, 0o700, dir_fd=fd)
                    created = True
                except FileExistsError:
                    pass
            try:
                new = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise PyenvmodError(refusal(done, top)) from None
                raise
            if created:
                inherited = os.fstat(new).st_mode & 0o2000  # a group tree's setgid folders
                os.fchmod(new, inherited | (create_mode & 0o7777 & ~umask() & ~0o002))
            os.close(fd)
            fd = new
        return fd
    except BaseException:
        os.close(fd)
        raise


def _token() -> str:
    import secrets

    return secrets.token_hex(8)


class Folder:
    """An open folder; ``path`` only names it in messages."""

    def __init__(self, fd: int, path):
        self.fd, self.path = fd, str(path)

    # -- opening and closing -----------------------------------------------------------------
    @classmethod
    def open(cls, top, path=None, create_mode: int | None = None) -> "Folder":
        """``path`` below the trusted ``top`` (``top`` itself when ``path`` is None), no symlink
        followed below ``top``; missing folders made with ``create_mode`` when it is given."""
        return cls(open_dir(top, top if path is None else path, create_mode), path or top)

    @classmethod
    def open_last(cls, path) -> "Folder":
        """``path`` whose parents are trusted (the user's own, or a root): only its last step may
        not be a symlink. A symlink or non-folder there is refused."""
        import errno

        try:
            return cls(os.open(path, _DIR), path)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise PyenvmodError(f"refusing {path}: it is a symlink or not a folder, and pyenvmod "
                                    "never follows it; remove it") from None
            raise

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def sub(self, name: str, create_mode: int | None = None) -> "Folder":
        """The folder ``name`` (one step) in this one, never a symlink (made with ``create_mode``
        when missing and it is given)."""
        if create_mode is not None:
            try:
                self.mkdir(name, create_mode)
            except FileExistsError:
                pass
        import errno

        try:
            return Folder(os.open(name, _DIR, dir_fd=self.fd), os.path.join(self.path, name))
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise PyenvmodError(refusal(os.path.join(self.path, name), self.path)) from None
            raise

    # -- looking ------------------------------------------------------------------------------
    def lstat(self, name: str):
        return os.stat(name, dir_fd=self.fd, follow_symlinks=False)

    def exists(self, name: str) -> bool:
        try:
            self.lstat(name)
        except FileNotFoundError:
            return False
        return True

    def is_link(self, name: str) -> bool:
        try:
            return stat.S_ISLNK(self.lstat(name).st_mode)
        except FileNotFoundError:
            return False

    def readlink(self, name: str) -> str:
        return os.readlink(name, dir_fd=self.fd)

    def names(self) -> list[str]:
        return sorted(os.listdir(self.fd))

    def open_file(self, name: str) -> int:
        """A descriptor for reading the regular file ``name`` (a symlink or FIFO refused)."""
        fd = os.open(name, _READ, dir_fd=self.fd)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise PyenvmodError(f"{os.path.join(self.path, name)} is not a regular file; remove it")
        return fd

    def read_bytes(self, name: str, limit: int) -> bytes:
        fd = self.open_file(name)
        try:
            if os.fstat(fd).st_size > limit:
                raise PyenvmodError(f"{os.path.join(self.path, name)} is larger than {limit} bytes; remove it")
            with os.fdopen(os.dup(fd), "rb") as fh:
                return fh.read(limit + 1)[:limit]
        finally:
            os.close(fd)

    # -- changing -----------------------------------------------------------------------------
    def mkdir(self, name: str, mode: int = 0o777) -> None:
        """A new folder ``name`` (FileExistsError when anything is there), mode less the umask and
        never world-writable, keeping the setgid bit this folder passes on."""
        os.mkdir(name, 0o700, dir_fd=self.fd)
        fd = os.open(name, _DIR, dir_fd=self.fd)
        try:
            os.fchmod(fd, (os.fstat(fd).st_mode & 0o2000) | (mode & 0o7777 & ~umask() & ~0o002))
        finally:
            os.close(fd)

    def mkdtemp(self, prefix: str = ".tmp.", mode: int = 0o700) -> str:
        """A new folder with an unpredictable name in this one; returns its name."""
        while True:
            name = f"{prefix}{_token()}"
            try:
                self.mkdir(name, mode)
                return name
            except FileExistsError:
                continue

    def create_temp(self, prefix: str = ".tmp.", mode: int = 0o600) -> tuple[str, int]:
        """A new empty file with an unpredictable name in this one: (name, descriptor for writing)."""
        while True:
            name = f"{prefix}{_token()}.tmp"
            try:
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                             dir_fd=self.fd)
            except FileExistsError:
                continue
            os.fchmod(fd, mode & ~0o002)
            return name, fd

    def write(self, name: str, data, mode: int | None = None) -> None:
        """``name`` replaced atomically by ``data`` (str or bytes); mode: ``mode`` (default 0666 less
        the umask), never world-writable."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        tmp, fd = self.create_temp(f".{name}.")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fchmod(fh.fileno(), (0o666 & ~umask() if mode is None else mode) & ~0o002)
            os.replace(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException:
            self.unlink(tmp, missing_ok=True)
            raise

    def chmod(self, name: str, mode: int, only_mine: bool = True) -> bool:
        """chmod of ``name`` through a descriptor (never a symlink; with ``only_mine``, never another
        user's file). Returns whether it was changed."""
        try:
            fd = os.open(name, _READ, dir_fd=self.fd)
        except OSError:
            return False
        try:
            st = os.fstat(fd)
            if only_mine and st.st_uid != os.getuid():
                return False
            os.fchmod(fd, mode)
            return True
        finally:
            os.close(fd)

    def fchmod_self(self, mode: int) -> None:
        os.fchmod(self.fd, mode)

    def fchown_self(self, gid: int) -> None:
        os.fchown(self.fd, -1, gid)

    def rename(self, src: str, dst: str, into: "Folder | None" = None) -> None:
        """``src`` renamed to ``dst`` (in ``into``, else in this folder), replacing a file there."""
        os.replace(src, dst, src_dir_fd=self.fd, dst_dir_fd=(into or self).fd)

    def rename_new(self, src: str, dst: str) -> None:
        """``src`` renamed to ``dst`` in this folder, only when nothing is at ``dst`` (renameat2
        RENAME_NOREPLACE; where that is missing, a folder rename, which cannot replace a file)."""
        if not _renameat2(self.fd, src, self.fd, dst, 1):
            if self.exists(dst):
                raise FileExistsError(17, "File exists", os.path.join(self.path, dst))
            os.rename(src, dst, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def exchange(self, a: str, b: str) -> None:
        """Swap the entries ``a`` and ``b`` of this folder: atomically where renameat2 works."""
        if not _renameat2(self.fd, a, self.fd, b, 2):
            parked = f"{a}.exchange"
            os.rename(a, parked, src_dir_fd=self.fd, dst_dir_fd=self.fd)
            os.rename(b, a, src_dir_fd=self.fd, dst_dir_fd=self.fd)
            os.rename(parked, b, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def symlink(self, target: str, name: str) -> None:
        os.symlink(target, name, dir_fd=self.fd)

    def unlink(self, name: str, missing_ok: bool = False) -> None:
        try:
            os.unlink(name, dir_fd=self.fd)
        except FileNotFoundError:
            if not missing_ok:
                raise

    def remove(self, name: str) -> bool:
        """Remove ``name`` (a file, a link as a link, or a folder with all in it, never following a
        link). Returns whether anything was there."""
        import shutil

        try:
            st = self.lstat(name)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(name, dir_fd=self.fd)
        else:
            os.unlink(name, dir_fd=self.fd)
        return True

    # -- walking ------------------------------------------------------------------------------
    def walk(self, name: str = "."):
        """``os.fwalk`` of ``name`` in this folder, never following a link: (relative folder,
        folder names, file names, folder descriptor)."""
        yield from os.fwalk(name, dir_fd=self.fd, follow_symlinks=False)


def _renameat2(fd_a: int, a: str, fd_b: int, b: str, flags: int) -> bool:
    """renameat2(2); False where the C library or the file system lacks it (or the flag)."""
    import ctypes
    import errno

    libc = ctypes.CDLL(None, use_errno=True)
    call = getattr(libc, "renameat2", None)
    if call is None:
        return False
    if call(fd_a, os.fsencode(a), fd_b, os.fsencode(b), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), b)
