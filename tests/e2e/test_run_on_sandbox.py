"""`auditor run` end to end on the sandbox organisation, through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.cli import main
from tests.contract import contract_problems

pytestmark = pytest.mark.e2e

CHECKER = Path(__file__).resolve().parents[3] / "shared" / "tools" / "check_contract.py"

# planted problem -> the rule that must find it
RULE_FOR = {
    "leaver": "idc-leaver-with-access",
    "not_in_hr": "idc-user-not-in-hr",
    "idc_inactive": "idc-user-inactive",
    "idc_never_signed_in": "idc-user-never-signed-in",
    "key_unused": "iam-access-key-unused",
    "key_old": "iam-access-key-old",
    "console_no_mfa": "iam-console-user-without-mfa",
    "direct_admin_assignment": "idc-admin-direct-assignment",
    "expired_contractor": "idc-contractor-past-end-date",
    "mover": "idc-mover-keeps-old-access",
    "break_glass_used": "emergency-access-used",
    "on_leave_used_access": "idc-access-used-on-leave",
    "beyond_birthright": "idc-access-beyond-birthright",
    "direct_user_assignment": "idc-direct-user-assignment",
    "assignment_unused": "idc-assignment-unused",
    "admin_access": "idc-admin-access",
    "risky_permission_set": "idc-permission-set-risky-policy",
    "empty_group_with_assignments": "idc-group-empty-with-assignments",
    "assignment_to_deleted_user": "idc-assignment-to-missing-principal",
    "keys_on_console_no_mfa": "iam-keys-on-console-user-without-mfa",
    "two_active_keys": "iam-user-two-active-keys",
    "iam_user_no_owner": "iam-user-without-owner",
    "iam_user_owner_left": "iam-user-without-owner",
    "user_direct_policy": "iam-user-direct-policy",
    "iam_admin_user": "iam-admin-policy-attached",
    "iam_user_inactive": "iam-user-inactive",
    "role_unused": "iam-role-unused",
    "unused_services": "iam-unused-services",
    "root_access_key": "iam-root-access-key",
    "root_without_mfa": "iam-root-without-mfa",
    "root_used": "iam-root-used",
    "break_glass_role_used": "emergency-access-used",
    "escalation_policy_version": "iam-escalation-policy-version",
    "escalation_attach_put_policy": "iam-escalation-attach-put-policy",
    "escalation_credentials": "iam-escalation-credentials",
    "escalation_pass_role": "iam-escalation-pass-role",
    "escalation_assume_role": "iam-escalation-assume-role",
    "escalation_identity_center": "idc-escalation-grants-access",
    "grant_by_person": "anomaly-grant-by-person",
    "admin_granted_and_removed": "anomaly-admin-granted-and-removed",
    "grant_burst": "anomaly-grant-burst",
    "grant_to_absent": "anomaly-grant-to-leaver-or-on-leave",
    "sign_in_after_termination": "anomaly-sign-in-after-termination",
}
MEDIUM_OR_HIGHER = {"critical", "high", "medium"}


@pytest.fixture(scope="module")
def run_output(tmp_path_factory, sandbox):
    """`auditor run --config` with the settings the sandbox wrote beside its HR feed."""
    out = tmp_path_factory.mktemp("run")
    env = sandbox.env()
    workdir = sandbox.hr_feed.parent
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        patch.delenv("AWS_PROFILE", raising=False)
        code = main(
            [
                "run",
                "--config",
                str(workdir / "config.toml"),
                "--out",
                str(out),
                "--hr-feed",
                str(sandbox.hr_feed),
                "--as-of",
                sandbox.as_of.isoformat(),
            ]
        )
    findings = json.loads((out / "findings.json").read_text())
    return code, out, findings


def _matches(finding: dict, planted) -> bool:
    principal = finding["principal"]
    names = {principal.get("name"), principal.get("id")}
    if planted.account_id is not None and finding["account_id"] not in (planted.account_id, None):
        return False
    return planted.name in names or planted.detail.get("access_key_id") in (finding["resource"], principal.get("id"))


def test_run_completes_and_writes_every_output(run_output):
    code, out, findings = run_output
    assert code == 0, json.loads((out / "snapshot" / "manifest.json").read_text())
    for name in ("findings.json", "findings.csv", "report.html", "snapshot/manifest.json"):
        assert (out / name).is_file(), name
    assert findings


def test_outputs_follow_the_contract(run_output):
    _, out, _ = run_output
    assert contract_problems(out) == []
    if CHECKER.is_file():  # a shared checker beside the repository, as an extra
        checked = subprocess.run([sys.executable, str(CHECKER), str(out)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout


def test_every_planted_problem_is_found_by_its_rule(run_output, sandbox):
    _, _, findings = run_output
    covered = [p for p in sandbox.planted if p.problem in RULE_FOR]
    assert {p.problem for p in covered} == set(RULE_FOR), "the sandbox plants one of each"
    missed = [
        p
        for p in covered
        if not any(f["rule_id"] == RULE_FOR[p.problem] and f["severity"] != "info" and _matches(f, p) for f in findings)
    ]
    assert missed == []


def test_no_medium_or_higher_finding_on_a_clean_principal(run_output, sandbox):
    _, _, findings = run_output
    clean = {(kind, name) for kind, name, _ in sandbox.clean}
    noisy = [
        (f["rule_id"], f["principal"]["name"])
        for f in findings
        if f["severity"] in MEDIUM_OR_HIGHER
        and (f["principal"]["type"] if f["principal"]["type"] != "access_key" else "iam_user", f["principal"]["name"])
        in clean
    ]
    assert noisy == [], noisy


def test_manifest_records_every_source_with_coverage(run_output, sandbox):
    _, out, _ = run_output
    manifest = json.loads((out / "snapshot" / "manifest.json").read_text())
    sources = {(s["source"], s["account_id"]) for s in manifest["sources"]}
    assert ("organizations", None) in sources and ("identity_center", None) in sources and ("hr", None) in sources
    trail = [s for s in manifest["sources"] if s["source"] == "cloudtrail"]
    assert trail and all(s["status"] == "ok" and s["coverage_start"] and s["coverage_end"] for s in trail)


def test_analyze_reproduces_the_findings_offline(run_output, sandbox, tmp_path):
    _, out, findings = run_output
    again = tmp_path / "again"
    config = sandbox.hr_feed.parent / "config.toml"  # the same settings as the run
    assert main(["analyze", "--snapshot", str(out / "snapshot"), "--out", str(again), "--config", str(config)]) == 0
    reanalysed = json.loads((again / "findings.json").read_text())
    # the run was recorded in the state store, so what was new then is open now
    assert {f["status"] for f in reanalysed} <= {"open", "suppressed"}
    strip = [{k: v for k, v in f.items() if k != "status"} for f in findings]
    assert [{k: v for k, v in f.items() if k != "status"} for f in reanalysed] == strip


@pytest.mark.parametrize("fmt", ["html", "csv", "json", "ocsf", "asff"])
def test_export_from_the_run_directory(run_output, tmp_path, fmt):
    _, out, _ = run_output
    assert main(["export", "--framework", "cis", "--format", fmt, "--run-dir", str(out), "--out", str(tmp_path)]) == 0
    (written,) = list(tmp_path.iterdir())
    assert written.name.startswith("compliance-cis")
    if fmt == "json":
        report = json.loads(written.read_text())
        ids = {c["control_id"] for c in report["controls"]}
        assert {"CIS-AWS-1.10", "CIS-AWS-1.12", "CIS-AWS-1.14"} <= ids


def test_export_defaults_to_the_latest_recorded_run(run_output, tmp_path, capsys):
    _, out, _ = run_output
    assert main(["export", "--framework", "soc2", "--format", "json", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "compliance-soc2.json").is_file()


def _explained(capsys, who: str, run_dir) -> dict[str, str]:
    """`auditor explain WHO --format json` on a run: rule id -> outcome, for the one principal named."""
    assert main(["explain", who, "--run-dir", str(run_dir), "--format", "json"]) == 0
    (document,) = json.loads(capsys.readouterr().out)
    return {v["rule_id"]: v["outcome"] for v in document["verdicts"]}


def test_explain_a_flagged_a_clean_and_an_exempt_principal(run_output, sandbox, capsys):
    _, out, _ = run_output
    leaver = next(p for p in sandbox.planted if p.problem == "leaver")
    assert _explained(capsys, leaver.name, out)["idc-leaver-with-access"] == "fired"
    clean = next(name for kind, name, _ in sandbox.clean if kind == "idc_user")
    verdicts = _explained(capsys, clean, out)
    assert verdicts["idc-user-inactive"] == "cleared" and "undecided" not in verdicts.values()
    glass = next(p for p in sandbox.planted if p.problem == "break_glass_used").detail["user_name"]
    assert _explained(capsys, glass, out)["idc-user-not-in-hr"] == "exempt"
