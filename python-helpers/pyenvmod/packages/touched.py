"""What one install, update or removal wrote into an environment, so that the permission fixes after
it (no write for others; in a group tree, the tree's group) look at those files only, not at every
file of a large environment: a walk of 50,000 files took 120 ms here, and takes far longer on a
parallel file system, after every command.

Before the change, ``stamps`` notes each distribution the record knows (its dist-info folder's inode
and change time); after it, ``written`` gives the files of every distribution that is new or was
reinstalled (from its RECORD), their folders, and the top level of the environment, of ``bin`` and
of site-packages (uv's lock file, scripts, .pth files). A distribution the record does not know
(installed by hand since, perhaps under another umask) counts as new. When a new distribution's
RECORD cannot be read, ``written`` returns None and the caller checks everything.
"""

import os
from pathlib import Path

from pyenvmod.packages import dist_info

RECORD_MAX_BYTES = 64 * 1024 * 1024  # torch's RECORD is about 2 MB


def stamps(prefix, known: dict) -> dict:
    """{dist-info folder: (inode, change time)} of the distributions in ``known`` ({name: version},
    the record's package set) that are installed now."""
    wanted = {(dist_info.canonical_name(n), v) for n, v in known.items()}
    found = {}
    for site in dist_info.sites(prefix):
        try:
            entries = list(os.scandir(site))
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith(".dist-info") and dist_info.folder_key(entry.name) in wanted:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                found[entry.path] = (st.st_ino, st.st_ctime_ns)
    return found


def _record_rows(folder: str) -> list | None:
    """The paths a RECORD lists, or None when it cannot be read (missing, a symlink, too large)."""
    import csv
    import io

    from pyenvmod.trust import files
    from pyenvmod.errors import PyenvmodError

    try:
        data = files.read_bytes(Path(folder) / "RECORD", RECORD_MAX_BYTES)
        return [row[0] for row in csv.reader(io.StringIO(data.decode("utf-8"))) if row]
    except (OSError, PyenvmodError, UnicodeDecodeError, csv.Error):
        return None


def written(prefix, before: dict) -> list | None:
    """The paths (inside ``prefix``) that the change since ``before`` (``stamps``) may have written,
    folders before what they hold; None when that cannot be told."""
    prefix = os.path.normpath(os.path.abspath(prefix))
    out = set()

    def add(path):
        while path.startswith(prefix + os.sep) and path not in out:  # the path and its folders
            out.add(path)
            path = os.path.dirname(path)

    for top in [prefix, os.path.join(prefix, "bin"), *dist_info.sites(prefix)]:
        try:
            for entry in os.scandir(top):
                add(entry.path)
        except OSError:
            continue
    for site in dist_info.sites(prefix):
        for entry in os.scandir(site):
            if not entry.name.endswith(".dist-info"):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if before.get(entry.path) == (st.st_ino, st.st_ctime_ns):
                continue
            rows = _record_rows(entry.path)
            if rows is None:
                return None
            add(entry.path)
            for row in rows:
                add(os.path.normpath(os.path.join(site, row)))  # '../../../bin/x' too; outside: dropped
    return sorted(out)
