"""Files pyenvmod takes code-like input from (templates, configuration) must be writable by
their owner (and root) only, the way ssh treats its configuration: anyone else who could
change them could change what pyenvmod writes for every user who runs it."""

import os
import stat

from pyenvmod.errors import PyenvmodError


def check(path, what: str) -> None:
    """Refuse ``path`` (a file or folder; absent is fine) when a group or others may write it.

    ``what`` names it in the message: "template", "template folder", "configuration file"."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise PyenvmodError(f"cannot check the {what} {path}: {exc.strerror}") from None
    group_may_write = st.st_mode & stat.S_IWGRP and not _private_group(st.st_uid, st.st_gid)
    if st.st_mode & stat.S_IWOTH or group_may_write:
        writers = "anyone" if st.st_mode & stat.S_IWOTH else "its group"
        raise PyenvmodError(f"the {what} {path} is writable by {writers} (mode {stat.S_IMODE(st.st_mode):04o}), so "
                            f"others could change what pyenvmod does; make it private: chmod go-w {path}")


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
