"""Pack an environment into one image beside it (``pyenvmod pack NAME``), for 'pyenvmod stage'.

Reading one large file per node instead of thousands of small ones is the point. The image
is a zstd-compressed tarball (see docs/benchmarks.md for why, measured against a squashfs
image mounted with squashfuse). Before packing, missing bytecode is compiled into the
environment, so the image carries it. The image, its stamp and the launchers are written
so that readers see the old version or the new one, never a mix: image first, then the
launchers, then the stamp.
"""

import io
import os
import shutil
import stat
import subprocess
import tarfile
import time
from pathlib import Path

from pyenvmod.records import provenance
from pyenvmod.trust import files
from pyenvmod.trust.folders import Folder
from pyenvmod.config import Config
from pyenvmod.errors import PyenvmodError
from pyenvmod.operations.common import load_record, tree_for
from pyenvmod.staging import IMAGE_FORMATS, images_dir, launchers, read_stamp
from pyenvmod.staging import image as image_mod
from pyenvmod.staging import relocate

PACK_TIMEOUT = 3600  # waiting for another pack of the same environment (64 nodes start at once)
PIPE_CHUNK = 1 << 20  # bytes per write into zstd


def _wide_pipe(pipe) -> None:
    """Let the pipe into zstd hold PIPE_CHUNK (Linux F_SETPIPE_SZ; elsewhere, or refused, as it is)."""
    try:
        import fcntl

        fcntl.fcntl(pipe.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_CHUNK)
    except OSError:
        pass


def _compile_bytecode(source, tree) -> None:
    """Compile missing .pyc files into the environment (and the one it extends) where we may write.

    compileall is the standard library's: the base interpreter runs it (the environment's own one for
    conda), with -I -S so that no .pth file or sitecustomize of the tree runs as whoever packs."""
    python = source.base_executable or os.path.join(source.prefix, "bin", "python")
    ext = source.ext_prefix if source.ext_prefix and tree.inside(source.ext_prefix) else ""  # never another tree's
    for prefix in filter(None, (source.prefix, ext)):
        folder = source.site_packages(prefix)
        if os.access(folder, os.W_OK) and image_mod.missing_bytecode(folder, source.python_mm):
            subprocess.run([python, "-I", "-S", "-m", "compileall", "-q", "-j0", folder],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800)


