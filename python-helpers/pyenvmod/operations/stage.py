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


# what GNU tar says when the disk fills up: a write that failed, or one cut short ("Wrote only 9216 of
# 10240 bytes", then no errno at all: the usual case on a full disk)
_DISK_FULL = ("No space left", "Disk quota", "Wrote only")


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
        # tar's messages in English (LC_ALL=C): they are searched for the disk filling up
        result = subprocess.run(["tar", "--use-compress-program=zstd", "-x", "--no-same-owner", "-f", "-",
                                 "-C", str(into)], stdin=fd, capture_output=True, text=True,
                                env=dict(os.environ, LC_ALL="C"))
    finally:
        os.close(fd)
    if result.returncode != 0:
        if any(sign in result.stderr for sign in _DISK_FULL):
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


class _Plan:
    """What one stage of ``name`` on this node works with: its copy's name and where the image is."""

    def __init__(self, config: Config, name: str, image_file: Path | None):
        self.started, self.config, self.name = time.monotonic(), config, name
        layout = layout_for(config)
        record = load_record(layout, name)
        provenance.check_for_pack(tree_for(config), record)  # what pack would refuse to read, stage refuses too
        self.ident, self.folder = copy_id(name, record.prefix), images_dir(layout, name)
        self.image_file, self.image = image_file, self.folder / IMAGE_FORMATS["tar"]
        self.stamp, self.root = image_mod.stamp(image_mod.source_for(record)), stage_root(config)
        self.result = {"copy": "", "node": os.uname().nodename, "format": "tar.zst", "stamp": ""}
        self.name_copy(self.stamp)

    def name_copy(self, stamp: str) -> None:
        """The copy is named by the version the image holds."""
        self.stamp, self.final = stamp, self.root / f"{self.ident}.{stamp}"
        self.result.update(copy=str(self.final), stamp=stamp)

    def done(self, action: str, **more) -> dict:
        return dict(self.result, action=action, seconds=time.monotonic() - self.started, **more)


def stage(config: Config, name: str, notify=lambda m: None, warn=lambda m: None,
          image_file: Path | None = None) -> dict:
    """Make (or find) this node's copy of ``name``. Returns what was done: {'copy', 'action', 'seconds', ...}.
    ``image_file``: the image already on this node (broadcast by operations/stage_job.py), read instead of
    the shared one and never packed here."""
    plan = _Plan(config, name, image_file)
    ensure_private_dir(plan.root)
    if plan.final.is_dir():
        return plan.done("reused")
    with locking.locked(plan.root / f"{plan.ident}.lock", STAGE_TIMEOUT, f"staging {name!r} on this node"):
        if plan.final.is_dir():  # another task of this node made it while we waited
            return plan.done("reused")
        marker = plan.root / f".{plan.ident}.{plan.stamp}.nospace"
        try:
            if time.time() - marker.stat().st_mtime < NO_SPACE_QUIET:
                return plan.done("no-space-quiet")
        except FileNotFoundError:
            pass
        image, packed = _current_image(plan, notify)
        manifest = image_mod.read_manifest(plan.folder / "manifest.json")
        _check_stamp(manifest, f"the image manifest {plan.folder / 'manifest.json'}", name)
        if manifest.stamp != plan.stamp:  # changed again while packing: name the copy by what the image holds
            plan.name_copy(manifest.stamp)
            if plan.final.is_dir():
                return plan.done("reused")
        plan.result["packed"] = packed
        _remove_others(plan.root, plan.ident, keep=plan.final.name)
        try:
            manifest = _make_copy(plan, image, manifest, marker.name)
        except NoSpace as exc:
            warn(f"cannot stage {name!r} on {plan.result['node']}: no space left in {plan.root} ({exc.message}); "
                 "python runs from the shared copy on this node. Set stage_dir (or $TMPDIR) to a larger node-local "
                 "disk")
            return plan.done("no-space")
    return plan.done("staged", size=manifest.size)


def _current_image(plan: _Plan, notify) -> tuple[Path, bool]:
    """The image to unpack, and whether it was packed now: the broadcast copy when there is one, else
    the shared image, packed first when it is missing or older than the environment."""
    if plan.image_file is not None:
        return plan.image_file, False
    if read_stamp(plan.folder / "stamp") == plan.stamp and plan.image.is_file():  # no lock on the shared disk
        return plan.image, False
    try:
        packed = pack_op.pack(plan.config, plan.name, timeout=pack_op.PACK_TIMEOUT, notify=notify)[0]
    except PermissionError as exc:
        raise PyenvmodError(f"the image of {plan.name!r} is missing or older than the environment, and you may "
                            f"not write {exc.filename}; ask its owner to run 'pyenvmod pack {plan.name}'") from None
    return plan.image, packed is not None


def _check_stamp(manifest, what: str, name: str) -> None:
    if not read_stamp_text(manifest.stamp):  # it names a folder: never a path
        raise PyenvmodError(f"{what} has no valid version stamp; run 'pyenvmod pack --force {name}'")


def _make_copy(plan: _Plan, image: Path, manifest, marker: str):
    """Unpack ``image`` into a temporary folder of the stage folder, relocate it and rename it to the
    copy's name. Returns the manifest the image holds; raises NoSpace (the ``marker`` written) when the
    node's disk is too small."""
    held = Folder.open_last(plan.root)  # the private stage folder (checked), held by its descriptor
    tmp = plan.root / f".{plan.ident}.{plan.stamp}.tmp-{os.getpid()}"
    held.mkdir(tmp.name, 0o700)
    try:
        try:
            _unpack(image, tmp, manifest.size)
            manifest = image_mod.read_manifest(tmp / "manifest.json")  # what this image holds
            if manifest.stamp != plan.stamp:  # packed again meanwhile (another node): name it by its content
                _check_stamp(manifest, f"the image {image}", plan.name)
                plan.name_copy(manifest.stamp)
            finish.finish(tmp, manifest, _relocate(tmp, plan.final, manifest))  # pip to the shared env, fresh .pyc
            files.write_atomic(tmp / ".stamp", plan.stamp + "\n", inside=plan.root)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise NoSpace(f"the disk filled up while unpacking ({exc.strerror})") from None
            raise
        if plan.final.is_dir():  # the same version, staged meanwhile: keep that one
            held.remove(tmp.name)
        else:
            held.rename(tmp.name, plan.final.name)
    except NoSpace:
        _remove_quietly(held, tmp.name)
        try:
            held.write(marker, "")  # the node's other tasks stay quiet
        except OSError:
            pass
        held.close()
        raise
    except BaseException:
        _remove_quietly(held, tmp.name)
        held.close()
        raise
    held.unlink(marker, missing_ok=True)
    held.close()
    return manifest


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
