"""Changes made outside pyenvmod: a plain ``pip install`` after ``module load`` (what the guide
recommends) changes the environment without pyenvmod knowing. The next pyenvmod command that
works on the environment compares its distributions (read from their METADATA files, nothing is
run) with the package set recorded last; a difference becomes its own history entry
("changed outside pyenvmod"), and the packages installed that way count as requested, like those
installed with ``pyenvmod install``.
"""

import os
from pathlib import Path

from pyenvmod.records import package_diff

ACTION = "outside"  # the history entry's action; 'pyenvmod history' shows it as SHOWN
SHOWN = "changed outside pyenvmod"


def _canonical(name: str) -> str:
    from packaging.utils import canonicalize_name

    return canonicalize_name(name)


def _version(text: str) -> str:
    from packaging.version import InvalidVersion, Version

    try:
        return str(Version(text))
    except InvalidVersion:
        return text


def normalised(packages: dict) -> dict:
    """{canonical name: normalised version}: listings from pip, uv and METADATA files compare equal."""
    return {_canonical(n): _version(v) for n, v in packages.items()}


def _metadata(prefix) -> dict:
    """{canonical name: (version, [canonical names it requires], dist-info folder)} of the environment's
    own distributions (an optional extra's requirements do not count)."""
    from pyenvmod.packages import dist_info

    return {_canonical(dist.name): (_version(dist.version), [_canonical(r.name) for r in dist.requirements()],
                                    dist.path)
            for dist in dist_info.installed(prefix)}


def _listing(prefix) -> dict:
    """{canonical name: version} as the names of the environment's NAME-VERSION.dist-info folders say
    (pip and uv name them so). Equal to the recorded set: nothing was installed or removed since; any
    difference, even in spelling only, is left to the METADATA files to decide."""
    from pyenvmod.packages import dist_info

    found = {}
    for site in dist_info.sites(prefix):
        try:
            entries = os.listdir(site)
        except OSError:
            continue
        found.update(dist_info.folder_key(e) for e in entries if e.endswith(".dist-info"))
    return found


def _complete(dist_info: Path) -> bool:
    """Every file its RECORD lists is there: not the leftover of an install that failed half-way
    (a full disk, say), which pyenvmod reported as failed and must not record as a change."""
    import csv

    site = dist_info.parent
    from pyenvmod.packages.dist_info import read_regular

    try:  # a regular file, opened without waiting (a member's FIFO), capped
        text = read_regular(dist_info / "RECORD", 256 << 20).decode("utf-8")
        paths = [row[0] for row in csv.reader(text.splitlines()) if row]
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return all(os.path.lexists(site / path) for path in paths)


def differences(record) -> tuple[dict, dict] | None:
    """(live {name: version}, {name: [what requires it]}) when the environment's distributions differ
    from the recorded set; None when they agree, or for conda and adopted environments."""
    if record.backend == "conda" or record.adopted:
        return None
    from pyenvmod.packages.dist_info import canonical_name

    if _listing(record.prefix) == {canonical_name(n): v for n, v in record.packages.items()}:
        return None  # the common case, decided without reading a file or importing the parser
    live = _metadata(record.prefix)
    if not live:  # no site-packages at all: a broken environment, reported elsewhere
        return None
    recorded = normalised(record.packages)
    if {n: v for n, (v, *_) in live.items()} == recorded:
        return None
    # what is new or changed must be wholly installed to count (only those are checked: a few files)
    live = {n: d for n, d in live.items() if recorded.get(n) == d[0] or _complete(d[2])}
    if {n: v for n, (v, *_) in live.items()} == recorded:
        return None
    required = {}
    for name, (_version_, requires, _where) in live.items():
        for dep in requires:
            required.setdefault(dep, []).append(name)
    return {n: v for n, (v, *_) in live.items()}, required


def reconcile(config, layout, record, backend, notify) -> list[str]:
    """With the environment's lock held: record a change made outside pyenvmod, if there is one, as its
    own history entry, and count what was installed that way as requested. Returns the change lines."""
    found = differences(record)
    if found is None:
        return []
    from datetime import datetime, timezone

    from pyenvmod.modules import modulefiles
    from pyenvmod.records import history, metadata
    from pyenvmod.staging import launchers
    from pyenvmod.packages.installed import snapshot

    live, required = found
    before = normalised(record.packages)
    added = sorted(n for n in live if n not in before)
    removed = {n for n in before if n not in live}
    # installed by hand: what nothing else installed requires (its dependencies came along with it)
    wanted = [n for n in added if n not in required and n != "pip"]
    snapshot(record, backend)
    requested = [r for r in record.requested if _requested_name(r) not in removed]
    known = {_requested_name(r) for r in requested}
    # from a folder or URL: as 'name @ url', so that 'pyenvmod update' finds it again
    from_sources = {_canonical(n): spec for n, spec in record.sources.items()}
    record.requested = requested + [from_sources.get(n, n) for n in wanted if n not in known]
    record.updated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    options = modulefiles.options_from(config)
    modulefiles.write(layout, record, options)  # what operations.common.write_modulefiles does (a layer up)
    launchers.write(layout, record, options["stage_dir"])
    metadata.write(layout.meta_file(record.name), record)
    history.add(layout, record.name, ACTION, [], record.packages, record.requested, record.sources)
    lines = describe(before, normalised(record.packages))
    notify(f"{record.name!r} was {SHOWN} since its last change (recorded in its history): " + ", ".join(lines))
    return lines


def _requested_name(spec: str) -> str:
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        return _canonical(Requirement(spec).name)
    except InvalidRequirement:
        return _canonical(spec)


SPELLING = {package_diff.ADDED: "added {name} {new}", package_diff.REMOVED: "removed {name} {old}",
            package_diff.CHANGED: "{name} {old} -> {new}"}


def describe(before: dict, after: dict) -> list[str]:
    """What changed, for people: 'numpy 1.26.4 -> 2.1.0', 'added idna 3.10', 'removed six 1.16.0'."""
    return package_diff.changes(normalised(before), normalised(after), SPELLING)
