"""AWS clients for the actions, and waiting on Identity Center's asynchronous requests.

Identity Center (identity store, sso-admin) is called in the caller's own
account, the management or delegated administrator account; IAM is called
in the account that holds the user, through the configured member role.
Clients are created once per (service, account) through the context, which
serialises creation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from auditor.aws import AwsContext, Backoff, Clock, Sleep, jittered_sleep, poll
from auditor.remediate.errors import ActionFailed


@dataclass
class Waiter:
    """Polls an asynchronous request with exponential backoff until it ends or the deadline passes.

    ``sleep`` and ``clock`` are injected so tests never wait on the wall clock.
    """

    sleep: Sleep = jittered_sleep
    clock: Clock = time.monotonic
    deadline_seconds: float = 300.0
    first_delay: float = 1.0
    max_delay: float = 20.0

    def wait(self, describe: Callable[[], dict], what: str) -> dict:
        """``describe()`` returns an AccountAssignmentOperationStatus; returns it once SUCCEEDED.

        FAILED raises ``ActionFailed`` with AWS's FailureReason; a request still
        IN_PROGRESS at the deadline raises ``ActionFailed`` naming its request id,
        so a later re-run can find out how it ended.
        """

        def check() -> dict:
            status = describe()
            if status.get("Status") == "FAILED":
                raise ActionFailed(f"{what} failed: {status.get('FailureReason') or 'no reason given'}")
            return status

        polled = poll(
            check,
            lambda status: status.get("Status") == "SUCCEEDED",
            deadline=self.deadline_seconds,
            backoff=Backoff(first=self.first_delay, cap=self.max_delay),
            sleep=self.sleep,
            clock=self.clock,
        )
        if not polled.done:
            status = polled.answer
            raise ActionFailed(
                f"{what} still {status.get('Status') or 'without status'} after {polled.waited:.0f}s "
                f"(request {status.get('RequestId')}); re-run to check how it ended"
            )
        return polled.answer


@dataclass
class Clients:
    """The clients one remediation run uses, made on first use."""

    ctx: AwsContext
    waiter: Waiter = field(default_factory=Waiter)
    _made: dict[tuple[str, str | None], Any] = field(default_factory=dict, repr=False)

    def _get(self, service: str, account_id: str | None) -> Any:
        key = (service, account_id)
        if key not in self._made:
            self._made[key] = self.ctx.client(service, account_id)
        return self._made[key]

    def identitystore(self) -> Any:
        return self._get("identitystore", None)

    def sso_admin(self) -> Any:
        return self._get("sso-admin", None)

    def sts(self) -> Any:
        return self._get("sts", None)

    def iam(self, account_id: str) -> Any:
        return self._get("iam", account_id)
