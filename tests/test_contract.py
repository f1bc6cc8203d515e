"""The in-repository contract check: a run directory as the renderers write it follows CONTRACT.md, and
a departure from it is caught."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime

from auditor.report import write_all
from tests.contract import contract_problems
from tests.report.builders import sample_findings, small_snapshot

GENERATED = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


def _run_dir(tmp_path):
    out = tmp_path / "out"
    write_all(out, sample_findings(), small_snapshot(), {"generated_at": GENERATED}, now=GENERATED)
    return out


def test_a_written_run_directory_follows_the_contract(tmp_path):
    assert contract_problems(_run_dir(tmp_path)) == []


def test_a_finding_outside_the_enums_is_named(tmp_path):
    out = _run_dir(tmp_path)
    findings = json.loads((out / "findings.json").read_text())
    findings[0]["severity"] = "severe"
    findings[1]["principal"]["type"] = "robot"
    del findings[2]["status"]
    (out / "findings.json").write_text(json.dumps(findings))
    problems = contract_problems(out)
    assert "findings[0]: severity 'severe'" in problems
    assert "findings[1]: principal type 'robot'" in problems
    assert "findings[2]: missing status" in problems


def test_a_manifest_or_csv_header_out_of_contract_is_named(tmp_path):
    out = _run_dir(tmp_path)
    manifest_path = out / "snapshot" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["sources"][0]["status"] = "fine"
    del manifest["unreadable"]
    manifest_path.write_text(json.dumps(manifest))
    with (out / "findings.csv").open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    with (out / "findings.csv").open("w", newline="", encoding="utf-8-sig") as handle:
        csv.writer(handle).writerows([row[:-1] for row in rows])  # resolved_at dropped
    problems = contract_problems(out)
    assert "manifest sources[0]: status 'fine'" in problems and "manifest: missing unreadable" in problems
    assert any(p.startswith("findings.csv header") for p in problems)
