"""Files pyenvmod takes code-like input from (templates, configuration) must be writable by
their owner (and root) only, the way ssh treats its configuration: anyone else who could
change them could change what pyenvmod writes for every user who runs it.

A file or folder is accepted when it is owned by root, by the user running pyenvmod, or by
whoever owns the folder holding it (a site's software account), and when neither it nor
that folder can be written by a group or others (a sticky folder like /tmp protects what
is in it; a group that is the owner's own private group is the owner)."""

import os
import stat

from pyenvmod.errors import PyenvmodError


def check(path, what: str) -> None:
    """Refuse ``path`` (a file or folder; absent is fine) when others than its owner could change it.

    ``what`` names it in the message: "template", "template folder", "configuration file"."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise PyenvmodError(f"cannot check the {what} {path}: {exc.strerror}") from None
    _writable_by_others(st, f"the {what} {path}", f"chmod go-w {path}")
    parent = os.path.dirname(os.path.abspath(path))
    try:
        pst = os.stat(parent)
    except OSError:
        return
    if st.st_uid not in (0, os.getuid(), pst.st_uid):
        raise PyenvmodError(f"the {what} {path} belongs to {_user(st.st_uid)}, not to you, root or the owner of "
                            f"{parent}; pyenvmod does not read {what}s others control: remove it, or have it "
                            "owned by root")
    if not pst.st_mode & stat.S_ISVTX:
        _writable_by_others(pst, f"the folder {parent} holding the {what} {path}", f"chmod go-w {parent}")


def _writable_by_others(st, described: str, fix: str) -> None:
    group_may_write = st.st_mode & stat.S_IWGRP and not _private_group(st.st_uid, st.st_gid)
    if st.st_mode & stat.S_IWOTH or group_may_write:
        writers = "anyone" if st.st_mode & stat.S_IWOTH else "its group"
        raise PyenvmodError(f"{described} is writable by {writers} (mode {stat.S_IMODE(st.st_mode):04o}), so "
                            f"others could change what pyenvmod does; make it private: {fix}")


def _user(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _private_group(uid: int, gid: int) -> bool:
    """The owner's own group (named after it, nobody else in it): group-writable is then
    owner-writable, as under a umask of 002 with user private groups (ssh accepts it too)."""
    import grp
    import pwd

    try:
        owner, group = pwd.getpwuid(uid).pw_name, grp.getgrgid(gid)
    except KeyError:
        return False
    return group.gr_name == owner and set(group.gr_mem) <= {owner}


def read_own(path, limit: int, what: str) -> bytes:
    """The content of ``path``, a file in the user's own cache folder (``what`` names it): read only
    when it is a regular file of at most ``limit`` bytes, owned by the user (or root), writable by
    nobody else, in a folder owned by the user (or root) that others cannot write (unless sticky).
    A shared ``XDG_CACHE_HOME`` must not let another user plant what pyenvmod then believes.

    FileNotFoundError when it is missing; PyenvmodError (one line) when it is refused."""
    import errno

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PyenvmodError(f"the {what} {path} is a symlink; pyenvmod does not follow it: remove it") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise PyenvmodError(f"the {what} {path} is not a regular file; remove it")
        _own(st, path, what)
        _writable_by_others(st, f"the {what} {path}", f"rm {path}")
        parent = os.path.dirname(os.path.abspath(path))
        pst = os.stat(parent)
        _own(pst, parent, f"folder of the {what}")
        if not pst.st_mode & stat.S_ISVTX:
            _writable_by_others(pst, f"the folder {parent} holding the {what}", f"chmod go-w {parent}")
        if st.st_size > limit:
            raise PyenvmodError(f"the {what} {path} is larger than {limit} bytes; remove it")
        data = os.read(fd, limit + 1)
        if len(data) > limit:
            raise PyenvmodError(f"the {what} {path} is larger than {limit} bytes; remove it")
        return data
    finally:
        os.close(fd)


def own_folder(path, what: str) -> bool:
    """Whether pyenvmod may write its cache file into the folder ``path``: the user's (or root's),
    not writable by others; a folder another user made (a shared XDG_CACHE_HOME) is not."""
    try:
        st = os.stat(path)
        _own(st, path, what)
        _writable_by_others(st, what, "")
    except (OSError, PyenvmodError):
        return False
    return True


def _own(st, path, what: str) -> None:
    if st.st_uid not in (0, os.getuid()):
        raise PyenvmodError(f"the {what} {path} belongs to {_user(st.st_uid)}, not to you: pyenvmod does not "
                            f"use what others put in your cache; remove it, or set XDG_CACHE_HOME to a folder "
                            "of your own")


def claim_folder(path, what: str) -> None:
    """Make the folder ``path`` (``what`` names it in messages), or accept it as it is when it is the
    user's own and nobody else may write it: a folder another user made (a group member, in a shared
    2775 folder) must not become the user's (they could swap what is in it later)."""
    try:
        os.mkdir(path, 0o755)
        return
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise PyenvmodError(f"{what} {path} exists and is not a folder; give a new or empty folder")
    if st.st_uid != os.getuid():
        raise PyenvmodError(f"{what} {path} belongs to {_user(st.st_uid)}, not to you: only a folder of yours, "
                            "or one pyenvmod makes, may hold your environment; give a path that does not exist yet")
    _writable_by_others(st, f"{what} {path}", f"chmod go-w {path}")
