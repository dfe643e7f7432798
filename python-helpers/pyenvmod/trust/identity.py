"""Who runs pyenvmod: from the real uid, never from $USER or $LOGNAME (anyone can set those)."""

import os
import pwd


def user_name() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a uid without a passwd entry (containers)
        return str(os.getuid())
