"""Compliance export: each control of a framework, its status, and the findings and evidence behind it.

A control fails when an open (new or still open) finding at low or above
evidences it. It is not assessed when a rule evidencing it could not run
fully (a source it reads was partial, failed or not collected, per the
snapshot manifest) or could only say "insufficient evidence": absence of
findings there proves nothing. Otherwise it passes. Suppressed findings
(accepted risks) and resolved ones are listed with the control but do not
fail it. The period covered is what CloudTrail was actually read for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from auditor.controls import CONTROL_TITLES, Framework, framework, sort_controls
from auditor.files import atomic_write
from auditor.model import Finding, sort_findings
from auditor.report.asff import asff_findings, write_asff
from auditor.report.common import LIVE_STATUSES, is_insufficient, iso_utc
from auditor.report.compliance_render import render_compliance_csv, render_compliance_html, render_compliance_json
from auditor.report.ocsf import ocsf_findings, write_ocsf
from auditor.rules import RULES, Rule
from auditor.snapshot import Snapshot, SourceStatus

PASS, FAIL, NOT_ASSESSED = "pass", "fail", "not_assessed"
FORMATS = ("html", "csv", "json", "ocsf", "asff")


def export_file_name(framework_key: str, fmt: str) -> str:
    """The file an export of ``framework_key`` in ``fmt`` is written to (retention deletes these names only)."""
    return (
        f"compliance-{framework_key}.{fmt}"
        if fmt in ("html", "csv", "json")
        else f"compliance-{framework_key}.{fmt}.json"
    )


def _where(status: SourceStatus) -> str:
    where = f" for account {status.account_id}" if status.account_id else ""
    error = f" ({status.error})" if status.error else ""
    state = "failed" if status.status == "failed" else f"was {status.status}"
    return f"{status.source} {state}{where}{error}"


def missing_sources(rule: Rule, snapshot: Snapshot) -> list[str]:
    """Why ``rule`` could not run over the whole estate: every source it reads that was not read fully."""
    reasons = []
    for source in rule.sources:
        statuses = [s for s in snapshot.manifest.sources if s.source == source]
        if not statuses:
            reasons.append(f"{source} was not collected")
        reasons.extend(_where(s) for s in statuses if s.status != "ok")
    return reasons


def period_covered(snapshot: Snapshot) -> dict[str, Any]:
    """The CloudTrail window observed for every account (latest start to earliest end), and per account."""
    trails = [s for s in snapshot.manifest.sources if s.source == "cloudtrail"]
    windows = [s for s in trails if s.coverage_start and s.coverage_end]
    start = max((s.coverage_start for s in windows), default=None)
    end = min((s.coverage_end for s in windows), default=None)
    return {
        "as_of": iso_utc(snapshot.manifest.as_of),
        "source": "cloudtrail",
        "start": iso_utc(start),
        "end": iso_utc(end),
        "days": round((end - start).total_seconds() / 86400, 1) if start and end and end > start else 0.0,
        "accounts": [
            {
                "account_id": s.account_id,
                "status": s.status,
                "start": iso_utc(s.coverage_start),
                "end": iso_utc(s.coverage_end),
                "error": s.error,
            }
            for s in sorted(trails, key=lambda s: s.account_id or "")
        ],
    }


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "finding_id": finding.finding_id,
        "rule_id": finding.rule_id,
        "severity": finding.severity,
        "status": finding.status,
        "title": finding.title,
        "principal": msgspec.to_builtins(finding.principal),
        "account_id": finding.account_id,
        "resource": finding.resource,
        "evidence": msgspec.to_builtins(finding.evidence, order="deterministic"),
        "recommendation": finding.recommendation,
        "first_seen": iso_utc(finding.first_seen),
        "resolved_at": iso_utc(finding.resolved_at),
    }


def _control(control_id: str, rules: list[Rule], findings: list[Finding], snapshot: Snapshot) -> dict[str, Any]:
    failing = [f for f in findings if f.status in LIVE_STATUSES and f.severity != "info"]
    undecided = [f for f in findings if f.status in LIVE_STATUSES and is_insufficient(f)]
    rule_rows = []
    for rule in rules:
        missing = missing_sources(rule, snapshot)
        rule_rows.append({"rule_id": rule.id, "title": rule.title, "assessed": not missing, "missing": missing})
    reasons = []
    if failing:
        reasons.append(f"{len(failing)} open finding{'s' if len(failing) != 1 else ''} at low or above")
    blocked: dict[str, list[str]] = {}
    for row in rule_rows:
        for missing in row["missing"]:
            blocked.setdefault(missing, []).append(row["rule_id"])
    for missing, rule_ids in blocked.items():
        reasons.append(f"{missing}: {', '.join(rule_ids)} could not run fully")
    if undecided:
        reasons.append(f"{len(undecided)} finding{'s' if len(undecided) != 1 else ''} with insufficient evidence")
    if not rules:
        reasons.append("no enabled rule evidences this control")
    status = FAIL if failing else NOT_ASSESSED if reasons else PASS
    counts = {key: sum(1 for f in findings if f.status == key) for key in ("new", "open", "suppressed", "resolved")}
    return {
        "control_id": control_id,
        "title": CONTROL_TITLES.get(control_id, ""),
        "status": status,
        "reasons": reasons,
        "rules": rule_rows,
        "counts": {**counts, "failing": len(failing), "insufficient_evidence": len(undecided)},
        "findings": [_finding(f) for f in findings],
    }


def build_compliance(
    findings: Iterable[Finding],
    snapshot: Snapshot,
    framework_key: str,
    *,
    rules: Mapping[str, Rule] = RULES,
) -> dict[str, Any]:
    """Every control of ``framework_key`` (cis, soc2, iso27001, nist, pci) the rules evidence.

    ``rules`` defaults to the whole catalogue; pass the enabled ones so a
    control evidenced only by disabled rules shows as not assessed.
    """
    chosen = framework(framework_key)
    ordered = sort_findings(findings)
    rules_by_control: dict[str, list[Rule]] = {}
    for rule in sorted(rules.values(), key=lambda r: r.id):
        for control in rule.controls:
            if control.startswith(chosen.prefix):
                rules_by_control.setdefault(control, []).append(rule)
    findings_by_control: dict[str, list[Finding]] = {}
    for finding in ordered:
        for control in dict.fromkeys(finding.controls):
            if control.startswith(chosen.prefix):
                findings_by_control.setdefault(control, []).append(finding)
    controls = [
        _control(c, rules_by_control.get(c, []), findings_by_control.get(c, []), snapshot)
        for c in sort_controls(set(rules_by_control) | set(findings_by_control))
    ]
    return {
        "framework": chosen.key,
        "framework_name": chosen.name,
        "as_of": iso_utc(snapshot.manifest.as_of),
        "tool_version": snapshot.manifest.tool_version,
        "period": period_covered(snapshot),
        "summary": {
            "controls": len(controls),
            PASS: sum(1 for c in controls if c["status"] == PASS),
            FAIL: sum(1 for c in controls if c["status"] == FAIL),
            NOT_ASSESSED: sum(1 for c in controls if c["status"] == NOT_ASSESSED),
        },
        "controls": controls,
    }


def framework_findings(findings: Iterable[Finding], chosen: Framework) -> list[Finding]:
    """The findings that evidence at least one control of ``chosen``."""
    return [f for f in findings if any(c.startswith(chosen.prefix) for c in f.controls)]


def export(
    out_dir: Path,
    findings: Iterable[Finding],
    snapshot: Snapshot,
    framework_key: str,
    fmt: str,
    *,
    region: str = "us-east-1",
    account: str | None = None,
    rules: Mapping[str, Rule] = RULES,
    now: datetime | None = None,
) -> Path:
    """Write the framework's export in ``fmt`` (html, csv, json, ocsf, asff) into ``out_dir``; returns its path.

    html/csv/json: every control with its status and evidence. ocsf/asff:
    the findings that evidence the framework, one record each. ASFF needs
    the ``region`` and the ``account`` whose Security Hub product it names
    (default: the organisation's management account in the snapshot).
    """
    chosen = framework(framework_key)
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    out_dir = Path(out_dir)
    findings = list(findings)
    if fmt in ("html", "csv", "json"):
        report = build_compliance(findings, snapshot, chosen.key, rules=rules)
        path = out_dir / export_file_name(chosen.key, fmt)
        if fmt == "json":
            atomic_write(path, render_compliance_json(report))
        elif fmt == "csv":
            atomic_write(path, render_compliance_csv(report))
        else:
            atomic_write(path, render_compliance_html(report, now=now).encode("utf-8"))
        return path
    selected = framework_findings(findings, chosen)
    as_of = snapshot.manifest.as_of
    path = out_dir / export_file_name(chosen.key, fmt)
    if fmt == "ocsf":
        names = {a.account_id: a.name for a in snapshot.table("accounts")}
        tool_version = snapshot.manifest.tool_version or "unknown"
        write_ocsf(
            ocsf_findings(
                selected, as_of=as_of, tool_version=tool_version, account_names=names, region=region, rules=rules
            ),
            path,
        )
        return path
    product_account = account or management_account(snapshot)
    write_asff(asff_findings(selected, region=region, product_account=product_account, as_of=as_of, rules=rules), path)
    return path


def management_account(snapshot: Snapshot) -> str:
    """The organisation's management account, which owns the Security Hub product findings are filed under."""
    account = next((a.account_id for a in snapshot.table("accounts") if a.is_management), None)
    if account is None:
        raise ValueError("the snapshot names no management account; pass the account whose Security Hub to use")
    return account
