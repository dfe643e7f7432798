"""Writing and removing files safely: atomic replace, umask-following modes, no symlink escapes.

Built on ``folders`` (a folder held by its descriptor; ``open_dir``, ``refusal`` and ``umask`` live
there and are reachable here as before), which never imports this module."""

import os
import shutil
from pathlib import Path

from pyenvmod.errors import PyenvmodError
from pyenvmod.trust.folders import Folder, _parts, open_dir, refusal, umask  # noqa: F401 (files.open_dir, ...)


def write_atomic(path: Path, text: str, inside=None, mode: int | None = None) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half.

    ``inside``: the tree ``path`` belongs to; no folder between it and ``path`` may be a symlink
    (the write never follows a symlinked parent). ``mode``: the file's mode (default: 0666 less
    the umask); never world-writable."""
    import secrets

    path = Path(path)
    dir_fd = open_dir(inside, path.parent) if inside is not None else \
        os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    tmp = f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                     dir_fd=dir_fd)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
                # follow the umask like any other file (or the mode asked for), never world-writable
                os.fchmod(fh.fileno(), (0o666 & ~umask() if mode is None else mode) & ~0o002)
            os.replace(tmp, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=dir_fd)
            except FileNotFoundError:
                pass
            raise
    finally:
        os.close(dir_fd)


def holds(path: Path, text: str, inside=None, mode: int | None = None) -> bool:
    """``path`` is a regular file (no symlink on the way from ``inside``) holding exactly ``text``,
    with the mode ``write_atomic`` would give it (``mode``, default 0666 less the umask and never
    world-writable). Then there is nothing to write: on a parallel file system a rewrite costs
    metadata operations and an fsync, and a new modulefile makes Lmod's caches stale."""
    data = text.encode("utf-8")
    try:
        if read_bytes(path, len(data), inside=inside) != data:
            return False
        st = os.lstat(path)
    except (OSError, PyenvmodError):
        return False
    return st.st_mode & 0o7777 == (0o666 & ~umask() if mode is None else mode) & ~0o002


def make_dirs(top, path, mode: int = 0o777) -> Path:
    """Create the folder ``path`` (and missing parents) below ``top`` without following symlinks."""
    os.close(open_dir(top, path, create_mode=mode))
    return Path(path)


