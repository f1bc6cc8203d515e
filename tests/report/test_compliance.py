import csv
import json
import re
from datetime import UTC, datetime
from html import unescape

import pytest

from auditor import snapshot as snapshot_store
from auditor.model import Account, Principal
from auditor.report.compliance import build_compliance, export
from auditor.rules import RULES
from auditor.snapshot import SourceResult, SourceStatus

from .builders import AS_OF, DEV, HOSTILE_IMG, PROD, lifecycle_findings, sample_findings, small_snapshot
from .builders import finding as make_finding

SOURCES = ("organizations", "identity_center", "iam", "access_advisor", "cloudtrail", "hr")


def complete_snapshot(overrides: dict[tuple[str, str | None], SourceStatus] | None = None):
    """Every source read fully for both accounts, CloudTrail from different starts per account."""
    statuses = {}
    for source in SOURCES:
        accounts = (PROD, DEV) if source in ("iam", "access_advisor", "cloudtrail") else (None,)
        for account in accounts:
            statuses[(source, account)] = SourceStatus(source=source, account_id=account)
    statuses[("cloudtrail", PROD)] = SourceStatus(
        source="cloudtrail", account_id=PROD, coverage_start=datetime(2024, 3, 1, tzinfo=UTC), coverage_end=AS_OF
    )
    statuses[("cloudtrail", DEV)] = SourceStatus(
        source="cloudtrail",
        account_id=DEV,
        coverage_start=datetime(2024, 4, 1, tzinfo=UTC),
        coverage_end=datetime(2024, 6, 30, 6, tzinfo=UTC),
    )
    statuses.update(overrides or {})
    result = SourceResult(
        tables={
            "accounts": [Account(account_id=PROD, name="prod", is_management=True), Account(account_id=DEV, name="dev")]
        },
        statuses=list(statuses.values()),
    )
    return snapshot_store.build([result], as_of=AS_OF, collected_at=AS_OF, tool_version="9.9.9")


def controls(report):
    return {c["control_id"]: c for c in report["controls"]}


def test_every_control_the_rules_declare_for_the_framework_is_listed():
    report = build_compliance([], complete_snapshot(), "cis")
    declared = {c for rule in RULES.values() for c in rule.controls if c.startswith("CIS-AWS-")}
    assert set(controls(report)) == declared
    ids = [c["control_id"] for c in report["controls"]]
    assert ids.index("CIS-AWS-1.4") < ids.index("CIS-AWS-1.10") < ids.index("CIS-AWS-1.16")
    assert controls(report)["CIS-AWS-1.12"]["title"] == "Credentials unused for 45 days or more are disabled"
    assert report["summary"] == {"controls": len(declared), "pass": len(declared), "fail": 0, "not_assessed": 0}


def test_open_findings_at_low_or_above_fail_their_controls():
    finding = make_finding("f-1", severity="low", controls=["SOC2-CC6.2", "CIS-AWS-1.12"], status="open")
    report = build_compliance([finding], complete_snapshot(), "soc2")
    control = controls(report)["SOC2-CC6.2"]
    assert control["status"] == "fail"
    assert control["reasons"] == ["1 open finding at low or above"]
    assert [f["finding_id"] for f in control["findings"]] == ["f-1"]
    assert control["findings"][0]["evidence"] == {"days_idle": 120, "last_seen": "2024-03-02T10:00:00Z"}
    assert controls(report)["SOC2-CC6.3"]["status"] == "pass"


def test_suppressed_resolved_and_info_findings_do_not_fail_a_control():
    findings = [f for f in lifecycle_findings() if f.status in ("resolved", "suppressed")]
    findings.append(make_finding("f-info", severity="info", controls=["SOC2-CC6.2"]))
    report = build_compliance(findings, complete_snapshot(), "soc2")
    control = controls(report)["SOC2-CC6.2"]
    assert control["status"] == "pass"
    assert control["counts"]["resolved"] == 1 and control["counts"]["suppressed"] == 1
    assert control["counts"]["failing"] == 0
    assert {f["finding_id"] for f in control["findings"]} == {"f-gone", "f-accepted", "f-info"}


def test_a_control_whose_rule_could_not_read_its_sources_is_not_assessed():
    failed = SourceStatus(source="iam", account_id=DEV, status="failed", error="AccessDenied: no (sts, AssumeRole)")
    report = build_compliance([], complete_snapshot({("iam", DEV): failed}), "cis")
    root_mfa = controls(report)["CIS-AWS-1.5"]
    assert root_mfa["status"] == "not_assessed"
    assert root_mfa["reasons"] == [
        f"iam failed for account {DEV} (AccessDenied: no (sts, AssumeRole)): iam-root-without-mfa could not run fully"
    ]
    assert root_mfa["rules"] == [
        {
            "rule_id": "iam-root-without-mfa",
            "title": RULES["iam-root-without-mfa"].title,
            "assessed": False,
            "missing": [f"iam failed for account {DEV} (AccessDenied: no (sts, AssumeRole))"],
        }
    ]
    # a failing control stays failed, and still says what it could not check
    finding = make_finding("f-1", controls=["CIS-AWS-1.5"], severity="critical")
    failing = controls(build_compliance([finding], complete_snapshot({("iam", DEV): failed}), "cis"))["CIS-AWS-1.5"]
    assert failing["status"] == "fail" and len(failing["reasons"]) == 2


