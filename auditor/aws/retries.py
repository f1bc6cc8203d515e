"""Retries that survive heavy throttling: jittered backoff and a per-call attempt budget, no shared quota.

botocore's standard mode retries throttling, 5xx and network errors with
jittered exponential backoff, but also keeps a retry quota per client (500
points, 5 per throttled retry, 14 per other retry) that a long run under
heavy throttling drains; once drained, calls fail on their first error. A
call lost that way makes a source look partial or, worse, shorter than it
is. Here every call gets its own budget of attempts and nothing is shared:
what stops a retry storm is the bounded number of workers each source runs,
not a counter that fails the calls of every other worker too.

The retry conditions (which errors are transient) stay botocore's own.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from botocore.retries import standard

# Full jitter: a retry waits rand(0, 1) * min(cap, base * 2 ** (attempt - 1)) seconds. The workers of a
# source are few and bounded, so a short first step cannot storm a service, and sustained throttling
# still doubles the step up to the cap. A long first step (botocore's is 1 s) mostly lengthens the
# tail: a phase ends with its unluckiest call, and under 30% throttling some call of a thousand is
# throttled six times in a row (bench/throttled_run.py: 0.25 s gave 2.2-3.8x the fault-free time).
THROTTLING_BASE_SECONDS = 0.1
OTHER_BASE_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 20.0


class Backoff:
    """Full-jitter exponential backoff; longer steps after throttling than after a 5xx or a dropped connection."""

    def __init__(self, throttling: standard.ThrottlingErrorDetector, rand: Callable[[], float] = random.random):
        self._throttling = throttling
        self._rand = rand

    def delay_amount(self, context: standard.RetryContext) -> float:
        base = (
            THROTTLING_BASE_SECONDS
            if self._throttling.is_throttling_error_from_context(context)
            else OTHER_BASE_SECONDS
        )
        return self._rand() * min(MAX_BACKOFF_SECONDS, base * 2 ** (context.attempt_number - 1))


class RetryHandler:
    """A ``needs-retry`` handler: botocore's standard retry conditions, ``Backoff``, ``total_attempts`` per call."""

    def __init__(self, total_attempts: int, rand: Callable[[], float] = random.random) -> None:
        self._adapter = standard.RetryEventAdapter()
        self._policy = standard.RetryPolicy(
            retry_checker=standard.StandardRetryConditions(max_attempts=total_attempts),
            retry_backoff=Backoff(standard.ThrottlingErrorDetector(self._adapter), rand),
        )

    def needs_retry(self, **kwargs: Any) -> float | None:
        """Seconds to wait before the next attempt, or None to give up (botocore then raises)."""
        context = self._adapter.create_retry_context(**kwargs)
        delay = self._policy.compute_retry_delay(context) if self._policy.should_retry(context) else None
        self._adapter.adapt_retry_response_from_context(context)
        return delay


def install(client: Any, total_attempts: int) -> Any:
    """Replace ``client``'s standard-mode retry handler by ``RetryHandler`` (same event, same id); the client."""
    service = client.meta.service_model.service_id.hyphenize()
    event, unique_id = f"needs-retry.{service}", f"retry-config-{service}"
    client.meta.events.unregister(event, unique_id=unique_id)
    client.meta.events.register(event, RetryHandler(total_attempts).needs_retry, unique_id=unique_id)
    return client