def write_at(path, offset: int, data: bytes, inside) -> None:
    """Overwrite ``data`` at ``offset`` of the existing regular file ``path`` below ``inside``, in
    place (the file keeps its inode and mode): no symlink on the way or at ``path``, and a FIFO in
    its place is refused, never waited on (``O_NONBLOCK``: without a reader the open fails at once)."""
    import stat

    path = Path(path)
    dir_fd = open_dir(inside, path.parent)
    try:
        fd = os.open(path.name, os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PyenvmodError(f"refusing to write into {path}: not a regular file")
        os.pwrite(fd, data, offset)
    finally:
        os.close(fd)


def read_bytes(path, limit: int, inside=None, follow: bool = False, headers: bool = False) -> bytes:
    """The content of the regular file ``path``, refused when it is a symlink, a FIFO or device
    (never blocks) or larger than ``limit`` bytes. FileNotFoundError when it is missing.

    ``follow``: a symlink at ``path`` is followed (the files of installed packages, which a package
    manager may link). ``headers`` (METADATA, whose description may be long): reading stops after
    the first empty line, and what lies past ``limit`` is cut off instead of refused."""
    import errno
    import stat

    path = Path(path)
    if follow:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    else:
        dir_fd = open_dir(inside, path.parent) if inside is not None else \
            os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            try:
                fd = os.open(path.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise PyenvmodError(f"{path} is a symlink: pyenvmod does not follow it; remove it") from None
                raise
        finally:
            os.close(dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise PyenvmodError(f"{path} is not a regular file; remove it")
        if st.st_size > limit and not headers:
            raise PyenvmodError(f"{path} is larger than {limit} bytes; remove it")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if headers and _headers_end(chunks):
                break
        if size > limit:
            if headers:
                return b"".join(chunks)[:limit]
            raise PyenvmodError(f"{path} is larger than {limit} bytes; remove it")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _headers_end(chunks) -> bool:
    """The last chunk read holds the empty line that ends a METADATA file's headers (perhaps
    across the boundary with the chunk before it)."""
    chunk = chunks[-1]
    return (b"\n\n" in chunk or b"\n\r\n" in chunk or len(chunks) > 1
            and (b"\n\n" in chunks[-2][-2:] + chunk[:2] or b"\n\r\n" in chunks[-2][-3:] + chunk[:3]))


def chmod_nofollow(path, mode: int) -> None:
    """chmod that never follows a symlink (the path may be swapped for one meanwhile)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def _open_top(top, inside=None):
    """The folder ``top`` held by its descriptor (reached from ``inside`` without following a link
    when it is given, else only ``top`` itself must not be a link); None when it is missing."""
    try:
        return Folder.open(inside, top) if inside is not None else Folder.open_last(top)
    except (FileNotFoundError, PyenvmodError):  # missing, or a link: never followed
        return None


def below(path, root):
    """``root`` when ``path`` lies (by its spelling) below it, else None: the ``inside`` to reach
    ``path`` from, for the functions here that take one."""
    try:
        return root if _parts(root, path) else None
    except PyenvmodError:
        return None


def _loose(mode) -> bool:
    import stat

    return bool(mode & stat.S_IWOTH) and not stat.S_ISLNK(mode) and not (stat.S_ISDIR(mode) and mode & stat.S_ISVTX)


def world_writable(top, inside=None):
    """Yield (path, mode) of everything under ``top`` that others may write; symlinks and
    sticky folders (like /tmp) are not counted. The walk never follows a link."""
    held = _open_top(top, inside)
    if held is None:
        return
    with held:
        for folder, dirs, names, dir_fd in held.walk():
            for name in [*dirs, *names]:
                try:
                    mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
                except OSError:
                    continue
                if _loose(mode):
                    yield os.path.normpath(os.path.join(str(top), folder, name)), mode


def drop_world_write(path, mode) -> None:
    import stat

    chmod_nofollow(path, stat.S_IMODE(mode) & ~stat.S_IWOTH)


def no_world_write(top, inside=None) -> int:
    """Take write permission for others off everything under ``top`` (helpers such as uv
    leave world-writable lock files), through descriptors: a folder swapped for a link while
    we walk is never followed. Returns how many were changed."""
    import stat

    held = _open_top(top, inside)
    if held is None:
        return 0
    changed = 0
    with held:
        mode = os.fstat(held.fd).st_mode
        if mode & 0o002:  # the folder itself (made under umask 000, say)
            os.fchmod(held.fd, stat.S_IMODE(mode) & ~0o002)
            changed += 1
        for _folder, dirs, names, dir_fd in held.walk():
            for name in [*dirs, *names]:
                try:  # a cheap look first: only what others may write is opened and changed
                    if not _loose(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
                        continue
                except OSError:
                    continue
                changed += _fchmod_at(dir_fd, name, lambda st: stat.S_IMODE(st.st_mode) & ~0o002
                                      if _loose(st.st_mode) else None)
    return changed


def _linked_elsewhere(st) -> bool:
    """A file with more than one name: a hard link to the user's package cache (conda's, made by
    rattler) or to a file outside the tree. Never handed to the group (its group and write bit):
    that would hand over the other names too, the cache and every environment linked from it."""
    import stat

    return not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1


def _fchmod_at(dir_fd: int, name: str, new_mode, gid: int | None = None) -> int:
    """Open ``name`` in ``dir_fd`` without following a link and, when ``new_mode(fstat)`` gives a
    mode (and the file is ours), set it (and the group ``gid``) through the descriptor."""
    import stat

    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return 0  # a link (never followed), a socket, gone, or unreadable
    try:
        st = os.fstat(fd)
        mode = new_mode(st)
        if mode is None or st.st_uid != os.getuid() or (gid is not None and _linked_elsewhere(st)):
            return 0
        if gid is not None and st.st_gid != gid:
            os.fchown(fd, -1, gid)
        if mode != stat.S_IMODE(st.st_mode):
            os.fchmod(fd, mode)
        return 1
    finally:
        os.close(fd)


def settle(top, paths, gid: int | None = None) -> int:
    """For the ``paths`` below ``top`` (what one change wrote, ``touched.written``): write for others
    taken off, as ``no_world_write`` does, and with ``gid`` (a group tree) the group's ownership and
    the owner's permissions, as ``share_with_group`` does. Folders are reached from ``top`` without
    following a symlink; symlinks, other users' files and sticky folders keep their modes.
    Returns how many were changed."""
    import stat
    from itertools import groupby

    changed = 0
    for parent, group in groupby(sorted(paths, key=os.path.dirname), key=os.path.dirname):
        try:
            dir_fd = open_dir(top, parent)
        except (OSError, PyenvmodError):  # gone, or a symlink on the way: never followed
            continue
        try:
            for name in (os.path.basename(p) for p in group):
                try:
                    st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISLNK(st.st_mode) or st.st_uid != os.getuid() or (gid is not None and _linked_elsewhere(st)):
                    continue
                mode = stat.S_IMODE(st.st_mode)
                new = mode if stat.S_ISDIR(st.st_mode) and mode & stat.S_ISVTX else mode & ~0o002
                if gid is not None:
                    new |= (mode & 0o700) >> 3
                if new == mode and (gid is None or st.st_gid == gid):
                    continue
                try:
                    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
                except OSError:
                    continue
                try:
                    if gid is not None and st.st_gid != gid:
                        os.fchown(fd, -1, gid)
                    os.fchmod(fd, new)
                    changed += 1
                finally:
                    os.close(fd)
        finally:
            os.close(dir_fd)
    return changed


def share_with_group(top, gid: int, inside=None) -> None:
    """For a group tree: everything under ``top`` we own belongs to the tree's group, which gets the
    owner's permissions (read, write, search); others never get write. Symlinks are left alone,
    and the walk holds each folder by its descriptor (a folder swapped for a link is not followed)."""
    import stat

    held = _open_top(top, inside)
    if held is None:
        return
    with held:
        def shared(st):
            return (stat.S_IMODE(st.st_mode) | (st.st_mode & 0o700) >> 3) & ~0o002

        st = os.fstat(held.fd)
        if st.st_uid == os.getuid():
            if st.st_gid != gid:
                os.fchown(held.fd, -1, gid)
            os.fchmod(held.fd, shared(st))
        for _folder, dirs, names, dir_fd in held.walk():
            for name in [*dirs, *names]:
                _fchmod_at(dir_fd, name, shared, gid)


def remove_inside(path: Path, root: Path, left=None) -> bool:
    """Remove a file or folder tree at ``path`` only if it lies inside ``root``.

    The folders from ``root`` down to ``path`` are reached without following symlinks (one
    there is refused); ``path`` itself, if a symlink, is removed as a link, never followed; a
    folder is removed through descriptors (``rmtree`` with ``dir_fd``), so nothing inside it
    is followed either. Returns whether anything was removed. ``left``: a list that collects
    (path, reason) of what could not be removed (another user's folder, say) while the rest is
    removed; without it the first failure is raised.
    """
    import stat

    path = Path(os.path.normpath(os.path.abspath(path)))
    if not _parts(root, path):
        raise PyenvmodError(f"refusing to remove {path}: it is the root {root} itself")
    try:
        dir_fd = open_dir(root, path.parent)
    except FileNotFoundError:
        return False
    try:
        try:
            st = os.lstat(path.name, dir_fd=dir_fd)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            import sys

            def failed(_func, where, exc_info):
                if left is None:
                    raise exc_info[1]
                where = str(where)
                if where.startswith("/proc/self/fd/"):
                    where = where.split("/", 5)[-1]
                left.append((str(path.parent / where), getattr(exc_info[1], "strerror", None) or str(exc_info[1])))

            if sys.version_info >= (3, 11):
                shutil.rmtree(path.name, dir_fd=dir_fd, onerror=failed)
            else:  # the same descriptor-based walk, reached through the folder's descriptor
                shutil.rmtree(f"/proc/self/fd/{dir_fd}/{path.name}", onerror=failed)
        else:
            os.unlink(path.name, dir_fd=dir_fd)
        return True
    finally:
        os.close(dir_fd)


def exchange(a: Path, b: Path) -> None:
    """Swap two folders: atomically with Linux renameat2(RENAME_EXCHANGE) where the filesystem
    supports it, else with two renames (a brief moment where ``a`` is missing)."""
    if not _exchange_atomic(a, b):
        _exchange_by_renames(a, b)


def _exchange_atomic(a: Path, b: Path) -> bool:
    """renameat2(RENAME_EXCHANGE); False where the C library or the file system lacks it."""
    import ctypes
    import errno

    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def _exchange_by_renames(a: Path, b: Path) -> None:
    """The swap as three renames, through ``a``'s parked name ``A.exchange``."""
    parked = a.with_name(a.name + ".exchange")
    os.rename(a, parked)
    os.rename(b, a)
    os.rename(parked, b)


def replace_in_text_files(folder: Path, old: str, new: str, inside=None) -> int:
    """Replace ``old`` by ``new`` in the text files directly in ``folder`` (scripts' #! lines,
    activation scripts), each replaced atomically with its mode, through the folder's
    descriptor (reached from ``inside`` without following a link). Returns how many changed."""
    import stat

    changed = 0
    old_b, new_b = os.fsencode(old), os.fsencode(new)
    held = _open_top(folder, inside)
    if held is None:
        return 0
    with held:
        for name in held.names():
            try:
                fd = held.open_file(name)
            except (OSError, PyenvmodError):
                continue  # a link, a folder, a FIFO: never followed nor read
            try:
                mode = stat.S_IMODE(os.fstat(fd).st_mode)
                with os.fdopen(os.dup(fd), "rb") as fh:
                    data = fh.read()
            finally:
                os.close(fd)
            if b"\0" in data or old_b not in data:
                continue
            held.write(name, data.replace(old_b, new_b), mode=mode)
            changed += 1
    return changed


def make_root(path, mode: int = 0o777) -> Path:
    """mkdir -p of a trusted folder (a configured root, the user's own cache or configuration folder)
    whose new folders get ``mode`` less the umask, never world-writable (umask 000 too)."""
    wanted = path = Path(path)
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            if not os.path.isdir(folder):
                raise
            continue
        chmod_nofollow(folder, mode & ~umask() & ~0o002)
    return wanted


def tree_size(top) -> int:
    """The bytes of the files under ``top`` (links not followed, unreadable parts skipped)."""
    held = _open_top(top)
    if held is None:
        return 0
    total = 0
    with held:
        for _folder, _dirs, names, dir_fd in held.walk():
            for name in names:
                try:
                    total += os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_size
                except OSError:
                    pass
    return total


def private_dir(path, fix: str, elsewhere: str, missing: str | None = None, group: bool = False) -> None:
    """Create ``path`` (mode 0700) or check that it is ours and private (not a link, not writable by
    others): what is in it runs. ``fix``: what to do when it cannot be made; ``elsewhere``: when it is
    not private. With ``missing`` only ``path`` itself is made: the folder it goes in must exist (one the
    site provides, such as a node-local /tmp; a parent made by the first user who needed it would keep
    everyone else out), else the refusal names that folder and says ``missing``. Without it (the user's
    own cache) missing folders above it are made 0700. With ``group`` the folder gets the user's
    effective group, so that what is made in it has that group too (its mode is left as it is): the
    stage launchers test that the stage folder and the copy are yours *and* of your group (``-O``,
    ``-G``: shell builtins), which a folder of yours that a group member may write, and so move into a
    shared scratch folder that is not sticky, fails (it belongs to the group, as a group tree's folders
    do). All through the descriptor of the folder it goes in."""
    import errno

    path = Path(path)
    try:
        if missing is None:
            make_root(path.parent, 0o700)
        parent = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        if missing is not None and exc.errno == errno.ENOENT:
            raise PyenvmodError(f"cannot create {path}: the folder {path.parent} does not exist; {missing}") from None
        raise PyenvmodError(f"cannot create {path}: {exc.strerror}; {fix}") from None
    fd = -1
    try:
        try:
            os.mkdir(path.name, 0o700, dir_fd=parent)
        except FileExistsError:
            pass
        except OSError as exc:
            raise PyenvmodError(f"cannot create {path}: {exc.strerror}; {fix}") from None
        try:  # not a link, a folder, and one we may enter: else not ours to use
            fd = os.open(path.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EACCES):
                raise
    finally:
        os.close(parent)
    try:
        st = os.fstat(fd) if fd >= 0 else None
        if st is None or st.st_uid != os.getuid() or st.st_mode & 0o022:
            raise PyenvmodError(f"{path} is not a private folder of yours (someone else made it, or others may "
                                f"write to it); remove it or {elsewhere}")
        if group and st.st_gid != os.getegid():
            os.fchown(fd, -1, os.getegid())
    finally:
        if fd >= 0:
            os.close(fd)


def written_only_by_you_or_root(path, folder: bool = False, owners=()) -> bool:
    """True when the file ``path`` (with ``folder``: the folder; its real path) and every folder above
    it can only have been written by root or by you: each owned by one of them and neither group- nor
    world-writable (a sticky folder such as /tmp excepted, where nobody may replace another's entry).
    Code in such a file (a modulefile) is as trusted as your own; code a group member could write is not.
    ``owners``: more uids trusted like root (the site's module_owners: the account that builds its modules)."""
    import stat

    mine = (0, os.getuid(), *owners)
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except (OSError, ValueError):
        return False
    if folder:
        if not stat.S_ISDIR(st.st_mode):
            return False
        real = os.path.join(real, ".")
    elif not stat.S_ISREG(st.st_mode) or st.st_uid not in mine or st.st_mode & 0o022:
        return False
    folder = os.path.dirname(real)
    while True:
        try:
            st = os.stat(folder)
        except OSError:
            return False
        if st.st_uid not in mine or (st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX):
            return False
        parent = os.path.dirname(folder)
        if parent == folder:
            return True
        folder = parent
