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


PLATFORM_RULE = "a platform tag uses letters, digits and . _ + - only, does not start with . or -, and has at most 64"


def validate_platform(tag: str) -> str:
    """A platform tag is one folder below the root: the same rule as a name (no '..', no '/')."""
    if not tag or len(tag) > MAX_LENGTH or not _NAME.match(tag):
        raise PyenvmodError(f"invalid platform tag {tag[:80]!r}: {PLATFORM_RULE}; fix PYENVMOD_PLATFORM")
    return tag


_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def validate_description(text: str, where: str = "--description") -> str:
    """A description is text: line breaks and tabs, but no other control characters (no
    terminal escapes, no DEL or C1 codes, which YAML, Lua and terminals treat specially)."""
    if _TEXT_CONTROL.search(text):
        raise PyenvmodError(f"{where}: the description holds control characters "
                            f"({_TEXT_CONTROL.search(text).group()!r}); give plain text")
    return text


def kernel_name(name: str) -> str:
    """The Jupyter kernel of environment ``name``: kernel names allow letters, digits and . _ - only
    (and are case-insensitive)."""
    return "pyenv-" + re.sub(r"[^a-z0-9._-]", "_", name.lower())
