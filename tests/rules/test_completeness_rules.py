"""Rules depend only on what they read: per-table completeness and unread optional attributes."""

import pytest

from auditor.analyze import analyze
from auditor.config import defaults
from auditor.model import AccountAssignment
from auditor.snapshot import AttributeGap, SourceStatus
from tests.builders import ADMIN_ARN, DEV, MGMT, PROD, World

IDC_TABLES = ("idc_users", "idc_groups", "idc_memberships", "permission_sets", "account_assignments")
DENIED = (
    "AccessDeniedException: User: arn:aws:sts::111111111111:assumed-role/auditor/run is not authorized to perform: "
    "sso:ListTagsForResource (sso-admin, ListTagsForResource)"
)
SERVER_ERROR = "InternalServerException: internal error (sso-admin, GetPermissionsBoundaryForPermissionSet)"
HYGIENE = ("idc-permission-set-unassigned", "idc-group-empty-with-assignments", "idc-assignment-to-missing-principal")


def _identity_center(tables: dict[str, str] | None = None, gaps: list[AttributeGap] = ()) -> SourceStatus:
    """The entry the collector writes when only the given tables or attributes fell short."""
    return SourceStatus(
        source="identity_center",
        status="partial",
        error="see detail.errors",
        detail={"home_account_id": MGMT},
        tables={**dict.fromkeys(IDC_TABLES, "complete"), **(tables or {})},
        attributes=list(gaps),
    )


def _findings(world: World, *overrides: SourceStatus) -> dict[str, list]:
    found = analyze(world.snapshot(overrides=list(overrides)), defaults(), world.as_of)
    by_rule: dict[str, list] = {}
    for finding in found:
        by_rule.setdefault(finding.rule_id, []).append(finding)
    return by_rule


@pytest.fixture
def world() -> World:
    """One of each hygiene problem: an unassigned set, an empty group with access, a dangling user grant."""
    world = World()
    read_only = world.permission_set("ReadOnly")
    world.permission_set("Forgotten")
    world.assign(read_only, world.group("ghost-team"), DEV)
    world.assign(read_only, world.group("real-team", world.idc_user("ann")), DEV)
    world.tables["account_assignments"].append(
        AccountAssignment(account_id=PROD, permission_set_arn=read_only.arn, principal_type="USER", principal_id="gone")
    )
    return world


def _names(found: dict[str, list], rule_id: str, *, undecided: bool) -> list[str]:
    return sorted(
        f.principal.name or f.principal.id
        for f in found.get(rule_id, [])
        if bool(f.evidence.get("insufficient_evidence")) == undecided
    )


def _hygiene(found: dict[str, list]) -> dict[str, list[str]]:
    """What each hygiene rule claims (its findings, insufficient evidence left out)."""
    return {rule_id: _names(found, rule_id, undecided=False) for rule_id in HYGIENE}


def _undecided(found: dict[str, list]) -> dict[str, list[str]]:
    """Who each hygiene rule could not decide for (its insufficient-evidence findings)."""
    return {rule_id: _names(found, rule_id, undecided=True) for rule_id in HYGIENE}


NOTHING_UNDECIDED = dict.fromkeys(HYGIENE, [])


EVERY_HYGIENE_FINDING = {
    "idc-permission-set-unassigned": ["Forgotten"],
    "idc-group-empty-with-assignments": ["ghost-team"],
    "idc-assignment-to-missing-principal": ["gone"],
}


@pytest.mark.parametrize("error", [DENIED, SERVER_ERROR], ids=["access-denied", "http-500"])
def test_failed_tags_and_boundary_leave_the_hygiene_rules_firing(world, error):
    forgotten = world.tables["permission_sets"][1].arn
    gaps = [
        AttributeGap(what="permission_set.tags", error=error, objects=[forgotten]),
        AttributeGap(what="permission_set.permissions_boundary", error=error, objects=[forgotten]),
    ]

    found = _findings(world, _identity_center(gaps=gaps))

    assert _hygiene(found) == EVERY_HYGIENE_FINDING
    assert not any(f.evidence.get("insufficient_evidence") for rule_id in HYGIENE for f in found[rule_id])


