"""The platform tag (CPU architecture and OS) that separates binaries in a shared $HOME."""

import os
import re
from functools import lru_cache

OS_RELEASE = "/etc/os-release"


def _os_release(path: str = OS_RELEASE) -> dict:
    values = {}
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                key, sep, value = line.strip().partition("=")
                if sep:
                    values[key] = value.strip().strip("\"'")
    except OSError:
        pass
    return values


def _clean(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "", text)


@lru_cache(maxsize=None)
def current() -> str:
    """``<arch>-<os><version>``, for example ``x86_64-debian12`` or ``aarch64-rocky9.4``.

    ``PYENVMOD_PLATFORM`` overrides it (the Lmod hooks honour the same variable), for a
    site whose nodes differ in ways the tag does not see, and for tests.
    """
    override = os.environ.get("PYENVMOD_PLATFORM", "")
    if override:
        from pyenvmod.records.names import validate_platform

        return validate_platform(override)  # one folder below the root: never '..' or a path
    release = _os_release()
    system = os.uname()  # what platform.system() and platform.machine() read, without importing platform
    os_id = _clean(release.get("ID", "")) or _clean(system.sysname.lower()) or "unknown"
    version = _clean(release.get("VERSION_ID", ""))
    return f"{_clean(system.machine) or 'unknown'}-{os_id}{version}"
