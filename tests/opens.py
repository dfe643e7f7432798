"""Counting the opens of one file by every process on this machine (inotify IN_OPEN), for the tests
and benchmarks/stage.py: how often the shared image was read in a job."""

import ctypes
import os
import select
import struct
import threading
from pathlib import Path

IN_OPEN = 0x20


class OpenCounter:
    """Counts the opens of one file (inotify IN_OPEN) while it runs: ``with OpenCounter(path) as c: ...; c.count``.
    A lower bound when opens overlap: inotify merges an event with the identical one still unread
    before it (two nodes opening the image at the same instant may count once)."""

    def __init__(self, path: Path):
        self.path, self.count = path, 0
        self.libc = ctypes.CDLL(None, use_errno=True)

    def __enter__(self):
        self.fd = self.libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
        assert self.fd >= 0, os.strerror(ctypes.get_errno())
        assert self.libc.inotify_add_watch(self.fd, os.fsencode(self.path), IN_OPEN) >= 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        return self

    def _read(self):
        while True:
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    data = os.read(self.fd, 65536)
                except BlockingIOError:
                    continue
                at = 0
                while at < len(data):
                    _, mask, _, length = struct.unpack_from("iIII", data, at)
                    self.count += bool(mask & IN_OPEN)
                    at += 16 + length
            elif self.stop.is_set():
                return

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        os.close(self.fd)