def test_each_absence_claim_needs_exactly_the_tables_it_names(world):
    """Where a table it names fell short, a rule claims nothing and says what is missing, for those candidates."""

    def hygiene_with(**tables: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        found = _findings(world, _identity_center(tables))
        return _hygiene(found), _undecided(found)

    assert hygiene_with(idc_memberships="partial") == (
        {**EVERY_HYGIENE_FINDING, "idc-group-empty-with-assignments": []},
        {**NOTHING_UNDECIDED, "idc-group-empty-with-assignments": ["ghost-team"]},
    )
    assert hygiene_with(account_assignments="partial") == (
        {**EVERY_HYGIENE_FINDING, "idc-permission-set-unassigned": []},
        {**NOTHING_UNDECIDED, "idc-permission-set-unassigned": ["Forgotten"]},
    )
    assert hygiene_with(idc_users="failed") == (
        {**EVERY_HYGIENE_FINDING, "idc-assignment-to-missing-principal": []},
        {**NOTHING_UNDECIDED, "idc-assignment-to-missing-principal": ["gone"]},
    )
    # a permission set that could not be described is simply not a candidate; the others still count
    assert hygiene_with(permission_sets="partial") == (EVERY_HYGIENE_FINDING, NOTHING_UNDECIDED)
    undecided = _findings(world, _identity_center({"idc_memberships": "partial"}))["idc-group-empty-with-assignments"]
    (ghost,) = undecided
    assert ghost.severity == "info"
    assert (
        ghost.evidence["missing"]
        == "identity_center did not list idc_memberships (partial) completely: see detail.errors"
    )


def test_a_missing_group_is_still_reported_when_only_the_users_are_incomplete(world):
    world.tables["account_assignments"].append(
        AccountAssignment(
            account_id=DEV,
            permission_set_arn=world.tables["permission_sets"][0].arn,
            principal_type="GROUP",
            principal_id="gone-group",
        )
    )

    found = _findings(world, _identity_center({"idc_users": "partial"}))

    assert _hygiene(found)["idc-assignment-to-missing-principal"] == ["gone-group"]


def test_unassigned_needs_every_account_of_the_estate(world):
    accounts_unread = SourceStatus(
        source="organizations",
        status="failed",
        error="AccessDenied: no (organizations, ListAccounts)",
        tables={"accounts": "failed"},
    )

    found = _findings(world, accounts_unread)

    assert _hygiene(found)["idc-permission-set-unassigned"] == []
    assert _undecided(found)["idc-permission-set-unassigned"] == ["Forgotten"]
    (forgotten,) = found["idc-permission-set-unassigned"]
    assert "organizations did not list accounts (failed) completely" in forgotten.evidence["missing"]


def test_a_failed_source_vouches_for_no_table(world):
    failed = SourceStatus(source="identity_center", status="failed", tables=dict.fromkeys(IDC_TABLES, "complete"))

    found = _findings(world, failed)

    assert _hygiene(found) == {rule_id: [] for rule_id in HYGIENE}
    assert _undecided(found) == {
        "idc-permission-set-unassigned": ["Forgotten", "ReadOnly"],
        "idc-group-empty-with-assignments": ["ghost-team", "real-team"],
        "idc-assignment-to-missing-principal": ["ann", "ghost-team", "gone", "real-team"],
    }


# --- administrator power needs the policies --------------------------------------------


@pytest.fixture
def admin_world() -> World:
    """ann holds Ops directly and through a group; Ops's policies are what the tests withhold."""
    world = World()
    ann = world.idc_user("ann")
    ops = world.permission_set("Ops", managed=[ADMIN_ARN])
    world.assign(ops, ann, PROD)
    world.assign(ops, world.group("ops-team", ann), DEV)
    return world


def _unread(world: World, *fields: str, error: str = DENIED) -> SourceStatus:
    """Ops's ``fields`` unread; what the collector leaves behind (the attribute keeps its default)."""
    ops = world.tables["permission_sets"][0]
    if "managed_policies" in fields:
        world.tables["permission_sets"][0] = type(ops)(arn=ops.arn, name=ops.name)
    gaps = [AttributeGap(what=f"permission_set.{field}", error=error, objects=[ops.arn]) for field in fields]
    return _identity_center(gaps=gaps)


def test_unread_policies_make_administrator_power_undecidable(admin_world):
    found = _findings(admin_world, _unread(admin_world, "managed_policies"))

    (access,) = found["idc-admin-access"]
    (direct,) = found["idc-admin-direct-assignment"]
    for finding in (access, direct):
        assert finding.severity == "info"
        assert finding.evidence["insufficient_evidence"] is True
        assert "the policies of permission set Ops could not be read" in finding.evidence["missing"]
        assert "managed policies: " + DENIED in finding.evidence["missing"]
    assert (access.principal.name, access.resource) == ("ann", admin_world.tables["permission_sets"][0].arn)
    assert direct.account_id == PROD


def test_the_same_finding_ids_as_when_the_policies_are_read(admin_world):
    """History follows the principal: undecided today, decided tomorrow, one finding id."""
    decided = {f.rule_id: f.finding_id for f in analyze(admin_world.snapshot(), defaults(), admin_world.as_of)}

    undecided = _findings(admin_world, _unread(admin_world, "managed_policies"))

    for rule_id in ("idc-admin-access", "idc-admin-direct-assignment"):
        assert undecided[rule_id][0].finding_id == decided[rule_id]


def test_administrator_power_read_from_the_policies_that_were_read(admin_world):
    """An AdministratorAccess attachment that was read decides, whatever else could not be read."""
    found = _findings(admin_world, _unread(admin_world, "inline_policy"))

    (access,) = found["idc-admin-access"]
    assert access.severity == "low"  # reaches production
    assert "insufficient_evidence" not in access.evidence


def test_failed_tags_or_boundary_change_nothing_about_administrator_power(admin_world):
    before = {
        (f.rule_id, f.finding_id, f.severity) for f in analyze(admin_world.snapshot(), defaults(), admin_world.as_of)
    }

    after = _findings(admin_world, _unread(admin_world, "tags", "permissions_boundary", error=SERVER_ERROR))

    assert {(f.rule_id, f.finding_id, f.severity) for fs in after.values() for f in fs} == before


def test_an_unread_inline_policy_cannot_be_called_harmless():
    world = World()
    world.permission_set("Deploy")

    found = _findings(world, _unread(world, "inline_policy"))

    (finding,) = found["idc-permission-set-risky-policy"]
    assert finding.severity == "info" and finding.evidence["insufficient_evidence"] is True
    assert finding.evidence["missing"] == (f"the inline policy of permission set Deploy could not be read ({DENIED})")


def test_an_unused_assignment_of_a_set_whose_policies_are_unread_is_not_called_non_admin():
    world = World()
    ann = world.idc_user("ann")
    world.signed_in(ann, 1)
    ops = world.permission_set("Ops")
    world.assign(ops, ann, PROD)

    found = _findings(world, _unread(world, "managed_policies"))

    (finding,) = found["idc-assignment-unused"]
    assert finding.evidence["admin_capable"] is None
    assert "the policies of permission set Ops could not be read" in finding.evidence["admin_capable_unknown"]


# --- IAM users: "without MFA" needs the MFA devices and the console password ----------------


def _iam(account_id: str, **gaps: list[str]) -> SourceStatus:
    """The IAM entry of ``account_id`` with attribute gaps (``mfa_active=[arn, ...]``)."""
    return SourceStatus(
        source="iam",
        account_id=account_id,
        status="partial",
        error="see detail.errors",
        tables=dict.fromkeys(("iam_users", "access_keys", "iam_groups", "iam_roles", "root_credentials"), "complete"),
        attributes=[
            AttributeGap(what=f"iam_user.{field}", error=f"AccessDenied: no ({field})", objects=objects)
            for field, objects in gaps.items()
        ],
    )


def test_an_unread_mfa_device_list_is_undecided_not_a_console_user_without_mfa():
    world = World()
    ann = world.iam_user("ann", password=True, mfa=False)  # the collector's defaults when the read failed
    world.key(ann, "AKIAANN0000000000001", created_days_ago=10, last_used_days_ago=1)
    world.iam_user("bob", password=True, mfa=False)  # read, and truly without MFA
    cat = world.iam_user("cat", password=False, mfa=False)  # surely no console password: MFA does not matter

    found = _findings(world, _iam(DEV, mfa_active=[ann.arn, cat.arn]))

    by_name = {f.principal.name: f for f in found["iam-console-user-without-mfa"]}
    assert set(by_name) == {"ann", "bob"}
    assert by_name["bob"].severity == "high" and "insufficient_evidence" not in by_name["bob"].evidence
    assert by_name["ann"].severity == "info" and by_name["ann"].evidence["insufficient_evidence"] is True
    assert (
        by_name["ann"].evidence["missing"] == "the MFA devices of ann could not be read (AccessDenied: no (mfa_active))"
    )
    (keys,) = found["iam-keys-on-console-user-without-mfa"]
    assert (keys.principal.name, keys.severity) == ("ann", "info")
    assert keys.evidence["active_keys"] == ["AKIAANN0000000000001"]


def test_an_unread_console_password_is_undecided_unless_mfa_is_on():
    world = World()
    ann = world.iam_user("ann", password=False, mfa=False)
    bob = world.iam_user("bob", password=False, mfa=True)

    found = _findings(world, _iam(DEV, password_enabled=[ann.arn, bob.arn]))

    (finding,) = found["iam-console-user-without-mfa"]
    assert (finding.principal.name, finding.severity) == ("ann", "info")
    assert "the console password of ann could not be read" in finding.evidence["missing"]