def _open_regular(name: str, seen, dir_fd=None):
    """The file ``name`` (relative to ``dir_fd`` when given) opened for reading when it is still the
    regular file lstat saw (``seen``): never following a symlink, never waiting on a FIFO a group
    member swapped in; else None."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino, st.st_size) != (seen.st_dev, seen.st_ino, seen.st_size):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")


class _Writer:
    """Streams members into a tar archive, noting which files mention an old prefix. Every folder is
    held by its descriptor and every file opened without following a link (``trust.folders``): a
    member who swaps a file or folder for a link while we pack never gets another file packed."""

    def __init__(self, tar, source):
        self.tar, self.source = tar, source
        self.olds = [os.fsencode(p) for p in source.relocations()]
        self.relocate, self.size = [], 0

    def add_tree(self, folder: str, top: str, skip=None, follow_top: bool = False) -> None:
        """Everything under ``top``, folders before their content; a folder ``skip`` refuses is not
        entered (the base prefix may be /usr). ``follow_top``: ``top`` may be a link (a base
        interpreter's prefix, which no member can write); an environment's folder may not."""
        with Folder.open_last(os.path.realpath(top) if follow_top else top) as held:
            self._add(folder, os.fstat(held.fd), held.fd, None)
            for rel_folder, dirs, names, dir_fd in held.walk():
                rel_folder = os.path.relpath(rel_folder, ".")
                kept = []
                for name in sorted(dirs) + sorted(names):
                    rel = name if rel_folder == "." else f"{rel_folder}/{name}"
                    if skip and skip(rel):
                        continue
                    if name in dirs:
                        kept.append(name)
                    try:
                        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                    except FileNotFoundError:
                        continue  # gone while packing (a cache file, say)
                    self._add(f"{folder}/{rel}", st, dir_fd, name)
                dirs[:] = [d for d in dirs if d in kept]

    def _add(self, arcname: str, st, dir_fd: int, name) -> None:
        info = tarfile.TarInfo(arcname)
        # whole seconds: a float mtime costs every member a PAX header of its own (bytecode checks seconds)
        info.mode, info.mtime, info.uid, info.gid = stat.S_IMODE(st.st_mode), int(st.st_mtime), 0, 0
        if stat.S_ISDIR(st.st_mode):
            info.type = tarfile.DIRTYPE
            self.tar.addfile(info)
        elif stat.S_ISLNK(st.st_mode):
            info.type, info.linkname = tarfile.SYMTYPE, self._link(arcname, os.readlink(name, dir_fd=dir_fd))
            self.tar.addfile(info)
        elif stat.S_ISREG(st.st_mode):
            fh = _open_regular(name, st, dir_fd)
            if fh is None:
                return  # gone, or swapped for a link or a FIFO while packing: left out, never followed
            info.size = st.st_size
            self.size += st.st_size
            if st.st_size > relocate.SCAN_LIMIT:
                with fh:
                    self.tar.addfile(info, fh)
                return
            with fh:
                data = fh.read(st.st_size)
            if arcname.startswith("base/") and self.source.base_prefix:
                to_lib = os.path.relpath("base/lib", os.path.dirname(arcname))
                data = relocate.relative_runpath(data, self.source.base_prefix, to_lib)
            if relocate.holders(arcname, data, self.olds):
                self.relocate.append(arcname)
            info.size = len(data)
            self.tar.addfile(info, io.BytesIO(data))
        # sockets, fifos, devices: never part of an environment

    def _link(self, arcname: str, target: str) -> str:
        """A symlink to an absolute path inside one of the trees becomes relative inside the image."""
        if not os.path.isabs(target):
            return target
        for folder, shared in self.source.trees().items():
            for spelling in {shared, os.path.realpath(shared)}:
                if target == spelling or target.startswith(spelling + "/"):
                    inside = folder + target[len(spelling):]
                    return os.path.relpath(inside, os.path.dirname(arcname))
        return target


def _build_tar(source, stamp: str, sink, out: Path) -> image_mod.Manifest:
    """The image, written to the open file ``sink`` (``out`` names it in messages)."""
    manifest = image_mod.Manifest(stamp=stamp, name=source.name, python_mm=source.python_mm,
                                  backend=source.backend, trees=source.trees())
    zstd = shutil.which("zstd")
    if not zstd:
        raise PyenvmodError("pyenvmod pack needs the zstd command; install it (apt-get install zstd)")
    proc_ = subprocess.Popen([zstd, "-q", "-3", "-T0", "-c"], stdin=subprocess.PIPE, stdout=sink, bufsize=PIPE_CHUNK)
    _wide_pipe(proc_.stdin)
    try:
        # tar records collect in a 1 MB buffer, written into a wide pipe: fewer switches to zstd
        with tarfile.open(fileobj=proc_.stdin, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            writer = _Writer(tar, source)
            writer.add_tree("env", source.prefix)
            if source.ext_prefix:
                writer.add_tree("ext", source.ext_prefix)
            if source.base_prefix:
                mm = source.python_mm
                writer.add_tree("base", source.base_prefix, skip=lambda rel: image_mod.stdlib_skipped(rel, mm),
                                follow_top=True)
            manifest.size, manifest.relocate = writer.size, writer.relocate
            manifest.mapping = source.relocations()
            manifest.site_packages = {folder: os.path.relpath(source.site_packages(shared), shared)
                                      for folder, shared in source.trees().items() if folder != "base"}
            data = manifest.to_json().encode()
            info = tarfile.TarInfo("manifest.json")
            info.size, info.mtime, info.mode = len(data), time.time(), 0o644
            tar.addfile(info, io.BytesIO(data))
    finally:
        proc_.stdin.close()
        code = proc_.wait()
    if code != 0:
        raise PyenvmodError(f"zstd failed ({code}) writing {out}; check the free space there")
    return manifest


def current(config: Config, name: str):
    """(record, source, stamp of the environment now, stamp of its image or '')."""
    tree = tree_for(config)
    record = load_record(tree.layout, name)
    source = image_mod.source_for(record)
    return record, source, image_mod.stamp(source), read_stamp(images_dir(tree.layout, name) / "stamp")


def pack(config: Config, name: str, force: bool = False, timeout: float | None = None, notify=lambda m: None):
    """Make or refresh the image of ``name``. Returns (manifest or None when already current, image path)."""
    tree = tree_for(config)
    layout = tree.layout
    record = load_record(layout, name)
    provenance.check_for_pack(tree, record)  # a record never leads pack to read outside what it may share
    folder = images_dir(layout, name)
    lock_wait = config["lock_timeout"] if timeout is None else timeout
    with tree.lock(name, lock_wait):
        source = image_mod.source_for(record)
        stamp_file = folder / "stamp"
        image = folder / IMAGE_FORMATS["tar"]
        if not force and image.is_file() and read_stamp(stamp_file) == image_mod.stamp(source):
            return None, image
        notify(f"packing {name!r} (compiling bytecode, then one image)")
        if not record.adopted:
            _compile_bytecode(source, tree)
        stamp = image_mod.stamp(source)
        manifest = _write_image(tree, folder, image.name, source, stamp)
        tree.write(folder / "manifest.json", manifest.to_json())
        launchers.write(layout, record, config["stage_dir"])
        tree.write(stamp_file, stamp + "\n")
    return manifest, image


def _write_image(tree, folder: Path, name: str, source, stamp: str) -> image_mod.Manifest:
    """The image written beside the old one under an unpredictable name, made group-readable through
    its descriptor and renamed into place in the folder we hold: a member who swaps the temporary
    name for a link (to a maintainer's private file, say) changes no file but the image's name."""
    with Folder.open(tree.root, folder, create_mode=0o777) as held:  # no symlinked folder on the way
        tmp, fd = held.create_temp(f".{name}.")
        try:
            with os.fdopen(fd, "wb") as sink:
                manifest = _build_tar(source, stamp, sink, folder / name)
                os.fchmod(sink.fileno(), 0o664 & ~files.umask())  # group trees: the maintainers may repack
                mine = os.fstat(sink.fileno())
                held.rename(tmp, name)
                if not os.path.samestat(mine, held.lstat(name)):
                    held.unlink(name)
                    raise PyenvmodError(f"someone replaced the image being written in {folder}; nothing "
                                        "was published; check who can write there, then pack again")
        except BaseException:
            held.unlink(tmp, missing_ok=True)
            raise
    return manifest
