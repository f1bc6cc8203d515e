"""Polling an asynchronous AWS job: exponential backoff, jittered sleeps, a deadline.

One loop serves every job the tool waits on (credential report generation,
Access Advisor jobs, Identity Center assignment requests). The schedule of
pauses is deterministic (``Backoff``) so tests can assert it through an
injected ``sleep``; the default sleep jitters each pause (to between half
and all of it) so many workers polling at once do not call in lockstep.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
Sleep = Callable[[float], None]
Clock = Callable[[], float]


def jittered(sleep: Sleep, rand: Callable[[], float] = random.random) -> Sleep:
    """``sleep`` for a random share (half to all) of each pause: "equal jitter", never longer than asked."""
    return lambda seconds: sleep(seconds * (0.5 + 0.5 * rand()))


jittered_sleep: Sleep = jittered(time.sleep)


@dataclass(frozen=True)
class Backoff:
    """Pauses between checks: ``first``, doubled after each, at most ``cap`` seconds."""

    first: float = 1.0
    cap: float = 20.0

    def pauses(self) -> Iterator[float]:
        pause = self.first
        while True:
            yield pause
            pause = min(pause * 2, self.cap)


@dataclass(frozen=True)
class Polled(Generic[T]):
    """The last answer, whether it was final, and the seconds waited when last measured."""

    answer: T
    done: bool
    waited: float


def poll(
    check: Callable[[], T],
    done: Callable[[T], bool],
    *,
    deadline: float,
    backoff: Backoff,
    sleep: Sleep = jittered_sleep,
    clock: Clock | None = None,
) -> Polled[T]:
    """Call ``check`` until ``done(answer)``, pausing by ``backoff``; give up once ``deadline`` seconds passed.

    A pause never runs past the deadline, and the answer at the deadline is
    returned (``done=False``) for the caller to report. Without a ``clock``
    only the pauses count as time, an upper bound on what the jittered sleep
    really waited. ``check`` raises for a job that failed.
    """
    started = clock() if clock is not None else 0.0
    slept = waited = 0.0
    pauses = backoff.pauses()
    while True:
        answer = check()
        if done(answer):
            return Polled(answer, True, waited)
        waited = clock() - started if clock is not None else slept
        if waited >= deadline:
            return Polled(answer, False, waited)
        pause = min(next(pauses), deadline - waited)
        sleep(pause)
        slept += pause
