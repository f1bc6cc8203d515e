"""One poller for every asynchronous AWS job: backoff, a deadline never overslept, jitter that never lengthens."""

from __future__ import annotations

import pytest

from auditor.aws import Backoff, jittered, poll


class Clock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def answers(*values: str):
    remaining = list(values)
    return lambda: remaining.pop(0) if len(remaining) > 1 else remaining[0]


def test_pauses_double_up_to_the_cap_until_the_job_is_done():
    clock = Clock()
    polled = poll(
        answers("RUNNING", "RUNNING", "RUNNING", "RUNNING", "DONE"),
        lambda state: state == "DONE",
        deadline=60,
        backoff=Backoff(first=1, cap=4),
        sleep=clock.sleep,
        clock=clock,
    )
    assert (polled.answer, polled.done) == ("DONE", True)
    assert clock.sleeps == [1, 2, 4, 4]


def test_the_deadline_is_never_overslept_and_the_last_answer_is_returned():
    clock = Clock()
    polled = poll(
        answers("RUNNING"),
        lambda state: state == "DONE",
        deadline=10,
        backoff=Backoff(first=1, cap=8),
        sleep=clock.sleep,
        clock=clock,
    )
    assert (polled.answer, polled.done, polled.waited) == ("RUNNING", False, 10)
    assert clock.sleeps == [1, 2, 4, 3]


def test_without_a_clock_only_the_pauses_count_as_time():
    slept: list[float] = []
    polled = poll(answers("RUNNING"), lambda s: False, deadline=5, backoff=Backoff(first=1, cap=16), sleep=slept.append)
    assert slept == [1, 2, 2] and polled.waited == 5 and not polled.done


def test_a_failed_job_stops_the_polling_with_its_error():
    def check() -> str:
        raise RuntimeError("job failed")

    with pytest.raises(RuntimeError, match="job failed"):
        poll(check, lambda s: True, deadline=5, backoff=Backoff(), sleep=lambda s: pytest.fail("slept"))


@pytest.mark.parametrize(("draw", "waited"), [(0.0, 2.0), (0.5, 3.0), (0.999, 3.998)])
def test_jitter_waits_between_half_and_all_of_each_pause(draw, waited):
    slept: list[float] = []
    jittered(slept.append, rand=lambda: draw)(4.0)
    assert slept == [pytest.approx(waited)]
