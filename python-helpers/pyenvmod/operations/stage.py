"""Stage an environment to node-local storage (``pyenvmod stage NAME``): run once per node in a job.

The image (made or refreshed by 'pack' when missing or stale) is unpacked into a temporary
folder in the user's private stage folder, its files are moved to the new place
(staging/relocate.py), the stacking hook is replaced by the staged one, and only then is
the folder renamed to its final name NAME-ID.STAMP: a partial copy never has that name,
so the launchers never use one. Several tasks on one node: one does the work under a lock,
the others find the copy made. No room on the node: the copy is not made, one task says so
on stderr, and python keeps running from the shared copy.
"""

import errno
import os
import stat
import subprocess
import time
from pathlib import Path

from pyenvmod.modules import render
from pyenvmod.records import provenance
from pyenvmod.trust import files, locking
from pyenvmod.trust.folders import Folder
from pyenvmod.config import Config
from pyenvmod.errors import PyenvmodError
from pyenvmod.operations import pack as pack_op
from pyenvmod.operations.common import layout_for, load_record, tree_for
from pyenvmod.staging import (IMAGE_FORMATS, copy_id, ensure_private_dir, idents_named, images_dir, is_copy_of,
                              read_stamp, stage_root)
from pyenvmod.staging import valid_stamp as read_stamp_text
from pyenvmod.staging import finish
from pyenvmod.staging import image as image_mod
from pyenvmod.staging import relocate

STAGE_TIMEOUT = 3600  # another task of this node is unpacking: wait for it
NO_SPACE_QUIET = 600  # after one task said 'no space', the node's other tasks stay quiet this long


