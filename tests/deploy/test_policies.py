"""The shipped IAM policies: generated from declared permissions, and exactly what the product calls."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.deploy.policies import allowed_actions, drift, main

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "deploy" / "policies"
# GetCallerIdentity needs no permission and cannot be denied (STS API reference): neither side proves anything by it.
NO_PERMISSION_NEEDED = {"sts:GetCallerIdentity"}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> dict[str, set[str]]:
    """Every IAM action the sandbox pipeline and a remediation apply/verify/rollback called, in a process of its own."""
    work = tmp_path_factory.mktemp("recorded")
    out = work / "operations.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "deploy" / "record_operations.py"), str(out), str(work)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return {phase: set(actions) - NO_PERMISSION_NEEDED for phase, actions in json.loads(out.read_text()).items()}


def shipped(name: str) -> dict:
    return json.loads((POLICIES / name).read_text())


@pytest.mark.e2e
def test_the_read_only_policy_allows_exactly_what_collection_calls(recorded):
    allowed = allowed_actions(shipped("collector-readonly.json")) - NO_PERMISSION_NEEDED
    assert sorted(recorded["collect"] - allowed) == [], "called but not allowed"
    assert sorted(allowed - recorded["collect"]) == [], "allowed but never called"


@pytest.mark.e2e
def test_the_remediation_policy_allows_exactly_what_apply_verify_and_rollback_call(recorded):
    allowed = allowed_actions(shipped("remediation.json")) - NO_PERMISSION_NEEDED
    assert sorted(recorded["remediate"] - allowed) == [], "called but not allowed"
    assert sorted(allowed - recorded["remediate"]) == [], "allowed but never called"


def test_the_read_only_policy_grants_no_change_and_assumes_only_the_member_role():
    policy = shipped("collector-readonly.json")
    writes = ("Create", "Delete", "Update", "Put", "Attach", "Detach", "Tag", "Untag", "Provision")
    assert not [a for a in allowed_actions(policy) if a.split(":")[1].startswith(writes)]
    (assume,) = [s for s in policy["Statement"] if "sts:AssumeRole" in s["Action"]]
    assert assume["Resource"] == "arn:aws:iam::*:role/OrganizationAccountAccessRole"


def test_the_shipped_files_match_the_declared_permissions():
    assert drift(POLICIES) == [], "regenerate with: python -m auditor.deploy.policies deploy/policies"
    assert main([str(POLICIES), "--check"]) == 0


def test_a_drifted_file_is_reported(tmp_path, capsys):
    main([str(tmp_path)])
    policy = json.loads((tmp_path / "remediation.json").read_text())
    policy["Statement"][0]["Action"].append("iam:DeleteUser")
    (tmp_path / "remediation.json").write_text(json.dumps(policy))
    assert main([str(tmp_path), "--check"]) == 1
    assert "remediation.json: differs from the declared permissions" in capsys.readouterr().err


def test_the_template_block_is_regenerated_with_the_policies(tmp_path, capsys):
    template = (ROOT / "deploy" / "template.yaml").read_text()
    (tmp_path / "template.yaml").write_text(template.replace("- iam:ListMFADevices\n", ""))
    main([str(tmp_path / "policies")])
    assert (tmp_path / "template.yaml").read_text() == template
    (tmp_path / "template.yaml").write_text(template.replace("- iam:ListMFADevices\n", ""))
    assert main([str(tmp_path / "policies"), "--check"]) == 1
    assert "template.yaml: differs" in capsys.readouterr().err
