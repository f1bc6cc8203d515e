"""The output contract (CONTRACT.md) as a check any test can run on a run directory.

It lives with the tests so a clone of the repository alone checks its
outputs; a shared checker beside the repository, when present, runs as well.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime
from pathlib import Path

CATEGORIES = {
    "orphaned",
    "inactive",
    "over_privileged",
    "credential_hygiene",
    "lifecycle",
    "emergency_access",
    "lifecycle_anomaly",
}
SEVERITIES = {"critical", "high", "medium", "low", "info"}
PRINCIPAL_TYPES = {"idc_user", "idc_group", "iam_user", "iam_role", "access_key", "root", "permission_set"}
STATUSES = {"new", "open", "resolved", "suppressed"}
FINDING_KEYS = {
    "finding_id",
    "rule_id",
    "category",
    "severity",
    "principal",
    "account_id",
    "resource",
    "title",
    "evidence",
    "controls",
    "status",
}
CSV_HEADER = [
    "finding_id",
    "rule_id",
    "category",
    "severity",
    "status",
    "principal_type",
    "principal_id",
    "principal_name",
    "principal_arn",
    "account_id",
    "resource",
    "title",
    "controls",
    "evidence",
    "recommendation",
    "first_seen",
    "resolved_at",
]
SOURCE_STATUSES = {"ok", "partial", "failed"}
TABLE_STATUSES = {"complete", "partial", "failed"}
ACCOUNT = re.compile(r"^\d{12}$")


def _time(value: object) -> bool:
    if value is None:
        return True
    try:
        datetime.fromisoformat(str(value))
    except ValueError:
        return False
    return True


def finding_problems(item: dict, where: str) -> list[str]:
    problems = [f"{where}: missing {key}" for key in sorted(FINDING_KEYS - item.keys())]
    if problems:
        return problems
    checks = [
        (item["category"] in CATEGORIES, f"category {item['category']!r}"),
        (item["severity"] in SEVERITIES, f"severity {item['severity']!r}"),
        (item["status"] in STATUSES, f"status {item['status']!r}"),
        (
            isinstance(item["principal"], dict) and item["principal"].keys() >= {"type", "id", "name", "arn"},
            "principal",
        ),
        (
            item["account_id"] is None or bool(ACCOUNT.match(str(item["account_id"]))),
            f"account_id {item['account_id']!r}",
        ),
        (isinstance(item["evidence"], dict), "evidence is not an object"),
        (isinstance(item["controls"], list), "controls is not an array"),
        (isinstance(item["title"], str) and "\n" not in item["title"], "title is not one line"),
    ]
    if isinstance(item["principal"], dict):
        checks.append(
            (item["principal"].get("type") in PRINCIPAL_TYPES, f"principal type {item['principal'].get('type')!r}")
        )
    if item["severity"] != "info" and isinstance(item["evidence"], dict):
        checks.append((not item["evidence"].get("insufficient_evidence"), "insufficient evidence above info"))
    return [f"{where}: {what}" for ok, what in checks if not ok]


def manifest_problems(manifest: dict) -> list[str]:
    problems = [
        f"manifest: missing {key}"
        for key in ("format_version", "as_of", "sources", "unreadable")
        if key not in manifest
    ]
    for n, source in enumerate(manifest.get("sources", [])):
        where = f"manifest sources[{n}]"
        missing = {"source", "account_id", "status", "error", "coverage_start", "coverage_end"} - source.keys()
        problems += [f"{where}: missing {key}" for key in sorted(missing)]
        if source.get("status") not in SOURCE_STATUSES:
            problems.append(f"{where}: status {source.get('status')!r}")
        if not (_time(source.get("coverage_start")) and _time(source.get("coverage_end"))):
            problems.append(f"{where}: coverage is not ISO 8601")
        if any(status not in TABLE_STATUSES for status in source.get("tables", {}).values()):
            problems.append(f"{where}: a table status outside {sorted(TABLE_STATUSES)}")
    for n, entry in enumerate(manifest.get("unreadable", [])):
        if not {"what", "error"} <= entry.keys():
            problems.append(f"manifest unreadable[{n}]: needs what and error")
    return problems


def contract_problems(out: Path) -> list[str]:
    """Every way the run directory ``out`` departs from the contract (empty: it follows it)."""
    out = Path(out)
    missing = [
        name
        for name in ("findings.json", "findings.csv", "report.html", "snapshot/manifest.json")
        if not (out / name).is_file()
    ]
    if missing:
        return [f"missing {name}" for name in missing]
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    if not isinstance(findings, list):
        return ["findings.json is not an array"]
    problems = [p for n, item in enumerate(findings) for p in finding_problems(item, f"findings[{n}]")]
    with (out / "findings.csv").open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    if not rows or rows[0][: len(CSV_HEADER)] != CSV_HEADER:
        problems.append(f"findings.csv header {rows[0] if rows else None}")
    elif len(rows) - 1 != len(findings):
        problems.append(f"findings.csv has {len(rows) - 1} rows for {len(findings)} findings")
    problems += manifest_problems(json.loads((out / "snapshot" / "manifest.json").read_text(encoding="utf-8")))
    if re.search(r"""<(script|link|img)[^>]+(src|href)=["']https?://""", (out / "report.html").read_text("utf-8")):
        problems.append("report.html fetches from the network")
    return problems
