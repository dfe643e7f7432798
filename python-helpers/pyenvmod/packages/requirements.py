"""Checking package specs before they reach pip or uv (a spec must never become an option).

Accepted as pip accepts them: a requirement (numpy, 'numpy>=1.26', 'pkg @ file:///...'), a local
folder or archive (./mypkg, /path/pkg-1.0.whl), a URL (https://.../pkg.whl, git+https://...), and
an editable folder, kept as the one string '-e /abs/folder' and split into two arguments only when
a helper is run (``as_args``). Local paths are made absolute, so the record means the same folder
from anywhere.
"""

import os
import re

from pyenvmod.errors import PyenvmodError

EDITABLE = "-e "
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_URL_SCHEMES = {"http", "https", "file"}
_VCS = {"git", "hg", "svn", "bzr"}
_ARCHIVES = (".whl", ".tar.gz", ".tgz", ".zip", ".tar.bz2")
HELP = ("give a name with an optional version (numpy, 'numpy>=1.26'), a folder or archive (./mypkg), "
        "-e ./mypkg, or a URL (git+https://..., 'pkg @ file:///...')")


def is_url(spec: str) -> bool:
    return bool(_SCHEME.match(spec))


def is_path(spec: str) -> bool:
    """Written as a path: ./x, ../x, /x, ~/x, ., or an existing folder or archive named plainly."""
    if spec in (".", "..") or spec.startswith(("./", "../", "/", "~")):
        return True
    return ("/" in spec or spec.endswith(_ARCHIVES)) and os.path.exists(spec) and not is_url(spec)


def absolute_paths(specs: list[str]) -> list[str]:
    """The same specs with local paths (also after -e) made absolute; nothing else is touched."""
    out = []
    for spec in specs:
        editable = spec.startswith(EDITABLE)
        target = spec[len(EDITABLE):].strip() if editable else spec
        if is_path(target):
            target = os.path.abspath(os.path.expanduser(target))
        out.append(EDITABLE + target if editable else target)
    return out


def source_url(spec: str) -> str | None:
    """Where a spec installs from when that is not the index: a file:// URL for a path, the URL itself."""
    target = spec[len(EDITABLE):].strip() if spec.startswith(EDITABLE) else spec
    if is_url(target):
        return target
    if is_path(target):
        return "file://" + os.path.abspath(os.path.expanduser(target))
    from packaging.requirements import Requirement

    return Requirement(target).url


def _check_url(url: str) -> None:
    scheme = url.split("://", 1)[0].lower()
    vcs, _, transport = scheme.partition("+")
    if not (scheme in _URL_SCHEMES or (vcs in _VCS and transport in ("http", "https", "ssh", "file", "git"))):
        raise ValueError(f"the URL scheme {scheme}:// is not one pip installs from")
    if any(c.isspace() for c in url):
        raise ValueError("a URL has no spaces")


def _check_path(path: str, editable: bool) -> None:
    full = os.path.expanduser(path)
    if not os.path.exists(full):
        raise ValueError(f"no folder or file {path}")
    if editable and not os.path.isdir(full):
        raise ValueError("-e needs a project folder")
    if os.path.isdir(full) and not any(os.path.exists(os.path.join(full, f)) for f in ("pyproject.toml", "setup.py")):
        raise ValueError(f"{path} has no pyproject.toml or setup.py")


# A bare project name (PEP 508's name rule): valid as it is, so the parser (whose import is a
# good part of a create's start-up) is not needed for it.
_BARE_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")


def _check_one(spec: str) -> None:
    if _BARE_NAME.fullmatch(spec) and not is_path(spec):
        return
    from packaging.requirements import InvalidRequirement, Requirement

    editable = spec.startswith(EDITABLE)
    target = spec[len(EDITABLE):].strip() if editable else spec
    if not target or target.startswith("-"):
        raise ValueError("it starts with '-'")
    if is_url(target):
        _check_url(target)
        if editable and not target.split("://", 1)[0].partition("+")[1]:
            raise ValueError("-e takes a folder or a version-control URL (git+https://...)")
    elif is_path(target):
        _check_path(target, editable)
    elif editable:
        raise ValueError("-e takes a folder or a version-control URL (git+https://...)")
    else:
        try:
            requirement = Requirement(target)
        except InvalidRequirement as exc:
            raise ValueError(str(exc).splitlines()[0]) from None
        if requirement.url:
            _check_url(requirement.url)


def validate(specs: list[str]) -> list[str]:
    for spec in specs:
        try:
            _check_one(spec)
        except ValueError as exc:
            raise PyenvmodError(f"invalid package spec {spec!r} ({exc}); {HELP}") from None
    return specs


def as_args(specs: list[str]) -> list[str]:
    """Command-line arguments for pip and uv: '-e /folder' becomes two; every other spec is one."""
    out = []
    for spec in specs:
        if spec.startswith(EDITABLE):
            out += ["-e", spec[len(EDITABLE):].strip()]
        else:
            out.append(spec)
    return out


def machine_specific(specs: list[str]) -> list[str]:
    """The specs that name this machine's files (a folder, an archive, a file:// URL)."""
    return [s for s in specs if (source_url(s) or "").split("://", 1)[0].endswith("file")]  # file://, git+file://


def validate_names(names: list[str]) -> list[str]:
    """Package names (for --no-binary): a name, or :all:."""
    for name in names:
        if name != ":all:" and not _BARE_NAME.fullmatch(name):
            raise PyenvmodError(f"invalid package name {name!r} for --no-binary; give names like mpi4py,h5py")
    return names
