"""findings.json: the contract's JSON array, one object per finding."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import msgspec

from auditor.files import atomic_write
from auditor.model import Finding, sort_findings


def encode_findings(findings: Iterable[Finding]) -> bytes:
    """Every Finding field, principal and evidence as objects, in the shared order.

    ``order="deterministic"`` sorts evidence keys but keeps the field order of
    the Finding, so two runs over the same estate give byte-identical files.
    """
    encoded = msgspec.json.encode(sort_findings(findings), order="deterministic")
    return msgspec.json.format(encoded, indent=2) + b"\n"


def write_findings_json(findings: Iterable[Finding], path: Path) -> None:
    atomic_write(Path(path), encode_findings(findings))
