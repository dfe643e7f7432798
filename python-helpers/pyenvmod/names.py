"""Environment names: the rule, and its check."""

import re

from pyenvmod.errors import PyenvmodError

MAX_LENGTH = 64
RULE = (
    "a name uses letters, digits and . _ + - only, does not start with . or -, "
    f"and has at most {MAX_LENGTH} characters"
)
_NAME = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9._+-]*\Z", re.ASCII)


def validate(name: str) -> str:
    """Return ``name`` if it is a valid environment name, else raise with the rule."""
    if not name or len(name) > MAX_LENGTH or not _NAME.match(name):
        shown = name if len(name) <= 80 else name[:77] + "..."
        raise PyenvmodError(f"invalid environment name {shown!r}: {RULE}")
    return name
