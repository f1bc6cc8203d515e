"""What the collectors share: fan-out over a thread pool, and the errors met on the way.

Clients, pages and times come from ``auditor.aws``; a client, once made, is
thread-safe, so one client is shared by every worker of a fan-out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Generic, TypeVar

from auditor.aws import describe_error
from auditor.snapshot import SourceStatus

T = TypeVar("T")
R = TypeVar("R")

# How many error messages the manifest's one-line ``error`` shows; the full
# list goes into the status detail.
ERRORS_SHOWN = 5


@dataclass(frozen=True)
class Outcome(Generic[T, R]):
    """One item's result from ``fan_out``: its value, or the exception it raised."""

    item: T
    value: R | None = None
    error: Exception | None = None


def fan_out(
    work: Callable[[T], R],
    items: Iterable[T],
    max_workers: int,
    on_done: Callable[[], None] | None = None,
) -> list[Outcome[T, R]]:
    """Run ``work`` on every item in a thread pool; outcomes in the items' order.

    An exception in one item is captured in its outcome so the others go
    on; the caller decides what a failure means for its status.
    """
    items = list(items)
    if not items:
        return []
    workers = max(1, min(max_workers, len(items)))
    outcomes: list[Outcome[T, R] | None] = [None] * len(items)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="auditor-collect") as pool:
        futures = {pool.submit(work, item): index for index, item in enumerate(items)}
        for future in as_completed(futures):
            index = futures[future]
            try:
                outcomes[index] = Outcome(items[index], value=future.result())
            except Exception as exc:  # recorded per item, never lost
                outcomes[index] = Outcome(items[index], error=exc)
            if on_done is not None:
                on_done()
    return [outcome for outcome in outcomes if outcome is not None]


class Problems:
    """Errors met while collecting one source (for one account); thread-safe.

    They become the source's ``SourceStatus``: the first few joined in
    ``error`` (the manifest's one line), all of them in ``detail["errors"]``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: list[str] = []

    def add(self, exc: BaseException, service: str, operation: str, where: str | None = None) -> None:
        message = describe_error(exc, service, operation)
        if where:
            message = f"{message} for {where}"
        with self._lock:
            self.messages.append(message)

    def note(self, message: str) -> None:
        """An error that is not an exception, already in the manifest's form."""
        with self._lock:
            self.messages.append(message)

    def __bool__(self) -> bool:
        return bool(self.messages)

    def status(self, source: str, account_id: str | None, *, failed: bool, detail: dict) -> SourceStatus:
        """ok without errors; failed when nothing usable was read; partial otherwise."""
        if not self.messages:
            return SourceStatus(source=source, account_id=account_id, status="ok", detail=detail)
        shown = "; ".join(self.messages[:ERRORS_SHOWN])
        hidden = len(self.messages) - ERRORS_SHOWN
        if hidden > 0:
            shown += f"; and {hidden} more (see detail.errors)"
        return SourceStatus(
            source=source,
            account_id=account_id,
            status="failed" if failed else "partial",
            error=shown,
            detail={**detail, "errors": list(self.messages)},
        )
