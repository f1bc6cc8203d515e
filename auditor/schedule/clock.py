"""The scheduler's clock and sleep: every time-based decision of the scheduler asks one of these.

A scheduler clock is any ``() -> datetime``; the clocks of ``auditor.clock``
are callable, so one clock can drive the scheduler and stamp the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from auditor.clock import SystemClock

Clock = Callable[[], datetime]
Sleep = Callable[[float], None]

system_clock: Clock = SystemClock()


def system_sleep(seconds: float) -> None:
    time.sleep(seconds)
