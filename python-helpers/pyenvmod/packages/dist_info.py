"""The distributions installed in a site-packages, read from their dist-info METADATA headers:
nothing is run. The one reader for every command that needs their names, versions or
requirements (list, export, adopt, the dependency check, changes made outside pyenvmod).
"""

import errno
import os
import re
from collections import namedtuple
from pathlib import Path

from pyenvmod.errors import PyenvmodError
from pyenvmod.trust import files

# a Requires-Dist whose whole marker is `extra == "NAME"`
_EXTRA_ONLY = re.compile(r""";\s*extra\s*==\s*(['"])[^'"]*\1\s*\Z""")


class Distribution(namedtuple("Distribution", "name version requires path")):
    """``name`` as its METADATA spells it, ``version``, ``requires`` (its Requires-Dist values as
    written, a tuple) and ``path`` (its .dist-info folder)."""

    __slots__ = ()

    def requirements(self, environment: dict | None = None) -> list:
        """Its Requires-Dist, parsed (one packaging cannot read is passed over). With ``environment``
        (marker variables, ``extra`` among them): those whose marker holds there. Without: all but
        those only an optional extra asks for."""
        from packaging.requirements import InvalidRequirement, Requirement

        found = []
        in_force = (environment or {}).get("extra")  # the extra being installed, if any
        for text in self.requires:
            if not in_force and _EXTRA_ONLY.search(text):
                continue  # only an optional extra asks for it: most lines of a large package, left unparsed
            try:
                requirement = Requirement(text)
            except InvalidRequirement:
                continue
            marker = requirement.marker
            if marker is None or (marker.evaluate(environment) if environment is not None
                                  else "extra" not in str(marker)):
                found.append(requirement)
        return found


METADATA_LIMIT = 16 << 20  # bytes of a METADATA file read (its headers come first)


def read_regular(path, limit: int, headers: bool = False) -> bytes:
    """At most ``limit`` bytes of the regular file ``path``, opened without waiting (a FIFO a group
    member put in an environment would block a plain open forever); with ``headers``, reading stops
    after the first empty line (METADATA's headers). OSError when it is missing, not a regular
    file, or (without ``headers``) larger than ``limit``: the callers pass over such a file. The
    reading is ``trust.files.read_bytes``'s."""
    try:
        return files.read_bytes(path, limit, follow=True, headers=headers)
    except PyenvmodError as exc:
        raise OSError(errno.EINVAL, exc.message, str(path)) from None


def read(meta: Path) -> Distribution | None:
    """The headers of one METADATA file (they end at the first empty line; the description
    follows); None without a Name or a Version. OSError when it cannot be read."""
    name = version = ""
    requires = []
    text = read_regular(meta, METADATA_LIMIT, headers=True).decode("utf-8", errors="replace")
    for line in text.split("\n"):
        if not line.strip():
            break
        key, _, value = line.rstrip("\r\n").partition(": ")
        if key == "Name":
            name = value.strip()
        elif key == "Version":
            version = value.strip()
        elif key == "Requires-Dist":
            requires.append(value.strip())
    if not (name and version):
        return None
    return Distribution(name, version, tuple(requires), Path(meta).parent)


def _read_all(metas) -> list[Distribution]:
    found = []
    for meta in sorted(metas):
        try:
            dist = read(meta)
        except OSError:  # unreadable: passed over, as pip passes over a broken one
            continue
        if dist is not None:
            found.append(dist)
    return found


def in_site(site: Path) -> list[Distribution]:
    """The distributions in one site-packages folder, in the order of their folders' names. A folder
    that cannot be looked into (a module's PYTHONPATH entry with a name too long, or below a folder
    you may not enter) holds none, as Python's import passes over such an entry."""
    try:
        metas = list(Path(site).glob("*.dist-info/METADATA"))
    except OSError:
        return []
    return _read_all(metas)


def installed(prefix) -> list[Distribution]:
    """The distributions in the environment's own site-packages (``PREFIX/lib/python*/site-packages``)."""
    return _read_all(Path(prefix).glob("lib/python*/site-packages/*.dist-info/METADATA"))


def canonical_name(name: str) -> str:
    """PEP 503's normalised name (what packaging's canonicalize_name gives), without importing it:
    the commands' paths to uv use it before anything heavy is loaded."""
    return re.sub(r"[-_.]+", "-", name).lower()


def folder_key(folder_name: str) -> tuple:
    """(canonical name, version) that a NAME-VERSION.dist-info folder's name says (pip and uv name
    the folders so); nothing is read."""
    name, _, version = folder_name[: -len(".dist-info")].rpartition("-")
    return canonical_name(name), version


def sites(prefix) -> list:
    """The environment's own site-packages folders (``PREFIX/lib/python*/site-packages``)."""
    return sorted(str(p) for p in Path(prefix).glob("lib/python*/site-packages"))
