"""Progress on long work: a live line on a terminal, silence in cron.

Collectors report through a ``Progress`` object they are handed; they never
print. ``Progress.for_stream`` picks a live display when the stream is a
TTY and a silent one otherwise (cron, CI, log shippers).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class Progress:
    """Silent progress: counts are kept (for the run summary), nothing printed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.tasks: dict[str, list[int]] = {}  # name -> [done, total]

    @staticmethod
    def for_stream(stream: TextIO | None = None) -> Progress:
        stream = stream or sys.stderr
        return LiveProgress(stream) if getattr(stream, "isatty", lambda: False)() else Progress()

    def start(self, task: str, total: int) -> None:
        """Declare a task (e.g. ``"iam accounts"``) and how many units it has."""
        with self._lock:
            self.tasks[task] = [0, total]
        self._changed()

    def advance(self, task: str, units: int = 1) -> None:
        with self._lock:
            entry = self.tasks.setdefault(task, [0, 0])
            entry[0] += units
        self._changed()

    def finish(self, task: str) -> None:
        with self._lock:
            entry = self.tasks.setdefault(task, [0, 0])
            entry[0] = max(entry[0], entry[1])
        self._changed()

    def close(self) -> None:
        """End the display (a no-op when silent)."""

    def _changed(self) -> None:
        pass


class LiveProgress(Progress):
    """One self-overwriting status line, redrawn at most ten times a second."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self._last_draw = 0.0

    def _changed(self) -> None:
        now = time.monotonic()
        if now - self._last_draw < 0.1:
            return
        self._last_draw = now
        self._draw()

    def _draw(self) -> None:
        with self._lock:
            parts = [
                f"{name} {done}/{total}" if total else f"{name} {done}" for name, (done, total) in self.tasks.items()
            ]
        line = " | ".join(parts)[-200:]
        self.stream.write("\r\x1b[2K" + line)
        self.stream.flush()

    def close(self) -> None:
        self._draw()
        self.stream.write("\n")
        self.stream.flush()
