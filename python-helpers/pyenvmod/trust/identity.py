"""Who runs pyenvmod: from the real uid, never from $USER or $LOGNAME (anyone can set those)."""

import os
import pwd


def uids(names) -> tuple:
    """The uids of the accounts ``names`` (a site's module_owners); names without an account are left out."""
    found = []
    for name in names or ():
        try:
            found.append(pwd.getpwnam(name).pw_uid)
        except KeyError:
            continue
    return tuple(found)


def user_name() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a uid without a passwd entry (containers)
        return str(os.getuid())
