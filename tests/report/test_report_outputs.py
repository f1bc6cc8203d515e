"""The report package as a whole: the contract's files, and templates that install with the package."""

import csv
import json
import re
import tomllib
from fnmatch import fnmatch
from importlib import resources
from pathlib import Path

from openpyxl import load_workbook

from auditor import snapshot as snapshot_store
from auditor.report import write_all
from auditor.report.pages import environment

from .builders import AS_OF, HISTORY, lifecycle_findings, sample_findings, small_snapshot

CATEGORIES = {"orphaned", "inactive", "over_privileged", "credential_hygiene", "lifecycle", "emergency_access"}
SEVERITIES = {"critical", "high", "medium", "low", "info"}
PRINCIPAL_TYPES = {"idc_user", "idc_group", "iam_user", "iam_role", "access_key", "root", "permission_set"}
STATUSES = {"new", "open", "resolved", "suppressed"}
REPO = Path(__file__).resolve().parents[2]


def test_write_all_produces_the_contract_outputs(tmp_path):
    out = tmp_path / "out"
    snapshot = small_snapshot()
    paths = write_all(out, sample_findings(), snapshot, {"exit_status": 3}, now=AS_OF)
    assert paths == {
        "findings.json": out / "findings.json",
        "findings.csv": out / "findings.csv",
        "findings.xlsx": out / "findings.xlsx",
        "report.html": out / "report.html",
        "snapshot": out / "snapshot",
    }
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    ids = [f["finding_id"] for f in findings]
    assert len(ids) == len(set(ids)) == 4
    for f in findings:
        assert f["category"] in CATEGORIES and f["severity"] in SEVERITIES and f["status"] in STATUSES
        assert f["principal"]["type"] in PRINCIPAL_TYPES
        assert f["account_id"] is None or re.fullmatch(r"\d{12}", f["account_id"])
    with (out / "findings.csv").open(newline="", encoding="utf-8-sig") as handle:
        assert [row["finding_id"] for row in csv.DictReader(handle)] == ids
    html = (out / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']https?://""", html)
    reloaded = snapshot_store.load(out / "snapshot")
    assert reloaded.manifest.counts == snapshot.manifest.counts
    assert reloaded.manifest.unreadable == snapshot.manifest.unreadable
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_write_all_can_leave_the_snapshot_to_its_caller(tmp_path):
    paths = write_all(tmp_path, [], small_snapshot(), {}, save_snapshot=False, now=AS_OF)
    assert set(paths) == {"findings.json", "findings.csv", "findings.xlsx", "report.html"}
    assert not (tmp_path / "snapshot").exists()


def test_write_all_passes_the_history_and_the_run_to_the_outputs(tmp_path):
    info = {"exit_status": 0, "run_id": 9, "audit_log_head": "ab" * 32}
    write_all(tmp_path, lifecycle_findings(), small_snapshot(), info, save_snapshot=False, now=AS_OF, history=HISTORY)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<h3>Trend</h3>" in html and "run 7, 2024-06-28" in html
    assert "ab" * 32 in html
    workbook = load_workbook(tmp_path / "findings.xlsx", read_only=True)
    assert workbook.sheetnames[0] == "Summary"
    summary = {row[0]: row[1] for row in workbook["Summary"].iter_rows(values_only=True) if row and row[0]}
    assert summary["Run id"] == "9" and summary["As of"] == "2024-06-30 12:00:00 UTC"


def test_templates_load_as_package_resources():
    names = {entry.name for entry in resources.files("auditor.templates").iterdir()}
    assert {"report.html.j2", "report.css", "report.js", "compliance.html.j2"} <= names
    env = environment()
    source, _, _ = env.loader.get_source(env, "report.html.j2")
    assert source.startswith("<!DOCTYPE html>")


def test_every_template_file_is_shipped_in_the_wheel():
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["auditor.templates"]
    source = REPO / config["tool"]["setuptools"]["package-dir"]["auditor.templates"]
    shipped = [p.name for p in source.iterdir() if p.is_file() and p.suffix != ".py"]
    assert shipped
    assert [name for name in shipped if not any(fnmatch(name, g) for g in globs)] == []
