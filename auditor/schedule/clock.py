"""The injected clock: every time-based decision of the scheduler asks one of these."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
Sleep = Callable[[float], None]


def system_clock() -> datetime:
    return datetime.now(UTC)


def system_sleep(seconds: float) -> None:
    time.sleep(seconds)
