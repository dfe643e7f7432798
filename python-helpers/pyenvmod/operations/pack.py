"""Pack an environment into one image beside it (``pyenvmod pack NAME``), for 'pyenvmod stage'.

Reading one large file per node instead of thousands of small ones is the point. The image
is a zstd-compressed tarball (see docs/benchmarks.md for why, measured against a squashfs
image mounted with squashfuse). Before packing, missing bytecode is compiled into the
environment, so the image carries it. The image, its stamp and the launchers are written
so that readers see the old version or the new one, never a mix: image first, then the
launchers, then the stamp.
"""

import os
import shutil
import stat
import subprocess
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
from pyenvmod.staging import relocate, tarstream

PACK_TIMEOUT = 3600  # waiting for another pack of the same environment (64 nodes start at once)
PIPE_CHUNK = 1 << 20  # bytes per write into zstd
IOV_MAX = 1024  # pieces per writev (Linux's limit)
BIG = 1 << 20  # files of this size and more are read into one buffer kept for all of them


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
    member swapped in. Returns its descriptor, else None."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino, st.st_size) != (seen.st_dev, seen.st_ino, seen.st_size):
        os.close(fd)
        return None
    return fd


def _read_rest(fd: int, size: int, data: bytes) -> bytes:
    """The rest of a file after a read that returned ``data``, less than ``size`` bytes: more reads
    until ``size`` or the end (a file that shrank since it was seen, or a network file system)."""
    parts = [data]
    while data and size > len(data):
        more = os.read(fd, size - len(data))
        if not more:
            break
        parts.append(more)
        data = b"".join(parts)
    return data


class _Pipe:
    """The stream into zstd: pieces (headers, file contents) collected and handed over with one
    writev per PIPE_CHUNK, so that no byte is copied in this process."""

    def __init__(self, fd: int):
        self.fd, self.pieces, self.pending, self.written = fd, [], 0, 0

    def put(self, piece) -> None:
        if not piece:
            return
        self.pieces.append(piece)
        self.pending += len(piece)
        self.written += len(piece)
        if self.pending >= PIPE_CHUNK or len(self.pieces) >= IOV_MAX:
            self.flush()

    def flush(self) -> None:
        pieces, first = self.pieces, 0
        while first < len(pieces):
            done = os.writev(self.fd, pieces[first:first + IOV_MAX])
            while done:  # a write cut short (a signal): go on after what was taken
                size = len(pieces[first])
                if done < size:
                    pieces[first] = memoryview(pieces[first])[done:]
                    break
                done -= size
                first += 1
        self.pieces, self.pending = [], 0


