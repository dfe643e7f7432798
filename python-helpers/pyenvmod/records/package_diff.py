"""What changed between two package sets ({name: version}), one line per package, in the
spelling the caller gives: ``pyenvmod history`` writes ``+idna==3.10``, the summary of an
install or update ``added idna 3.10``.

A spelling maps each kind of change to a ``str.format`` template with the fields
``name``, ``old`` and ``new`` (the version before and after; None where there is none).
"""

ADDED, REMOVED, CHANGED = "added", "removed", "changed"


def changes(before: dict, after: dict, spelling: dict) -> list[str]:
    """The packages added, removed or changed between ``before`` and ``after``, by name."""
    out = []
    for name in sorted(set(before) | set(after)):
        if name not in before:
            kind = ADDED
        elif name not in after:
            kind = REMOVED
        elif before[name] != after[name]:
            kind = CHANGED
        else:
            continue
        out.append(spelling[kind].format(name=name, old=before.get(name), new=after.get(name)))
    return out
