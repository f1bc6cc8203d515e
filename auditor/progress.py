"""Progress on long work, on stderr only: a live display on a terminal, plain lines elsewhere.

Collectors report counted tasks (``start``/``advance``/``finish``) through
a ``Progress`` they are handed; the pipeline and the CLI mark the long
phases around them (``phase``: collecting, the rules, writing the reports,
and whatever a command does before them). Nobody else prints, and nothing
goes to stdout, which may carry data.

``Progress.for_stream`` picks the display for the stream: on a terminal a
rich live display that fits the terminal's width; otherwise (redirected,
CI, cron) a line when a phase starts and ends and a line every ``interval``
seconds while one runs, so a log shows the run is alive. ``Progress()``
itself is silent and only counts (libraries and tests).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

PLAIN_INTERVAL = 30.0  # seconds between "still running" lines when not on a terminal
PLAIN_GRACE = 1.0  # a phase is announced once it has run this long (or shows progress sooner)
PREFIX = "auditor: "


class Progress:
    """Silent progress: counts are kept (for the run summary and tests), nothing printed."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.tasks: dict[str, list[int]] = {}  # name -> [done, total]
        self.phases: list[str] = []  # the phases under way, outermost first
        self._reported: set[str] = set()  # counted tasks whose end was shown

    @staticmethod
    def for_stream(
        stream: TextIO | None = None, *, interval: float = PLAIN_INTERVAL, width: int | None = None
    ) -> Progress:
        """A live display when ``stream`` (default stderr) is a terminal, else plain lines every ``interval`` s."""
        stream = stream or sys.stderr
        if getattr(stream, "isatty", lambda: False)():
            return LiveProgress(stream, width=width)
        return PlainProgress(stream, interval=interval)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """A long step with no count of its own (e.g. ``"running the rules"``), from start to end."""
        with self._lock:
            self.phases.append(name)
        self._phase_started(name)
        began = self._clock()
        outcome = "stopped after"  # an error or an interrupt: the caller reports it, the phase did not finish
        try:
            yield
            outcome = "done in"
        finally:
            with self._lock:
                self.phases.remove(name)
            self._phase_ended(name, f"{outcome} {self._clock() - began:.1f} s")

    def note(self, text: str) -> None:
        """A one-off line for the person watching (an address to open, what is audited)."""

    def start(self, task: str, total: int) -> None:
        """Declare a task (e.g. ``"iam accounts"``) and how many units it has."""
        with self._lock:
            self.tasks[task] = [0, total]
        self._changed(task)

    def advance(self, task: str, units: int = 1) -> None:
        with self._lock:
            entry = self.tasks.setdefault(task, [0, 0])
            entry[0] += units
        self._changed(task)

    def finish(self, task: str) -> None:
        with self._lock:
            entry = self.tasks.setdefault(task, [0, 0])
            entry[0] = max(entry[0], entry[1])
        self._changed(task)

    def close(self) -> None:
        """End the display (a no-op when silent); closing twice is harmless."""

    def _changed(self, task: str) -> None:
        pass

    def _just_finished(self, task: str) -> bool:
        """True once when a counted task reaches its total (again after a restart); call under the lock."""
        done, total = self.tasks[task]
        if not (total and done >= total):
            self._reported.discard(task)
            return False
        if task in self._reported:
            return False
        self._reported.add(task)
        return True

    def _phase_started(self, name: str) -> None:
        pass

    def _phase_ended(self, name: str, how: str) -> None:
        pass

    def status(self) -> str:
        """The phases under way and every counted task, on one line."""
        with self._lock:
            tasks = [
                f"{name} {done}/{total}" if total else f"{name} {done}" for name, (done, total) in self.tasks.items()
            ]
            return "; ".join([*self.phases, *tasks])


