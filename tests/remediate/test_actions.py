"""Each action: read, apply, prove, and restore exactly; and it declares every permission it uses."""

from __future__ import annotations

import re

import botocore.session
import pytest

from auditor.model import RevocationKind
from auditor.remediate import ACTIONS
from auditor.remediate.policy import remediation_policy, required_permissions
from tests.remediate.conftest import MANAGEMENT

# IAM's service prefix -> botocore's service name
SERVICE_MODELS = {"iam": "iam", "identitystore": "identitystore", "sso": "sso-admin", "sts": "sts"}


def _cases(estate):
    return {
        RevocationKind.IDC_GROUP_MEMBERSHIP.value: estate.membership("alice", "engineers"),
        RevocationKind.IDC_ACCOUNT_ASSIGNMENT.value: estate.assignment("alice", "Admin"),
        RevocationKind.IDC_USER.value: estate.disable("bob"),
        RevocationKind.IAM_ACCESS_KEY.value: estate.key("frank", estate.member),
        RevocationKind.IAM_LOGIN_PROFILE.value: estate.login("erin"),
        RevocationKind.IAM_USER_POLICY.value: estate.policy("erin"),
    }


def test_every_revocation_kind_has_an_action():
    revoking = {kind for kind, action in ACTIONS.items() if not action.grants}
    assert revoking == {kind.value for kind in RevocationKind}
    assert [kind for kind in ACTIONS if kind not in revoking] == ["idc_permission_set_inline_policy"]  # right-sizing


def test_every_action_declares_real_permissions():
    """Declared permissions name real API operations (botocore's models are the reference)."""
    session = botocore.session.get_session()
    for action in ACTIONS.values():
        assert action.permissions, action.kind
        for permission in action.permissions:
            prefix, operation = permission.split(":")
            model = session.get_service_model(SERVICE_MODELS[prefix])
            assert operation in model.operation_names, f"{action.kind}: {permission} is not an API operation"


@pytest.mark.parametrize("kind", [k.value for k in RevocationKind])
def test_action_revokes_then_restores_exactly(estate, kind):
    action, revocation = ACTIONS[kind], _cases(estate)[kind]
    clients = estate.clients()
    pre = action.read(clients, revocation.target)
    assert not action.revoked(pre)

    action.apply(clients, revocation.target, pre)
    after = action.read(clients, revocation.target)
    assert action.revoked(after)
    assert not action.same(after, pre)

    action.inverse(clients, revocation.target, pre)
    restored = action.read(clients, revocation.target)
    assert action.same(restored, pre)
    assert not action.revoked(restored)


@pytest.mark.parametrize("kind", [k.value for k in RevocationKind])
def test_action_uses_only_the_permissions_it_declares(estate, kind):
    """Every call a read, name lookup, apply or inverse makes is covered by the action's declaration."""
    action, revocation = ACTIONS[kind], _cases(estate)[kind]
    clients = estate.clients()
    estate.ctx.calls.clear()
    action.names(clients, revocation.target)
    pre = action.read(clients, revocation.target)
    action.apply(clients, revocation.target, pre)
    action.inverse(clients, revocation.target, pre)
    used = {name for account, name, _ in estate.ctx.calls if name not in ("AssumeRole", "GetCallerIdentity")}
    declared = {p.split(":")[1] for p in action.permissions}
    assert used, "the action made no AWS call"
    assert used <= declared, f"{kind} uses undeclared {sorted(used - declared)}"


def test_disable_user_sends_the_user_status_attribute(estate):
    revocation = estate.disable("carol")
    action = ACTIONS[revocation.kind]
    clients = estate.clients()
    estate.ctx.calls.clear()
    action.apply(clients, revocation.target, action.read(clients, revocation.target))
    [params] = [p for _, name, p in estate.ctx.calls if name == "UpdateUser"]
    assert params["Operations"] == [{"AttributePath": "userStatus", "AttributeValue": "DISABLED"}]
    assert (
        estate.idc.describe_user(IdentityStoreId=estate.store_id, UserId=estate.users["carol"])["UserStatus"]
        == "DISABLED"
    )


def test_login_profile_comes_back_with_a_random_password_that_must_be_reset(estate):
    revocation = estate.login("erin")
    action = ACTIONS[revocation.kind]
    clients = estate.clients()
    pre = action.read(clients, revocation.target)
    action.apply(clients, revocation.target, pre)
    estate.ctx.calls.clear()
    result = action.inverse(clients, revocation.target, pre)
    [params] = [p for _, name, p in estate.ctx.calls if name == "CreateLoginProfile"]
    assert params["PasswordResetRequired"] is True
    password = params["Password"]
    assert len(password) >= 32 and password != "Initial-Passw0rd!"
    assert all(re.search(p, password) for p in ("[A-Z]", "[a-z]", "[0-9]", "[^A-Za-z0-9]"))
    assert password not in repr(result)  # never returned, so never journaled
    assert estate.iam(MANAGEMENT).get_login_profile(UserName="erin")["LoginProfile"]["PasswordResetRequired"] is True
    assert "cannot restore the old console password" in action.rollback_note


def test_policy_document_is_the_union_of_declared_permissions():
    policy = remediation_policy("AuditorRemediation")
    granted = {a for s in policy["Statement"] for a in s["Action"]}
    assert granted == set(required_permissions()) | {"sts:AssumeRole"}
    assert {"identitystore:UpdateUser", "sso:DeleteAccountAssignment", "iam:UpdateAccessKey"} <= granted
    assert not any(p.startswith(("iam:DeleteUser", "identitystore:DeleteUser")) for p in granted)
    [assume] = [s for s in policy["Statement"] if s["Sid"] == "AssumeMemberRole"]
    assert assume["Resource"] == "arn:aws:iam::*:role/AuditorRemediation"
