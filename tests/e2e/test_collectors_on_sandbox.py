"""Each collector against the sandbox organisation, over HTTP, as against AWS."""

from __future__ import annotations

from datetime import timedelta

import pytest

from auditor.aws import AwsContext
from auditor.collect.cloudtrail import collect_cloudtrail, discover_trail
from auditor.collect.hr import collect_hr
from auditor.collect.iam import collect_iam
from auditor.collect.identity_center import collect_identity_center
from auditor.collect.organizations import collect_organizations
from auditor.progress import Progress

pytestmark = pytest.mark.e2e


@pytest.fixture
def estate(sandbox_env):
    context = AwsContext.from_environment()
    result, organization = collect_organizations(context, Progress())
    return sandbox_env, context, result, organization


def _named(planted, *problems):
    return {p.name for p in planted if p.problem in problems}


def test_organizations(estate):
    sandbox, _, result, organization = estate
    assert organization.organization_id == sandbox.organization_id
    assert organization.management_account_id == sandbox.management_account_id
    assert {a.account_id for a in organization.accounts} == set(sandbox.accounts.values())
    tagged = [a for a in organization.accounts if not a.is_management]
    assert all(a.tags.get("owner") and a.tags.get("environment") for a in tagged)
    assert [s.status for s in result.statuses] == ["ok"]


def test_identity_center(estate):
    sandbox, context, _, organization = estate
    result = collect_identity_center(context, organization.accounts, Progress())
    (status,) = result.statuses
    assert status.status == "ok", status.error
    users = {u.user_name: u for u in result.tables["idc_users"]}
    assert _named(sandbox.planted, "leaver", "not_in_hr", "idc_inactive", "mover") <= set(users)
    assert all(u.status in ("ENABLED", "DISABLED") and u.created_at for u in users.values())
    direct = next(p for p in sandbox.planted if p.problem == "direct_admin_assignment")
    user_id = users[direct.name].user_id
    assert any(
        a.principal_type == "USER" and a.principal_id == user_id and a.account_id == direct.account_id
        for a in result.tables["account_assignments"]
    )
    names = {ps.name for ps in result.tables["permission_sets"]}
    assert "AdministratorAccess" in names and any("break" in n.lower() for n in names)
    assert result.tables["idc_memberships"] and result.tables["idc_groups"]


def test_iam_in_every_account(estate):
    sandbox, context, _, organization = estate
    result = collect_iam(context, organization.accounts, Progress())
    assert {s.account_id for s in result.statuses} == set(sandbox.accounts.values())
    assert all(s.status == "ok" for s in result.statuses), [s.error for s in result.statuses]
    keys = {k.access_key_id for k in result.tables["access_keys"]}
    planted_keys = {p.detail["access_key_id"] for p in sandbox.planted if p.problem in ("key_unused", "key_old")}
    assert planted_keys <= keys
    no_mfa = _named(sandbox.planted, "console_no_mfa")
    users = {u.user_name: u for u in result.tables["iam_users"]}
    assert all(users[name].password_enabled and not users[name].mfa_active for name in no_mfa)
    assert len(result.tables["root_credentials"]) == len(sandbox.accounts)


def test_cloudtrail_covers_every_account_for_the_lookback(estate):
    sandbox, context, _, organization = estate
    trail = discover_trail(context)
    assert trail is not None and trail.bucket == sandbox.trail_bucket
    result = collect_cloudtrail(
        context, organization.accounts, trail, Progress(), as_of=sandbox.as_of, lookback_days=120
    )
    assert {s.account_id for s in result.statuses} == set(sandbox.accounts.values())
    for status in result.statuses:
        assert status.status == "ok", status.error
        assert status.coverage_start <= sandbox.as_of - timedelta(days=119)
        assert status.coverage_end >= sandbox.as_of - timedelta(days=1)
    kinds = {a.kind for a in result.tables["activity"]}
    assert {"idc_user", "idc_assignment", "iam_user", "access_key"} <= kinds


def test_hr_feed(sandbox_env):
    result = collect_hr(sandbox_env.hr_feed)
    lines = sandbox_env.hr_feed.read_text().strip().splitlines()
    assert len(result.tables["hr_people"]) == len(lines) - 1
    assert result.unreadable == []
