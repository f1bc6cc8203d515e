"""What every renderer shares: time display, statuses, risk weights, partitions.

The finding order (``auditor.model.sort_findings``) and the atomic writer
(``auditor.files.atomic_write``) live on lower floors, shared beyond reports.
"""

from __future__ import annotations

from datetime import UTC, datetime

from auditor.model import Finding


def format_time(value: datetime | str | None) -> str:
    """UTC to the second, the way an auditor reads it; strings pass through."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: times must be timezone-aware UTC")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # isoformat is C and several times faster than strftime; a large report formats millions of times
    return f"{value.isoformat(' ', 'seconds')[:19]} UTC"


LIVE_STATUSES = frozenset({"new", "open"})  # found by this run and not accepted as a risk
UNRESOLVED_STATUSES = frozenset({"new", "open", "suppressed"})  # what the state store counts per run
STATUSES = ("new", "open", "resolved", "suppressed")

# Risk score of a principal or an account: its live findings weighted by severity.
RISK_WEIGHTS = {"critical": 10, "high": 5, "medium": 2, "low": 1, "info": 0}


def is_insufficient(finding: Finding) -> bool:
    """A finding a rule could not decide for lack of observed evidence."""
    return finding.evidence.get("insufficient_evidence") is True


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 UTC with a Z, to the second, for machine-readable outputs; None passes through."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: times must be timezone-aware UTC")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def partition_of(region: str | None) -> str:
    """The AWS partition a region belongs to (ARNs and Security Hub product ARNs need it)."""
    if region and region.startswith("cn-"):
        return "aws-cn"
    if region and region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
