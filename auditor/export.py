"""On-demand compliance exports from a finished run (its findings and snapshot)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import boto3
import msgspec

from auditor import snapshot as snapshots
from auditor.config import Settings
from auditor.controls import framework as framework_of_key
from auditor.model import Finding
from auditor.report import compliance
from auditor.report.securityhub import ImportSummary, import_findings
from auditor.rules import RULES
from auditor.snapshot import SnapshotError
from auditor.store import Store


@dataclass
class ExportResult:
    path: Path | None
    securityhub: ImportSummary | None = None


def run_directory(store: Store, run_dir: Path | None) -> Path:
    """The given run directory, else the latest recorded run's."""
    if run_dir is not None:
        return run_dir
    latest = store.latest_run()
    if latest is None or not latest.get("out_dir"):
        raise SnapshotError("no recorded run in the state store: run `auditor run` first or pass --run-dir DIR")
    return Path(latest["out_dir"])


def load_findings(run_dir: Path) -> list[Finding]:
    path = run_dir / "findings.json"
    try:
        return msgspec.json.decode(path.read_bytes(), type=list[Finding])
    except FileNotFoundError as exc:
        raise SnapshotError(f"{path}: not found") from exc
    except msgspec.DecodeError as exc:
        raise SnapshotError(f"{path}: {exc}") from exc


def export(
    settings: Settings,
    store: Store,
    *,
    framework: str,
    fmt: str,
    run_dir: Path | None,
    out_dir: Path | None,
    to_securityhub: bool = False,
    session=None,
) -> ExportResult:
    source = run_directory(store, run_dir)
    findings = load_findings(source)
    snapshot = snapshots.load(source / "snapshot")
    enabled = {rule_id: rule for rule_id, rule in RULES.items() if rule_id not in settings.get("rules", "disabled")}
    region = settings.get("aws", "region") or "us-east-1"
    path = compliance.export(out_dir or source, findings, snapshot, framework, fmt, region=region, rules=enabled)
    summary = None
    if to_securityhub:
        account = next((a.account_id for a in snapshot.table("accounts") if a.is_management), None)
        if account is None:
            raise SnapshotError(f"{source / 'snapshot'}: no management account to import into")
        chosen = compliance.framework_findings(findings, framework_of_key(framework))
        summary = import_findings(session or boto3.Session(), chosen, region, account)
    return ExportResult(path=path, securityhub=summary)
