"""Counting the opens of one file by every process on this machine (fanotify FAN_OPEN), for the tests
and benchmarks/stage.py: how often the shared image was read in a job.

fanotify (root only) names the process of each open, so opens by several nodes at the same instant
count one each; inotify merges an event with the identical one still unread before it, and counted
two nodes opening the image at once as one open."""

import ctypes
import os
import select
import struct
import threading
from pathlib import Path

FAN_CLOEXEC, FAN_NONBLOCK, FAN_CLASS_NOTIF = 0x1, 0x2, 0x0
FAN_MARK_ADD, FAN_OPEN, AT_FDCWD = 0x1, 0x20, -100
_EVENT = struct.Struct("IBBHQii")  # struct fanotify_event_metadata: event_len, vers, reserved, metadata_len, mask, fd, pid


class OpenCounter:
    """Counts the opens of one file while it runs: ``with OpenCounter(path) as c: ...; c.count``;
    ``c.pids``: the process of each open."""

    def __init__(self, path: Path):
        self.path, self.count, self.pids = path, 0, []
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.fanotify_mark.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint64, ctypes.c_int,
                                            ctypes.c_char_p]

    def __enter__(self):
        self.fd = self.libc.fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK, os.O_RDONLY | os.O_CLOEXEC)
        assert self.fd >= 0, f"fanotify_init: {os.strerror(ctypes.get_errno())} (the tests run as root)"
        marked = self.libc.fanotify_mark(self.fd, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, os.fsencode(self.path))
        assert marked == 0, f"fanotify_mark {self.path}: {os.strerror(ctypes.get_errno())}"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        return self

    def _drain(self) -> bool:
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return False
        at = 0
        while at + _EVENT.size <= len(data):
            length, _vers, _, _meta, mask, fd, pid = _EVENT.unpack_from(data, at)
            if fd >= 0:
                os.close(fd)  # fanotify hands over a descriptor of the file opened
            if mask & FAN_OPEN:
                self.count += 1
                self.pids.append(pid)
            at += length or _EVENT.size
        return True

    def _read(self):
        while True:
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                self._drain()
            elif self.stop.is_set():
                return

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        while self._drain():
            pass
        os.close(self.fd)
