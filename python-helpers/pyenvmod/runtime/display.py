"""Text from the tree on a terminal: control characters (terminal escapes among them) are shown
as ``\\xNN``, never sent raw. A group member writes names, records and lock files; their text
must not move the cursor, retitle the window or hide a line of output."""

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean(text) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))
