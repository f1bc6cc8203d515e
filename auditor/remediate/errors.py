"""Why remediation stops: a refusal (nothing was changed) or one action's failure."""

from __future__ import annotations

import botocore.exceptions

from auditor.aws import error_code


class RemediationError(Exception):
    """Base of every remediation error; the message says what to do next."""


class PlanError(RemediationError):
    """A plan file that cannot be trusted: unreadable, altered (hash mismatch) or of an unknown format."""


class Refused(RemediationError):
    """A safety check refused the whole plan or run before any change was made."""


class NotFound(Refused):
    """What a command names (a remediation run) is not in the state store: bad input, nothing was read or changed."""


class BreakerRefused(Refused):
    """The circuit breaker refuses the plan; in a dry run ``preview`` holds what apply would have done."""

    def __init__(self, message: str, preview: object | None = None) -> None:
        super().__init__(message)
        self.preview = preview  # a RunResult: the full dry run, shown under the breaker's verdict


class ActionFailed(RemediationError):
    """One action did not take effect (an asynchronous request failed or ran past its deadline)."""


def explain(exc: BaseException) -> str:
    """``"AccessDenied: <message> (UpdateAccessKey)"`` for AWS errors; the message otherwise."""
    if isinstance(exc, botocore.exceptions.ClientError):
        return f"{error_code(exc)}: {exc.response.get('Error', {}).get('Message', '')} ({exc.operation_name})"
    return str(exc)


# An AWS error or a failed asynchronous request fails one action; anything else interrupts the run.
FAILURES = (botocore.exceptions.ClientError, ActionFailed)
