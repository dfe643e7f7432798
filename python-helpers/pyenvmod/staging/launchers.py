"""The launchers in ROOT/<arch>/images/NAME/bin: one per program of the environment (python,
pip, console scripts), first on PATH while the module is loaded (see stage-launcher.sh.j2).

They are written with the modulefiles (create, install, ...), not only by 'pack': a shell
that ran ``python`` before the folder existed would keep running the environment's python
by a remembered path while passing the bare name ``python``, and Python, finding its
executable by searching PATH for that name, would take the launcher's folder for its own.
"""

import os
from pathlib import Path

from pyenvmod.modules import render, stacking
from pyenvmod.errors import PyenvmodError
from pyenvmod.trust import files
from pyenvmod.trust.folders import Folder
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
               # --extends: the image holds the base too, so a change to it makes the copy stale as well
               "ext_site_packages": str(stacking.site_packages(record.extends["prefix"], python_mm))
               if record.extends and record.extends.get("prefix") else "",
               "stage_dir": stage_dir or ""}
    text = render.render_template("stage-launcher.sh.j2", context)
    wanted = programs(record.prefix)
    if _current(layout, folder, wanted, text):
        return folder  # nothing to write: the same programs, the same launcher
    mode = 0o775 & ~files.umask()
    # the image folder held by its descriptor (no symlinked folder on the way), the new launchers
    # made in a folder with an unpredictable name inside it, then swapped in whole: a member who
    # swaps a name for a link meanwhile never gets a file of someone else written or chmod-ed
    with Folder.open(layout.root, folder.parent, create_mode=0o777) as parent:
        tmp = parent.mkdtemp(".bin.", 0o700)
        try:
            with parent.sub(tmp) as made:
                for program in wanted:
                    made.write(program, text, mode=mode)
                # keep the setgid bit a group tree's folders pass on
                made.fchmod_self(mode | (os.fstat(parent.fd).st_mode & 0o2000))
                mine = os.fstat(made.fd)
            if parent.exists(folder.name) and not parent.is_link(folder.name):
                parent.exchange(folder.name, tmp)
                parent.remove(tmp)
            else:
                parent.unlink(folder.name, missing_ok=True)  # a link left there: only the link goes
                parent.rename_new(tmp, folder.name)
            if not os.path.samestat(mine, parent.lstat(folder.name)):
                parent.remove(folder.name)  # what a member swapped in (a link goes as a link)
                raise PyenvmodError(f"someone replaced the launcher folder being written in {folder.parent}; "
                                    "check who can write there, then run the command again")
        except BaseException:
            parent.remove(tmp)
            raise
    return folder