class _Writer:
    """Streams members into the image's tar stream (staging/tarstream.py), noting which files mention
    an old prefix. Every folder is held by its descriptor and every file opened without following a
    link (``trust.folders``): a member who swaps a file or folder for a link while we pack never gets
    another file packed. Each file is read once: its bytes are searched and written from one buffer."""

    def __init__(self, out, source):
        self.out, self.source = out, source  # out: a _Pipe into zstd
        self.olds = relocate.needles(source.relocations())
        self.relocate, self.size, self.buffer = [], 0, bytearray()

    def add_tree(self, folder: str, top: str, skip=None, follow_top: bool = False) -> None:
        """Everything under ``top``, folders before their content; a folder ``skip`` refuses is not
        entered (the base prefix may be /usr). ``follow_top``: ``top`` may be a link (a base
        interpreter's prefix, which no member can write); an environment's folder may not."""
        with Folder.open_last(os.path.realpath(top) if follow_top else top) as held:
            self._add(folder, os.fstat(held.fd), held.fd, None)
            for rel_folder, dirs, names, dir_fd in held.walk():
                prefix = "" if rel_folder == "." else rel_folder[2:] + "/"  # fwalk's "./a/b": "a/b/"
                if skip:
                    dirs[:] = [d for d in dirs if not skip(prefix + d)]
                    names = [n for n in names if not skip(prefix + n)]
                for name in sorted(dirs) + sorted(names):
                    try:
                        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                    except FileNotFoundError:
                        continue  # gone while packing (a cache file, say)
                    self._add(f"{folder}/{prefix}{name}", st, dir_fd, name)

    def member(self, arcname: str, mode: int, mtime: int, data: bytes) -> None:
        """A regular file with the content ``data``."""
        out = self.out
        out.put(tarstream.header(arcname, mode, mtime, tarstream.REGULAR, len(data)))
        if data:
            out.put(data)
            out.put(tarstream.padding(len(data)))

    def finish(self) -> None:
        self.out.put(tarstream.end(self.out.written))
        self.out.flush()

    def _add(self, arcname: str, st, dir_fd: int, name) -> None:
        mode, mtime = st.st_mode, int(st.st_mtime)  # whole seconds, as bytecode checks them
        if stat.S_ISREG(mode):
            fd = _open_regular(name, st, dir_fd)
            if fd is None:
                return  # gone, or swapped for a link or a FIFO while packing: left out, never followed
            try:
                self.size += st.st_size
                if st.st_size > relocate.SCAN_LIMIT:
                    return self._stream(arcname, mode, mtime, fd, st.st_size)
                if st.st_size >= BIG:
                    return self._big(arcname, mode, mtime, fd, st.st_size)
                data = os.read(fd, st.st_size)
                if len(data) != st.st_size:
                    data = _read_rest(fd, st.st_size, data)
            finally:
                os.close(fd)
            if data[:4] == b"\x7fELF" and arcname.startswith("base/") and self.source.base_prefix:
                to_lib = os.path.relpath("base/lib", os.path.dirname(arcname))
                data = relocate.relative_runpath(data, self.source.base_prefix, to_lib)
            if relocate.holders(arcname, data, self.olds):
                self.relocate.append(arcname)
            self.member(arcname, mode, mtime, data)
        elif stat.S_ISDIR(mode):
            self.out.put(tarstream.header(arcname, mode, mtime, tarstream.DIRECTORY))
        elif stat.S_ISLNK(mode):
            link = self._link(arcname, os.readlink(name, dir_fd=dir_fd))
            self.out.put(tarstream.header(arcname, mode, mtime, tarstream.SYMLINK, link=link))
        # sockets, fifos, devices: never part of an environment

    def _big(self, arcname: str, mode: int, mtime: int, fd: int, size: int) -> None:
        """A large file, read into one buffer kept for all of them (fresh memory for each would be
        zeroed by the kernel first), searched and changed there, and handed over before the next."""
        if len(self.buffer) < size:
            self.buffer = bytearray(size)
        buffer, view = self.buffer, memoryview(self.buffer)
        end = 0
        while end < size:
            got = os.readv(fd, [view[end:size]])
            if not got:
                break  # shrank since it was seen: what there is
            end += got
        if arcname.startswith("base/") and self.source.base_prefix:
            to_lib = os.path.relpath("base/lib", os.path.dirname(arcname))
            relocate.relative_runpath(buffer, self.source.base_prefix, to_lib, end)
        if relocate.holders(arcname, buffer, self.olds, end):
            self.relocate.append(arcname)
        self.member(arcname, mode, mtime, view[:end])
        self.out.flush()  # the buffer is read into again for the next one

    def _stream(self, arcname: str, mode: int, mtime: int, fd: int, size: int) -> None:
        """A file too large to search, copied through in chunks."""
        self.out.put(tarstream.header(arcname, mode, mtime, tarstream.REGULAR, size))
        left = size
        while left:
            chunk = os.read(fd, min(left, PIPE_CHUNK))
            if not chunk:
                raise PyenvmodError(f"{arcname} of the environment shrank while it was packed; pack again")
            self.out.put(chunk)
            left -= len(chunk)
        self.out.put(tarstream.padding(size))

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
    stopped = False
    try:
        # tar records collect up to 1 MB, written into a wide pipe: fewer switches to zstd
        writer = _Writer(_Pipe(proc_.stdin.fileno()), source)
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
        writer.member("manifest.json", 0o644, int(time.time()), manifest.to_json().encode())
        writer.finish()
        proc_.stdin.close()
    except BrokenPipeError:
        stopped = True  # zstd stopped reading: its exit status says why
    finally:
        try:
            proc_.stdin.close()
        except OSError:
            stopped = True
        code = proc_.wait()
    if code != 0 or stopped:
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
