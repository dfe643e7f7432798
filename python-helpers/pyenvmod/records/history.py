"""History of an environment: every change made through pyenvmod records the locked package set.

    ROOT/<platform>/history/NAME/0001.json   {"n", "time", "action", "args", "packages"}
"""

import json
import os
import re

from pyenvmod.records import metadata, package_diff
from pyenvmod.trust import files
from pyenvmod.errors import PyenvmodError
from pyenvmod.records.layout import Layout


def _checked(entry, path) -> dict:
    """A history entry with the types the commands rely on, or an error naming the file."""
    ok = (isinstance(entry, dict) and isinstance(entry.get("n"), int) and not isinstance(entry.get("n"), bool)
          and isinstance(entry.get("time"), str) and isinstance(entry.get("action"), str)
          and metadata._is_str_list(entry.get("args")) and metadata._is_str_map(entry.get("packages"))
          and metadata._is_str_list(entry.get("requested", [])) and metadata._is_str_map(entry.get("sources", {})))
    if not ok:
        raise PyenvmodError(f"history file {path} is corrupt (n, time, action, args, packages of the wrong "
                            "type or missing); delete it to go on")
    from datetime import datetime

    try:
        datetime.fromisoformat(entry["time"])
    except ValueError:
        raise PyenvmodError(f"history file {path} has no valid time; delete it to go on") from None
    return entry


def entries(layout: Layout, name: str, last: int | None = None) -> list[dict]:
    """The checked entries, read from the folder the layout gives (never through a symlink, each a
    regular file of at most ``HISTORY_MAX_BYTES``); with ``last``, only the newest ``last`` of them
    (a command needs one or two, and a long history would be read whole every time)."""
    from pyenvmod.trust.tree import HISTORY_MAX_BYTES, Tree

    tree = Tree(layout)
    folder = tree.history_dir(name)
    try:
        fd = files.open_dir(layout.root, folder)
    except FileNotFoundError:
        return []
    try:
        listed = sorted(n for n in os.listdir(fd) if re.fullmatch(r"[0-9]+\.json", n))
    finally:
        os.close(fd)
    if last is not None:
        listed = listed[-last:] if last > 0 else []
    result = []
    for filename in listed:
        path = folder / filename
        try:
            result.append(_checked(json.loads(tree.read(path, HISTORY_MAX_BYTES).decode("utf-8")), path))
        except PyenvmodError as exc:
            raise PyenvmodError(f"history file {exc.message}" if not exc.message.startswith("history") else
                                exc.message) from None
        except (OSError, ValueError, RecursionError) as exc:
            raise PyenvmodError(f"history file {path} is unreadable ({type(exc).__name__}); delete it to go on") \
                from None
    return result


def add(layout: Layout, name: str, action: str, args: list, packages: dict, requested: list = (),
        sources: dict | None = None) -> dict:
    from datetime import datetime, timezone

    from pyenvmod.trust.tree import Tree

    tree = Tree(layout)
    folder = tree.mkdir(tree.history_dir(name))
    previous = entries(layout, name, last=1)
    entry = {
        "n": (previous[-1]["n"] + 1) if previous else 1,
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "action": action,
        "args": list(args),
        "packages": dict(sorted(packages.items())),
        "requested": list(requested),
        "sources": dict(sorted((sources or {}).items())),
    }
    tree.write(folder / f"{entry['n']:04d}.json", json.dumps(entry, indent=2) + "\n")
    return entry


SPELLING = {package_diff.ADDED: "+{name}=={new}", package_diff.REMOVED: "-{name}=={old}",
            package_diff.CHANGED: "{name} {old} -> {new}"}


def changes(before: dict, after: dict) -> list[str]:
    """What changed between two package sets: +added, -removed, name old -> new."""
    return package_diff.changes(before, after, SPELLING)
