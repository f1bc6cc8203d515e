"""What every renderer shares: one finding order, atomic writes, time display.

One order for JSON, CSV and HTML makes outputs diffable between runs and
lets a reviewer compare the three files row by row.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from auditor.model import SEVERITY_ORDER, Finding

_RANK = {severity.value: severity.rank for severity in SEVERITY_ORDER}


def severity_rank(severity: str) -> int:
    """Higher is worse; an unknown severity ranks below info."""
    return _RANK.get(severity, -1)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Worst first, then by rule, account, principal and resource; finding_id breaks ties."""
    return sorted(
        findings,
        key=lambda f: (
            -severity_rank(f.severity),
            f.category,
            f.rule_id,
            f.account_id or "",
            f.principal.type,
            f.principal.id,
            f.resource or "",
            f.finding_id,
        ),
    )


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` in one step, so a crash never leaves a half-written report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def format_time(value: datetime | str | None) -> str:
    """UTC to the second, the way an auditor reads it; strings pass through."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: times must be timezone-aware UTC")
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


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
