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
