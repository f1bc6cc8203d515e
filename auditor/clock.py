"""The injected clock: whatever stamps a time into the state store asks one of these.

Stamped times are evidence (the audit log, the remediation journal), so a
test must be able to say exactly which time was stamped: code takes a
``Clock`` instead of calling ``datetime.now``. Clocks are callable too, so
they fit where a plain ``() -> datetime`` is expected (the scheduler).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    __call__ = now


class FixedClock:
    """A clock that stays where it is set and moves only when told (tests, reproducible runs)."""

    def __init__(self, at: datetime) -> None:
        self.at = utc(at)

    def now(self) -> datetime:
        return self.at

    __call__ = now

    def advance(self, delta: timedelta) -> datetime:
        self.at += delta
        return self.at


def utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is a bug (which zone would it be?), so it is refused."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: times must be timezone-aware")
    return value.astimezone(UTC)
