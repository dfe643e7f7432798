"""History of an environment: every change made through pyenvmod records the locked package set.

    ROOT/<platform>/history/NAME/0001.json   {"n", "time", "action", "args", "packages"}
"""

import json
from datetime import datetime, timezone

from pyenvmod import files
from pyenvmod.errors import PyenvmodError
from pyenvmod.layout import Layout


def entries(layout: Layout, name: str) -> list[dict]:
    folder = layout.history_dir(name)
    result = []
    for path in sorted(folder.glob("[0-9]*.json")) if folder.is_dir() else []:
        try:
            result.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise PyenvmodError(f"history file {path} is unreadable ({exc}); delete it to go on") from None
    return result


def add(layout: Layout, name: str, action: str, args: list, packages: dict, requested: list = (),
        sources: dict | None = None) -> dict:
    folder = layout.history_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    previous = entries(layout, name)
    entry = {
        "n": (previous[-1]["n"] + 1) if previous else 1,
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "action": action,
        "args": list(args),
        "packages": dict(sorted(packages.items())),
        "requested": list(requested),
        "sources": dict(sorted((sources or {}).items())),
    }
    files.write_atomic(folder / f"{entry['n']:04d}.json", json.dumps(entry, indent=2) + "\n")
    return entry


def changes(before: dict, after: dict) -> list[str]:
    """What changed between two package sets: +added, -removed, name old -> new."""
    out = []
    for name in sorted(set(before) | set(after)):
        if name not in before:
            out.append(f"+{name}=={after[name]}")
        elif name not in after:
            out.append(f"-{name}=={before[name]}")
        elif before[name] != after[name]:
            out.append(f"{name} {before[name]} -> {after[name]}")
    return out
