"""The launchers in ROOT/<arch>/images/NAME/bin: one per program of the environment (python,
pip, console scripts), first on PATH while the module is loaded (see stage-launcher.sh.j2).

They are written with the modulefiles (create, install, ...), not only by 'pack': a shell
that ran ``python`` before the folder existed would keep running the environment's python
by a remembered path while passing the bare name ``python``, and Python, finding its
executable by searching PATH for that name, would take the launcher's folder for its own.
"""

import os
import shutil
import tempfile
from pathlib import Path

from pyenvmod import render, stacking
from pyenvmod.trust import files
from pyenvmod.staging import copy_id, images_dir, launcher_dir


def programs(prefix: str) -> list[str]:
    bin_dir = Path(prefix) / "bin"
    try:
        entries = sorted(bin_dir.iterdir())
    except OSError:
        return []
    return [p.name for p in entries
            if os.access(p, os.X_OK) and not p.is_dir() and not p.name.startswith(("activate", "deactivate"))
            and p.name.isprintable()]


def _current(layout, folder: Path, wanted: list, text: str) -> bool:
    """The launcher folder holds exactly one launcher per program in ``wanted``, each ``text`` with
    the mode ``write`` gives it (a real folder, no symlink on the way)."""
    try:
        if folder.is_symlink() or sorted(os.listdir(folder)) != sorted(wanted):
            return False
    except OSError:
        return False
    mode = 0o775 & ~files.umask()
    return all(files.holds(folder / program, text, inside=layout.root, mode=mode) for program in wanted)


def write(layout, record, stage_dir: str | None = None) -> Path:
    """(Re)write the launchers of ``record`` atomically (the folder is swapped whole)."""
    folder = launcher_dir(layout, record.name)
    python_mm = ".".join(record.python.split(".")[:2])
    context = {"name": record.name, "prefix": record.prefix, "copy_id": copy_id(record.name, record.prefix),
               "stamp_file": str(images_dir(layout, record.name) / "stamp"),
               "site_packages": str(stacking.site_packages(record.prefix, python_mm)),
               "stage_dir": stage_dir or ""}
    text = render.render_template("stage-launcher.sh.j2", context)
    wanted = programs(record.prefix)
    if _current(layout, folder, wanted, text):
        return folder  # nothing to write: the same programs, the same launcher
    files.make_dirs(layout.root, folder.parent)  # refusing a symlinked folder on the way
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".bin."))
    try:
        for program in wanted:
            path = tmp / program
            path.write_text(text, encoding="utf-8")
            os.chmod(path, 0o775 & ~files.umask())
        # mkdtemp makes 0700; keep the setgid bit a group tree's folders pass on
        os.chmod(tmp, (0o775 & ~files.umask()) | (folder.parent.stat().st_mode & 0o2000))
        if folder.is_dir():
            files.exchange(folder, tmp)
            shutil.rmtree(tmp)
        else:
            os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder
