"""The plan behind every sandbox: each size plants every problem beside a clean majority."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pytest

from auditor.sandbox.estate import SIZES
from auditor.sandbox.people import DEPARTMENTS
from auditor.sandbox.plan import (
    BREAK_GLASS_RECENT_DAYS,
    CLEAN_RECENT_DAYS,
    IAM_USER_INACTIVE_DAYS,
    IDC_INACTIVE_DAYS,
    IDC_NEVER_SIGNED_IN_GRACE_DAYS,
    KEY_MAX_AGE_DAYS,
    KEY_UNUSED_DAYS,
    PROBLEMS,
    ROLE_UNUSED_DAYS,
    ROOT_USE_DAYS,
)
from auditor.sandbox.world import plan_world

AS_OF = datetime(2025, 9, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module", params=sorted(SIZES))
def world(request):
    return plan_world(request.param, 3, AS_OF, "eu-west-1")


def test_each_size_plants_every_problem(world):
    assert {plant.problem for plant in world.plants} == set(PROBLEMS)


def test_sizes_have_their_accounts_and_people(world):
    accounts, people = {"tiny": (3, 40), "small": (5, 75), "medium": (12, 300), "large": (24, 900)}[world.size]
    assert len(world.accounts) == accounts
    assert people <= len(world.people) <= people * 1.35
    assert any(a.environment == "production" for a in world.accounts)


def test_clean_principals_outnumber_planted_and_boundary_ones(world):
    assert len(world.clean) > len(world.plants) + len(world.boundary)


def test_a_boundary_case_sits_just_inside_each_threshold(world):
    days = {
        "key_unused": ("days_unused", KEY_UNUSED_DAYS - 1),
        "key_old": ("age_days", KEY_MAX_AGE_DAYS - 1),
        "idc_inactive": ("days_inactive", IDC_INACTIVE_DAYS - 1),
        "idc_never_signed_in": ("days_since_created", IDC_NEVER_SIGNED_IN_GRACE_DAYS - 1),
        "break_glass_used": ("days_ago", BREAK_GLASS_RECENT_DAYS + 1),
        "iam_user_inactive": ("days_idle", IAM_USER_INACTIVE_DAYS - 1),
        "role_unused": ("days_unused", ROLE_UNUSED_DAYS - 1),
    }
    if world.size != "tiny":  # the tiny organisation has no account left without a root plant
        days["root_used"] = ("days_ago", ROOT_USE_DAYS + 1)
    seen = {(b.problem, b.detail.get(days[b.problem][0])) for b in world.boundary if b.problem in days}
    assert seen >= {(problem, value) for problem, (_, value) in days.items()}


def test_no_principal_is_both_clean_and_planted(world):
    involved = {(p.principal_type, p.name, p.account_key) for p in world.plants + world.boundary}
    involved |= {
        ("iam_user", p.name, p.account_key) for p in world.plants + world.boundary if p.principal_type == "access_key"
    }
    assert not involved & {(kind, name, account) for kind, name, account in world.clean}
    clean_kinds = {kind for kind, _, _ in world.clean}
    assert {"idc_user", "idc_group", "iam_user", "access_key", "iam_role", "permission_set"} <= clean_kinds


def test_departments_map_to_birthright_groups_that_clean_users_keep_to(world):
    assert {p.department for p in world.people} <= set(world.department_groups)
    assert {g for groups in world.department_groups.values() for g in groups} <= set(world.groups)
    clean = {name for kind, name, _ in world.clean if kind == "idc_user"}
    for user in (u for u in world.idc_users if u.user_name in clean and u.person):
        assert set(user.groups) <= set(world.department_groups[user.person.department]), user.user_name
    assert all(
        not world.department_groups[d]
        for d, spec in DEPARTMENTS.items()
        if d in world.department_groups and not spec.group
    )


def test_root_plants_sit_in_different_accounts(world):
    roots = [p for p in world.plants if p.principal_type == "root"]
    assert sorted(p.problem for p in roots) == ["root_access_key", "root_used", "root_without_mfa"]
    assert len({p.account_key for p in roots}) == 3
    assert not world.roots[next(p.account_key for p in roots if p.problem == "root_without_mfa")].mfa


def test_clean_identity_center_users_are_active_recent_and_grouped(world):
    clean = {name for kind, name, _ in world.clean if kind == "idc_user"}
    direct = {a.principal for a in world.assignments if a.principal_type == "USER"}
    for user in (u for u in world.idc_users if u.user_name in clean):
        assert user.status == "ENABLED" and user.user_name not in direct
        if user.breakglass:
            assert user.groups == ["emergency-access"] and "breakglass" in user.user_name and not user.sessions
            continue
        assert user.person.status == "active" and not user.person.end_date and not user.person.previous_department
        assert world.as_of - max(s.start for s in user.sessions) <= timedelta(days=CLEAN_RECENT_DAYS)


def test_the_same_seed_and_as_of_plan_the_same_world():
    first, second = (plan_world("small", 11, AS_OF, "eu-west-1") for _ in range(2))
    assert [p.row() for p in first.people] == [p.row() for p in second.people]
    assert [asdict(p) for p in first.plants] == [asdict(p) for p in second.plants]
    other = plan_world("small", 12, AS_OF, "eu-west-1")
    assert [p.row() for p in other.people] != [p.row() for p in first.people]


def test_an_unknown_size_is_refused():
    with pytest.raises(ValueError, match="unknown sandbox size"):
        plan_world("huge", 1, AS_OF, "eu-west-1")
