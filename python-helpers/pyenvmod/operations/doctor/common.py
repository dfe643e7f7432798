"""What several doctor checks share: the size of a folder, said for people, and whether a path is
in the user's home."""

import os
from pathlib import Path

from pyenvmod.trust import files


def size(path: Path) -> int:
    return files.tree_size(path)


def human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def under_home(ctx, path: Path) -> bool:
    home = os.path.realpath(ctx.home)
    return os.path.commonpath([home, os.path.realpath(path)]) == home
