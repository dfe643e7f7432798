"""Progress of long work, always on standard error (standard output stays the command's answer).

On a terminal: one status line, redrawn in place every second, saying what is happening (the step,
the package the helper is building or downloading, from its own output) and the time it has
taken. In a batch log (no terminal): a line per step and per package built or downloaded, with
the elapsed time, and nothing redrawn.

    with progress.status() as notify:        # in a command
        create(config, request, notify=notify)

``proc.run`` hands the helpers' error output to the status shown (``listener()``), line by line.
"""

import re
import shutil
import sys
import threading
import time
from contextlib import contextmanager

# what a helper says while it works: uv ("Building x", "Downloading x"), pip ("Building wheel for x")
_ACTIVITY = re.compile(r"^\s*(Building|Downloading|Collecting|Processing|Installing collected|Uninstalling)\b(.*)")

_current = None  # the Status shown now, if any


class Status:
    def __init__(self, stream, tty: bool):
        self.stream, self.tty = stream, tty
        self.lock = threading.Lock()
        self.step, self.detail = "", ""
        self.step_started = time.monotonic()
        self.drawn = False
        self.stopped = threading.Event()
        if tty:
            threading.Thread(target=self._tick, daemon=True).start()

    def notify(self, message: str) -> None:
        """A step (or a note): its own line, kept; on a terminal the status line follows it."""
        with self.lock:
            self._clear()
            self.stream.write(f"pyenvmod: {message}\n")
            self.step, self.detail, self.step_started = message, "", time.monotonic()
            self._draw()
            self.stream.flush()

    def helper_line(self, line: str) -> None:
        """A line of a helper's output: shown when it says what the helper is doing."""
        found = _ACTIVITY.match(line)
        if not found:
            return
        detail = " ".join((found.group(1).lower() + found.group(2)).split())
        with self.lock:
            if detail == self.detail:
                return
            self.detail = detail
            if self.tty:
                self._draw()
            else:
                self.stream.write(f"pyenvmod: [{self._elapsed()}] {detail}\n")
            self.stream.flush()

    def close(self) -> None:
        self.stopped.set()
        with self.lock:
            self._clear()
            self.stream.flush()

    def _elapsed(self) -> str:
        seconds = int(time.monotonic() - self.step_started)
        return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"

    def _draw(self) -> None:
        if not self.tty or not self.step:
            return
        width = shutil.get_terminal_size((80, 24)).columns - 1
        text = f"  [{self._elapsed()}] {self.detail or self.step}"  # the time first: it stays when cut
        if len(text) > width:
            text = text[: max(width - 3, 0)] + "..."
        self.stream.write("\r\x1b[K" + text)
        self.drawn = True

    def _clear(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.drawn = False

    def _tick(self) -> None:
        while not self.stopped.wait(1.0):
            with self.lock:
                if not self.stopped.is_set():
                    self._draw()
                    self.stream.flush()


@contextmanager
def status(stream=None):
    """Show progress for the block; yields the ``notify`` function the operations take."""
    global _current
    stream = stream or sys.stderr
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    shown = Status(stream, tty)
    previous, _current = _current, shown
    try:
        yield shown.notify
    finally:
        _current = previous
        shown.close()


def listener():
    """Where ``proc.run`` sends a helper's error output line by line, or None when no status is shown."""
    return _current.helper_line if _current is not None else None