class PlainProgress(Progress):
    """Plain lines for logs: each phase's start and end, and the state of things every ``interval`` seconds.

    A phase is announced once it shows life (a counted task moves) or has run
    for ``grace`` seconds, and at its end: a run that fails at once (an
    unreachable endpoint) prints only its error, one line.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        interval: float = PLAIN_INTERVAL,
        grace: float = PLAIN_GRACE,
        clock: Callable[[], float] = time.monotonic,
        background: bool = True,
    ) -> None:
        """``background``: a thread calls ``poll`` (tests call it themselves, with their ``clock``)."""
        super().__init__(clock)
        self.stream = stream
        self.interval = interval
        self.grace = grace
        self._background = background and interval > 0
        self._pending: dict[str, float] = {}  # phases not announced yet -> when they started
        self._last_tick = clock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def _line(self, text: str) -> None:
        with self._lock:
            self.stream.write(PREFIX + text + "\n")
            self.stream.flush()

    def _announce(self, older_than: float = 0.0) -> None:
        """Print the start line of every pending phase that began at least ``older_than`` seconds ago."""
        if not self._pending:  # the usual case, once per counted step: nothing to take the lock for
            return
        now = self._clock()
        with self._lock:
            due = [name for name, began in self._pending.items() if now - began >= older_than]
            for name in due:
                del self._pending[name]
        for name in due:
            self._line(f"{name}...")

    def note(self, text: str) -> None:
        self._announce()
        self._line(text)

    def _phase_started(self, name: str) -> None:
        with self._lock:
            self._pending[name] = self._clock()
        if self._ticker is None and self._background:
            self._ticker = threading.Thread(target=self._run_ticker, name="progress", daemon=True)
            self._ticker.start()

    def _phase_ended(self, name: str, how: str) -> None:
        with self._lock:
            silent = self._pending.pop(name, None) is not None
        if silent and how.startswith("stopped"):
            return  # it never showed life: the caller's error is the one line to read
        if silent:
            self._line(f"{name}...")
        self._line(f"{name}: {how}")

    def _changed(self, task: str) -> None:
        self._announce()
        with self._lock:
            done, total = self.tasks[task]
            finished = self._just_finished(task)
        if finished:
            self._line(f"{task}: {done}/{total} done")

    def tick(self) -> None:
        """One "still running" line (what the ticker prints every ``interval`` seconds)."""
        self._announce()
        self._last_tick = self._clock()
        if self.phases:
            self._line(f"still running: {self.status()}")

    def poll(self) -> None:
        """What the ticker does at each wake-up: announce phases past their grace, tick every ``interval``."""
        self._announce(older_than=self.grace)
        if self._clock() - self._last_tick >= self.interval:
            self.tick()

    def _run_ticker(self) -> None:
        while not self._stop.wait(min(self.grace, self.interval)):
            self.poll()

    def close(self) -> None:
        self._stop.set()


class LiveProgress(Progress):
    """A rich live display on a terminal: a spinner per phase and a bar per counted task, within the width."""

    def __init__(self, stream: TextIO, *, width: int | None = None) -> None:
        # rich is loaded here, on a terminal only: scheduled runs and Lambda never draw, and skip its import
        from rich.console import Console
        from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress
        from rich.table import Column

        super().__init__()
        self.console = Console(file=stream, width=width, force_terminal=True, highlight=False)
        self._ids: dict[str, int] = {}
        # descriptions are cut with an ellipsis, never wrapped: each task stays one line of the terminal
        text = Column(no_wrap=True, overflow="ellipsis", ratio=1)
        self._display = RichProgress(
            SpinnerColumn(),
            TextColumn("{task.description}", table_column=text),
            BarColumn(bar_width=None, table_column=Column(ratio=1)),
            TextColumn("{task.fields[count]}", style="progress.download"),  # "done/total"; empty for a phase
            TimeElapsedColumn(),
            console=self.console,
            expand=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._display.start()
        self._closed = False

    def note(self, text: str) -> None:
        self.console.print(text, overflow="fold", markup=False, highlight=False)

    def _phase_started(self, name: str) -> None:
        self._ids[f"phase:{name}"] = self._display.add_task(name, total=None, count="")

    def _phase_ended(self, name: str, how: str) -> None:
        task = self._ids.pop(f"phase:{name}", None)
        if task is not None:
            self._display.remove_task(task)
        if not how.startswith("stopped"):  # an error or an interrupt: the caller's message says what happened
            self.note(f"{name}: {how}")

    def _changed(self, task: str) -> None:
        finished = False
        with self._lock:  # collectors advance from many threads: one display task per name
            done, total = self.tasks[task]
            if self._just_finished(task):  # a finished task leaves the live display for a line above it
                task_id = self._ids.pop(task, None)
                if task_id is not None:
                    self._display.remove_task(task_id)
                finished = True
            elif task not in self._reported:  # still running (a finished one stays off the display)
                count = f"{done}/{total}" if total else ""
                if task not in self._ids:
                    self._ids[task] = self._display.add_task(task, total=total or None, count=count)
                self._display.update(self._ids[task], completed=done, total=total or None, count=count)
        if finished:
            self.note(f"{task}: {done}/{total} done")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._display.stop()
