"""What more than one command prints or asks: the next steps after a new environment (create,
adopt), the report of a package change (install, update, remove, rollback), -e PATH as a spec
(create, install), a question with its default (init, site init). The command modules never import
each other (the commands-independent contract of pyproject.toml): what two of them share comes here,
or into an operation when it is work rather than output. On the way to uv, like the commands that
use it: nothing imported here at the top but the standard library's os and sys.
"""

import os
import sys


def on_modulepath(folder) -> bool:
    wanted = os.path.realpath(folder)
    return any(p and os.path.realpath(p) == wanted for p in os.environ.get("MODULEPATH", "").split(":"))


def print_next_steps(layout, name: str) -> None:
    """Exactly what to type next: 'module use' only while the tree is not on MODULEPATH."""
    print("To use it, type:")
    if not on_modulepath(layout.modules_dir):
        print(f"  module use {layout.modules_dir}")
    print(f"  module load pyenv/{name}")


def editable(paths) -> list:
    """-e PATH as one spec string, '-e PATH', which stays one word until pip or uv is run."""
    from pyenvmod.packages.requirements import EDITABLE

    return [EDITABLE + path for path in paths]


def editable_changes(before: list, record) -> list:
    """Folders asked for again, now with -e or now without it: same version, so no package line says so."""
    from pyenvmod.operations.env_packages import installed_from
    from pyenvmod.packages.requirements import EDITABLE

    def folders(specs, editable):
        return {s[len(EDITABLE):].strip() if s.startswith(EDITABLE) else s for s in specs
                if s.startswith(EDITABLE) == editable}

    out = []
    for now, was, change in ((True, False, "now editable"), (False, True, "no longer editable")):
        for folder in sorted(folders(record.requested, now) & folders(before, was)):
            names = sorted(installed_from(folder, record.sources)) or [folder.rstrip("/").rsplit("/", 1)[-1]]
            out += [f"{name} {change} ({EDITABLE if now else ''}{folder})" for name in names]
    return out


def report(config, record, problems, heading=""):
    """What this change did, package by package (from the last two history entries), or that nothing
    changed; then the broken requirements, once."""
    from pyenvmod.packages import outside
    from pyenvmod.records import history
    from pyenvmod.operations.common import layout_for

    entries = history.entries(layout_for(config), record.name, last=2)
    lines = outside.describe(entries[-2]["packages"] if len(entries) > 1 else {}, record.packages)
    lines += editable_changes(entries[-2].get("requested", []) if len(entries) > 1 else [], record)
    if lines:
        print(heading or f"Updated {record.name!r}:")
        for line in lines:
            print(f"  {line}")
    else:
        print(f"Nothing changed in {record.name!r}: already up to date.")
    if problems:
        print(f"Broken requirements in {record.name!r} (pip check):", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
    return 0


def ask(question: str, default: str, yes: bool) -> str:
    if yes:
        return default
    answer = input(f"{question} [{default}]: ").strip()
    return answer or default
