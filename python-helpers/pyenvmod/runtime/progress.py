"""Progress of long work, always on standard error (standard output stays the command's answer).

On a terminal: one status line, redrawn in place every second, saying what is happening (the step,
the package the helper is building or downloading, from its own output), the time it has taken
and the last line a build printed. In a batch log (no terminal): a line per step and per package
built or downloaded, with the elapsed time, and nothing redrawn; while a step goes on, a line with
the time and the build's last line at most every 30 s (PYENVMOD_PROGRESS_INTERVAL), so a log
of a long build shows it is alive.

    with progress.status() as notify:        # in a command
        create(config, request, notify=notify)

``proc.run`` hands the helpers' error output to the status shown (``listener()``), line by line.
"""

import os
import re
import shutil
import sys
import threading
import time
from contextlib import contextmanager

# what a helper says while it works: uv ("Building x", "Downloading x"), pip ("Building wheel for x")
_ACTIVITY = re.compile(r"^\s*(Building|Downloading|Collecting|Processing|Installing collected|Uninstalling)\b(.*)")

# what the build itself prints, as uv passes it on (RUST_LOG=uv_build_frontend=debug: backends/uv.py)
_BUILD_OUTPUT = re.compile(r"^DEBUG (.*\S)")
INTERVAL = 30.0  # seconds between a batch log's lines while one step goes on

_current = None  # the Status shown now, if any


def _interval() -> float:
    try:
        return max(float(os.environ.get("PYENVMOD_PROGRESS_INTERVAL", INTERVAL)), 0.1)
    except ValueError:
        return INTERVAL


class Status:
    def __init__(self, stream, tty: bool, clock=time.monotonic, interval: float | None = None, ticking=True):
        self.stream, self.tty, self.clock = stream, tty, clock
        self.interval = _interval() if interval is None else interval
        self.lock = threading.Lock()
        self.step, self.detail, self.last = "", "", ""
        self.step_started = self.written = clock()
        self.drawn = False
        self.stopped = threading.Event()
        if ticking:
            threading.Thread(target=self._tick, daemon=True).start()

    def notify(self, message: str) -> None:
        """A step (or a note): its own line, kept; on a terminal the status line follows it."""
        with self.lock:
            self._clear()
            self.stream.write(f"pyenvmod: {message}\n")
            self.step, self.detail, self.last = message, "", ""
            self.step_started = self.written = self.clock()
            self._draw()
            self.stream.flush()

    def helper_line(self, line: str) -> None:
        """A line of a helper's output: shown when it says what the helper is doing; a build's own
        output is kept as the last line (shown on the status line, and in the next line of a log)."""
        output = _BUILD_OUTPUT.match(line)
        if output:
            with self.lock:
                self.last = output.group(1).strip()
            return
        found = _ACTIVITY.match(line)
        if not found:
            return
        detail = " ".join((found.group(1).lower() + found.group(2)).split())
        with self.lock:
            if detail == self.detail:
                return
            self.detail, self.last = detail, ""
            if self.tty:
                self._draw()
            else:
                self.stream.write(f"pyenvmod: [{self._elapsed()}] {detail}\n")
                self.written = self.clock()
            self.stream.flush()

    def tick(self) -> None:
        """Once a second: the terminal's line redrawn (the time moves); a log's line when the interval
        has passed since the last one, while a step goes on."""
        with self.lock:
            if self.stopped.is_set() or not self.step:
                return
            if self.tty:
                self._draw()
            elif self.clock() - self.written >= self.interval:
                self.stream.write(f"pyenvmod: [{self._elapsed()}] {self._doing()}\n")
                self.written = self.clock()
            else:
                return
            self.stream.flush()

    def close(self) -> None:
        self.stopped.set()
        with self.lock:
            self._clear()
            self.stream.flush()

    def _doing(self) -> str:
        doing = self.detail or self.step
        return f"{doing}: {self.last}" if self.last else doing

    def _elapsed(self) -> str:
        seconds = int(self.clock() - self.step_started)
        return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"

    def _draw(self) -> None:
        if not self.tty or not self.step:
            return
        width = shutil.get_terminal_size((80, 24)).columns - 1
        text = f"  [{self._elapsed()}] {self._doing()}"  # the time first: it stays when cut
        if len(text) > width:
            text = text[: max(width - 3, 0)] + "..."
        self.stream.write("\r\x1b[K" + text)
        self.drawn = True

    def _clear(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.drawn = False

    def _tick(self) -> None:
        while not self.stopped.wait(min(1.0, self.interval)):
            try:
                self.tick()
            except (OSError, ValueError):  # the stream went away: progress never breaks the work
                return


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
