"""Everything that talks to AWS goes through here: sessions, clients, pages, polling, errors, times."""

from auditor.aws.context import (
    DEFAULT_MEMBER_ROLE,
    DEFAULT_TOTAL_ATTEMPTS,
    AwsContext,
    ClientRecipe,
    EndpointUnreachable,
    client_config,
    context_from_settings,
    remediation_context,
    rightsize_context,
    rollback_context,
)
from auditor.aws.errors import describe_error, error_code, is_transient
from auditor.aws.paging import pages
from auditor.aws.polling import Backoff, Clock, Polled, Sleep, jittered, jittered_sleep, poll
from auditor.aws.times import utc

__all__ = [
    "DEFAULT_MEMBER_ROLE",
    "DEFAULT_TOTAL_ATTEMPTS",
    "AwsContext",
    "ClientRecipe",
    "EndpointUnreachable",
    "Backoff",
    "Clock",
    "Polled",
    "Sleep",
    "client_config",
    "context_from_settings",
    "describe_error",
    "error_code",
    "is_transient",
    "jittered",
    "jittered_sleep",
    "pages",
    "poll",
    "remediation_context",
    "rightsize_context",
    "rollback_context",
    "utc",
]