class NoSpace(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


def _free_bytes(folder: Path) -> int:
    st = os.statvfs(folder)
    return st.f_bavail * st.f_frsize


def _unpack(image: Path, into: Path, manifest_size: int) -> None:
    free = _free_bytes(into.parent)
    needed = int(manifest_size * 1.1) + (16 << 20)
    if free < needed:
        raise NoSpace(f"needs {needed >> 20} MB, {free >> 20} MB free")
    # the image is a file any member may swap: tar reads it from a descriptor opened without following
    # a link or waiting on a FIFO, and checked to be a regular file
    try:
        fd = os.open(image, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise PyenvmodError(f"cannot read the image {image} ({exc.strerror}); run 'pyenvmod pack --force NAME' "
                            "and stage again") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PyenvmodError(f"the image {image} is not a regular file; run 'pyenvmod pack --force NAME' and "
                                "stage again")
        os.set_blocking(fd, True)
        result = subprocess.run(["tar", "--use-compress-program=zstd", "-x", "--no-same-owner", "-f", "-",
                                 "-C", str(into)], stdin=fd, capture_output=True, text=True)
    finally:
        os.close(fd)
    if result.returncode != 0:
        if "No space left" in result.stderr or "Disk quota" in result.stderr:
            raise NoSpace(f"needs {needed >> 20} MB; the disk filled up while unpacking")
        last = (result.stderr.strip().splitlines() or ["tar failed"])[-1]
        raise PyenvmodError(f"cannot unpack {image}: {last}; "
                            "run 'pyenvmod pack --force NAME' and stage again")


def _inside(top: Path, path: Path) -> bool:
    """True when ``path`` resolves inside ``top``: the manifest and the image are written by whoever
    packed them (in a group tree, any member), so no path from them may lead out of the copy."""
    real_top = os.path.realpath(top)
    return os.path.commonpath([real_top, os.path.realpath(path)]) == real_top


def _relocate(tmp: Path, final: Path, manifest) -> list:
    mapping = {old: str(final / new) for old, new in manifest.mapping.items()
               if old.startswith("/") and _inside(final, final / new)}
    for member in manifest.relocate:
        path = tmp / member
        if _inside(tmp, path) and path.is_file() and not path.is_symlink():
            try:
                relocate.rewrite(str(path), mapping, inside=tmp)  # no link inside the copy followed
            except PyenvmodError:
                continue  # a link on the way (the image is anyone's in a group tree): never followed
    cfg = tmp / "env" / "pyvenv.cfg"
    if "base" in manifest.trees and _inside(tmp, cfg) and cfg.is_file():  # the venv's interpreter: the copied one
        lines = files.read_bytes(cfg, 1 << 20, inside=tmp).decode("utf-8").splitlines()
        lines = [f"home = {final / 'base' / 'bin'}" if ln.split("=")[0].strip() == "home" else ln for ln in lines]
        files.write_atomic(cfg, "\n".join(lines) + "\n", inside=tmp)
    along = {str(Path(manifest.trees[f]) / rel): f"{f}/{rel}" for f, rel in manifest.site_packages.items()
             if f in manifest.trees}
    env = render.environment()
    hooks = []
    for folder, rel in manifest.site_packages.items():
        hook = tmp / folder / rel / "_pyenvmod_stack.py"
        if folder in manifest.trees and _inside(tmp, hook) and hook.is_file() and not hook.is_symlink():
            shared = str(Path(manifest.trees[folder]) / rel)
            context = {"shared_site": shared, "depth": len(Path(folder, rel).parts),
                       "along": {k: v for k, v in along.items() if k != shared}}
            files.write_atomic(hook, render.render_template("pyenvmod_stack_staged.py.j2", context, env), inside=tmp)
            hooks.append(hook)
    return hooks


def _remove_quietly(held, name: str) -> None:
    try:
        held.remove(name)
    except OSError:
        pass


def _remove_others(root: Path, ident: str, keep: str) -> None:
    """Older versions and leftovers of crashed stages of this environment (we hold its lock)."""
    for path in root.iterdir():
        if path.name != keep and is_copy_of(path.name, ident):
            files.remove_inside(path, root)


def stage(config: Config, name: str, notify=lambda m: None, warn=lambda m: None,
          image_file: Path | None = None) -> dict:
    """Make (or find) this node's copy of ``name``. Returns what was done: {'copy', 'action', 'seconds', ...}.
    ``image_file``: the image already on this node (broadcast by operations/stage_job.py), read instead of
    the shared one and never packed here."""
    started = time.monotonic()
    layout = layout_for(config)
    record = load_record(layout, name)
    provenance.check_for_pack(tree_for(config), record)  # what pack would refuse to read, stage refuses too
    source = image_mod.source_for(record)
    ident = copy_id(name, record.prefix)
    folder = images_dir(layout, name)
    image = folder / IMAGE_FORMATS["tar"]
    stamp = image_mod.stamp(source)
    root = stage_root(config)
    ensure_private_dir(root)
    final = root / f"{ident}.{stamp}"
    result = {"copy": str(final), "node": os.uname().nodename, "format": "tar.zst", "stamp": stamp}
    if final.is_dir():
        return dict(result, action="reused", seconds=time.monotonic() - started)
    with locking.locked(root / f"{ident}.lock", STAGE_TIMEOUT, f"staging {name!r} on this node"):
        if final.is_dir():  # another task of this node made it while we waited
            return dict(result, action="reused", seconds=time.monotonic() - started)
        marker = root / f".{ident}.{stamp}.nospace"
        try:
            if time.time() - marker.stat().st_mtime < NO_SPACE_QUIET:
                return dict(result, action="no-space-quiet", seconds=time.monotonic() - started)
        except FileNotFoundError:
            pass
        packed = None
        if image_file is not None:
            image = image_file
        elif read_stamp(folder / "stamp") != stamp or not image.is_file():  # else no lock on the shared disk
            try:
                packed = pack_op.pack(config, name, timeout=pack_op.PACK_TIMEOUT, notify=notify)[0]
            except PermissionError as exc:
                raise PyenvmodError(f"the image of {name!r} is missing or older than the environment, and you "
                                    f"may not write {exc.filename}; ask its owner to run 'pyenvmod pack {name}'") \
                    from None
        manifest = image_mod.read_manifest(folder / "manifest.json")
        if not read_stamp_text(manifest.stamp):  # it names a folder: never a path
            raise PyenvmodError(f"the image manifest {folder / 'manifest.json'} has no valid version stamp; run "
                                f"'pyenvmod pack --force {name}'")
        if manifest.stamp != stamp:  # changed again while packing: name the copy by what the image holds
            stamp = manifest.stamp
            final = root / f"{ident}.{stamp}"
            result.update(copy=str(final), stamp=stamp)
            if final.is_dir():
                return dict(result, action="reused", seconds=time.monotonic() - started)
        result["packed"] = packed is not None
        _remove_others(root, ident, keep=final.name)
        held = Folder.open_last(root)  # the private stage folder (checked above), held by its descriptor
        tmp = root / f".{ident}.{stamp}.tmp-{os.getpid()}"
        held.mkdir(tmp.name, 0o700)
        try:
            try:
                _unpack(image, tmp, manifest.size)
                manifest = image_mod.read_manifest(tmp / "manifest.json")  # what this image holds
                if manifest.stamp != stamp:  # packed again meanwhile (another node): name it by its content
                    if not read_stamp_text(manifest.stamp):
                        raise PyenvmodError(f"the image {image} has no valid version stamp; run "
                                            f"'pyenvmod pack --force {name}'")
                    stamp, final = manifest.stamp, root / f"{ident}.{manifest.stamp}"
                    result.update(copy=str(final), stamp=stamp)
                finish.finish(tmp, manifest, _relocate(tmp, final, manifest))  # pip to the shared env, fresh .pyc
                files.write_atomic(tmp / ".stamp", stamp + "\n", inside=root)
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise NoSpace(f"the disk filled up while unpacking ({exc.strerror})") from None
                raise
            if final.is_dir():  # the same version, staged meanwhile: keep that one
                held.remove(tmp.name)
            else:
                held.rename(tmp.name, final.name)
        except NoSpace as exc:
            _remove_quietly(held, tmp.name)
            try:
                held.write(marker.name, "")  # the node's other tasks stay quiet
            except OSError:
                pass
            held.close()
            warn(f"cannot stage {name!r} on {result['node']}: no space left in {root} ({exc.message}); python "
                 f"runs from the shared copy on this node. Set stage_dir (or $TMPDIR) to a larger node-local disk")
            return dict(result, action="no-space", seconds=time.monotonic() - started)
        except BaseException:
            _remove_quietly(held, tmp.name)
            held.close()
            raise
        held.unlink(marker.name, missing_ok=True)
        held.close()
    return dict(result, action="staged", seconds=time.monotonic() - started, size=manifest.size)


def clean(config: Config, name: str) -> list[str]:
    """Remove this node's copies of ``name`` (every version). Returns what was removed. A name that is
    not registered (renamed or deleted since it was staged) is cleaned by its copies' names alone:
    every copy called NAME-ID on this node, whatever the environment's folder was."""
    from pyenvmod.records import names

    layout = layout_for(config)
    registered = os.path.lexists(layout.meta_file(names.validate(name)))
    own = copy_id(name, load_record(layout, name).prefix) if registered else None
    root = stage_root(config)
    if not root.is_dir():
        return []
    ensure_private_dir(root)
    removed = []
    for ident in [own] if registered else idents_named(os.listdir(root), name):
        with locking.locked(root / f"{ident}.lock", STAGE_TIMEOUT, f"staging {name!r} on this node"):
            for path in sorted(root.iterdir()):
                if is_copy_of(path.name, ident):
                    files.remove_inside(path, root)
                    removed.append(str(path))
    return removed
