"""The parsed configuration files, kept between commands: importing the YAML parser takes about
10 ms, more than all the rest of a short command (``pyenvmod prefix``) at a site whose
configuration file exists.

An entry holds a file's whole text and what it parsed to; it is used only for that exact text of
that file, read again (and trust-checked, see ``config._read_file``) by every command. The cache
is the user's own (``$XDG_CACHE_HOME/pyenvmod/config.json``, else ``~/.cache``; mode 0600):
changing it changes only what that user's pyenvmod believes, as editing their own configuration
file does. Anything in it that is not what this module wrote is ignored, and so is the whole file
when it is not the user's own (private_files.read_own: owner, mode, folder): in a shared
XDG_CACHE_HOME another user could otherwise plant settings (an ``lmod_cache_update`` command).
Locked site keys never come from it (config._read_file parses a site file that locks keys).
"""

import json
import os
from pathlib import Path

MAX_BYTES = 4_000_000  # a few configuration files of at most 1 MB each
KEPT = 8  # files remembered: the site's and the user's, and a few more for tests and other trees


def cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "pyenvmod" / "config.json"


def _load() -> dict:
    from pyenvmod.trust import private_files
    from pyenvmod.errors import PyenvmodError

    try:  # only the user's own file, in their own folder: a shared XDG_CACHE_HOME must not plant entries
        data = json.loads(private_files.read_own(cache_file(), MAX_BYTES, "configuration cache").decode("utf-8"))
    except (OSError, ValueError, PyenvmodError):  # missing, unreadable, a symlink, others', not JSON: none
        return {}
    return data if isinstance(data, dict) else {}


def _is_entry(item) -> bool:
    return isinstance(item, list) and len(item) == 3 and isinstance(item[2], str)


def entries(path, text: str) -> list | None:
    """The (key, value, line) entries ``text`` of ``path`` parsed to, or None when not cached."""
    hit = _load().get(str(path))
    if not (isinstance(hit, dict) and hit.get("text") == text and isinstance(hit.get("entries"), list)
            and all(_is_entry(e) for e in hit["entries"])):
        return None
    return [tuple(e) for e in hit["entries"]]


def keep(path, text: str, found: list) -> None:
    """Remember what ``text`` of ``path`` parsed to, when JSON holds it exactly (YAML may also give
    dates or mappings with other keys than texts: those are parsed every time)."""
    from pyenvmod.trust import files, private_files

    rows = [list(e) for e in found]
    try:
        if json.loads(json.dumps(rows)) != rows:
            return
    except (TypeError, ValueError):
        return
    cache = {k: v for k, v in _load().items() if k != str(path)}
    cache[str(path)] = {"text": text, "entries": rows}
    target = cache_file()
    try:
        files.make_root(target.parent, 0o700)
        if not private_files.own_folder(target.parent, "configuration cache folder"):
            return  # another user's folder: nothing of ours goes there
        files.write_atomic(target, json.dumps(dict(list(cache.items())[-KEPT:])), mode=0o600)
    except OSError:
        pass  # a cache that cannot be written only costs time
