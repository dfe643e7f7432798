"""Node-local copies of environments for parallel jobs ('pyenvmod pack' and 'pyenvmod stage').

    ROOT/<arch>-<os>/images/NAME/image.tar.zst   the packed environment (one per version)
    ROOT/<arch>-<os>/images/NAME/image.sqfs      ... or a squashfs image (mounted with squashfuse)
    ROOT/<arch>-<os>/images/NAME/stamp           the version the image holds (written last)
    ROOT/<arch>-<os>/images/NAME/bin/            launchers the modulefile puts first on PATH

    STAGE_DIR/pyenvmod-USER/                     yours only (0700), on each node
    STAGE_DIR/pyenvmod-USER/NAME-ID.STAMP/       a complete copy (renamed into place when done)
    STAGE_DIR/pyenvmod-USER/NAME-ID.lock         one stage at a time per node

ID is a hash of the environment's prefix (two trees may hold the same NAME); STAMP names
the version, so a copy of an older version is never used. The launchers and the stacking
hook find a copy from these names alone (see the templates stage-launcher.sh.j2 and
pyenvmod_stack_staged.py.j2, which repeat the hash).
"""

import getpass
import os
from pathlib import Path

from pyenvmod.errors import PyenvmodError
from pyenvmod.records.layout import Layout

IMAGE_FORMATS = {"tar": "image.tar.zst", "squashfs": "image.sqfs"}


STAMP_MAX_BYTES = 64  # a stamp file holds 12 hex digits and a newline
ID_DIGITS = 10  # of a copy's ID (pyenvmod_stack_staged.py.j2 repeats the hash and its length)


def fnv(text: str) -> str:
    """FNV-1a (64 bit) of ``text``, 10 hex digits: short, and easy to repeat in a template without imports."""
    value = 0xCBF29CE484222325
    for byte in text.encode("utf-8", "surrogateescape"):
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"[:ID_DIGITS]


def copy_id(name: str, prefix: str) -> str:
    return f"{name}-{fnv(os.path.normpath(prefix))}"


def is_copy_of(filename: str, ident: str) -> bool:
    """``filename`` in the stage folder is a copy of ``ident`` (NAME-ID.STAMP) or the leftover of a
    stage of it (.NAME-ID....), not its lock file."""
    return filename.startswith((ident + ".", f".{ident}.")) and not filename.endswith(".lock")


def idents_named(filenames, name: str) -> list[str]:
    """The IDs NAME-ID that files of the stage folder name for environment ``name``, whatever its folder."""
    import re

    pattern = re.compile(rf"\.?({re.escape(name)}-[0-9a-f]{{{ID_DIGITS}}})\..+")
    return sorted({m.group(1) for m in map(pattern.fullmatch, filenames) if m})


def images_dir(layout: Layout, name: str) -> Path:
    """What 'pyenvmod pack' writes for ``name`` (a valid name only): its image, stamp and launchers."""
    return layout.base / "images" / layout.valid(name)


def launcher_dir(layout: Layout, name: str) -> Path:
    return images_dir(layout, name) / "bin"


def user() -> str:
    """The user name the launchers use too: $USER, else the account's."""
    return os.environ.get("USER") or getpass.getuser()


def stage_dir(config) -> str:
    """The configured stage_dir, else $TMPDIR, else /tmp (what the launchers compute too)."""
    return config["stage_dir"] or os.environ.get("TMPDIR") or "/tmp"


def stage_root(config) -> Path:
    return Path(stage_dir(config)) / f"pyenvmod-{user()}"


def valid_stamp(text: str) -> str:
    """``text`` when it is a stamp (12 lowercase hex digits), else ''."""
    return text if isinstance(text, str) and len(text) == 12 and all(c in "0123456789abcdef" for c in text) else ""


def read_stamp(path: Path) -> str:
    """The stamp in a file, or '' when missing or not a stamp (a file anyone in a group may write:
    a FIFO, a symlink or a huge file there is no stamp, and is never waited on or read whole)."""
    from pyenvmod.trust import files

    try:
        return valid_stamp(files.read_bytes(path, STAMP_MAX_BYTES).decode("ascii", errors="replace").strip())
    except (OSError, PyenvmodError):
        return ""


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (mode 0700) or check that it is ours and private: launchers run what is in it.
    Only this per-user folder is made: the stage folder it goes in is the site's (node-local storage
    such as /tmp or /local/scratch); made by the first user who staged, it would lock out the rest.
    The folder gets the user's group: the launchers test -G, which a folder a group member can move
    there fails."""
    from pyenvmod.trust import files

    files.private_dir(path, "set stage_dir (or $TMPDIR) to a writable node-local folder",
                      "set stage_dir (or $TMPDIR) to another folder",
                      missing="pyenvmod makes only its own folder in it: the site's admin (stage_dir in the site "
                              "configuration) or you (stage_dir, or $TMPDIR) must point stage_dir at an existing "
                              "node-local folder", group=True)