def test_missing_source_and_insufficient_evidence_leave_a_control_not_assessed():
    snapshot = complete_snapshot()
    snapshot.manifest.sources = [s for s in snapshot.manifest.sources if s.source != "access_advisor"]
    report = build_compliance([], snapshot, "nist")
    assert controls(report)["NIST-800-53-AC-6(7)"]["reasons"] == [
        "access_advisor was not collected: iam-unused-services could not run fully"
    ]
    undecided = make_finding(
        "f-ie",
        severity="info",
        controls=["NIST-800-53-AC-2(3)"],
        evidence={"insufficient_evidence": True, "missing": "x"},
    )
    control = controls(build_compliance([undecided], complete_snapshot(), "nist"))["NIST-800-53-AC-2(3)"]
    assert (control["status"], control["reasons"]) == ("not_assessed", ["1 finding with insufficient evidence"])


def test_a_control_evidenced_only_by_disabled_rules_is_not_assessed():
    enabled = {rule_id: rule for rule_id, rule in RULES.items() if rule_id != "iam-user-two-active-keys"}
    control = controls(build_compliance([], complete_snapshot(), "cis", rules=enabled))
    assert "CIS-AWS-1.13" not in control  # nothing evidences it any more
    finding = make_finding("f-1", controls=["CIS-AWS-1.13"], status="resolved", rule_id="iam-user-two-active-keys")
    control = controls(build_compliance([finding], complete_snapshot(), "cis", rules=enabled))["CIS-AWS-1.13"]
    assert (control["status"], control["reasons"]) == ("not_assessed", ["no enabled rule evidences this control"])


def test_period_covered_is_the_cloudtrail_window_every_account_was_observed():
    period = build_compliance([], complete_snapshot(), "soc2")["period"]
    assert (period["start"], period["end"], period["as_of"]) == (
        "2024-04-01T00:00:00Z",
        "2024-06-30T06:00:00Z",
        "2024-06-30T12:00:00Z",
    )
    assert period["days"] == 90.2
    assert [(a["account_id"], a["start"]) for a in period["accounts"]] == [
        (PROD, "2024-03-01T00:00:00Z"),
        (DEV, "2024-04-01T00:00:00Z"),
    ]


def test_unknown_framework_and_format_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown framework 'sox'"):
        build_compliance([], complete_snapshot(), "sox")
    with pytest.raises(ValueError, match="unknown export format 'pdf'"):
        export(tmp_path, [], complete_snapshot(), "cis", "pdf")


def test_json_export_is_the_structure(tmp_path):
    path = export(tmp_path, sample_findings(), small_snapshot(), "soc2", "json")
    assert path == tmp_path / "compliance-soc2.json"
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(
        json.dumps(build_compliance(sample_findings(), small_snapshot(), "soc2"))
    )


def test_csv_export_has_a_row_per_control_and_finding_and_is_safe_in_excel(tmp_path):
    hostile = make_finding(
        "f-x",
        principal=Principal(type="idc_user", id="u-9", name='=HYPERLINK("http://x")'),
        controls=["ISO27001-A.5.18"],
    )
    path = export(tmp_path, [hostile], complete_snapshot(), "iso27001", "csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    by_control = {}
    for row in rows:
        by_control.setdefault(row["control_id"], []).append(row)
    assert set(by_control) == {c for r in RULES.values() for c in r.controls if c.startswith("ISO27001-")}
    [row] = by_control["ISO27001-A.5.18"]
    assert (row["control_status"], row["finding_id"], row["principal_name"]) == (
        "fail",
        "f-x",
        '\'=HYPERLINK("http://x")',
    )
    assert all(r["finding_id"] == "" and r["control_status"] == "pass" for r in by_control["ISO27001-A.8.5"])


def test_html_export_is_self_contained_and_escapes_names(tmp_path):
    hostile = make_finding(
        "f-x", principal=Principal(type="idc_user", id="u-2", name=HOSTILE_IMG), controls=["SOC2-CC6.2"]
    )
    path = export(tmp_path, [*sample_findings(), hostile], small_snapshot(), "soc2", "html", now=AS_OF)
    page = path.read_text(encoding="utf-8")
    assert "<script" not in page and HOSTILE_IMG not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "default-src 'none'; base-uri 'none'; form-action 'none'; script-src 'none'; style-src 'sha256-" in unescape(
        page
    )
    assert re.search(r"https?:", page) is None
    assert (
        "CloudTrail activity observed for every account from 2024-05-01 00:00:00 UTC to 2024-06-30 12:00:00 UTC" in page
    )
    assert '<span class="pill cs-fail">fail</span>' in page
    assert "SOC2-CC6.2: Users are registered and authorised" in page


@pytest.mark.parametrize("fmt", ["ocsf", "asff"])
def test_ocsf_and_asff_exports_hold_the_findings_of_the_framework(tmp_path, fmt):
    findings = [
        make_finding("f-cis", controls=["CIS-AWS-1.12"]),
        make_finding("f-pci", controls=["PCI-DSS-8.2.6"]),
    ]
    path = export(tmp_path, findings, complete_snapshot(), "cis", fmt, region="eu-west-1")
    assert path == tmp_path / f"compliance-cis.{fmt}.json"
    records = json.loads(path.read_text(encoding="utf-8"))
    if fmt == "ocsf":
        assert [r["finding_info"]["uid"] for r in records] == ["f-cis"]
    else:
        assert [r["Id"] for r in records] == ["auditor/f-cis"]
        assert records[0]["ProductArn"] == f"arn:aws:securityhub:eu-west-1:{PROD}:product/{PROD}/default"


def test_asff_export_needs_an_account_when_the_snapshot_names_no_management_account(tmp_path):
    snapshot = complete_snapshot()
    snapshot.tables["accounts"] = []
    with pytest.raises(ValueError, match="no management account"):
        export(tmp_path, sample_findings(), snapshot, "soc2", "asff")
    path = export(tmp_path, sample_findings(), snapshot, "soc2", "asff", account="999988887777")
    assert "product/999988887777/default" in path.read_text(encoding="utf-8")
