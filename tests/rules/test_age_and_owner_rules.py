"""Age from all evidence (no silent skips for an unknown creation time) and owners that are teams."""

import pytest
from msgspec.structs import replace

from auditor.analyze import analyze
from auditor.config import ConfigError, Settings, validate
from auditor.model import Activity, IamRole, IamUser, IdcUser
from tests.builders import DEV, PROD, World, days_ago


def _run(world: World, rule_id: str, **rules) -> dict[str, object]:
    settings = Settings(values=validate({"rules": rules} if rules else {}, "test config"))
    found = analyze(world.snapshot(), settings, world.as_of)
    return {f.principal.name: f for f in found if f.rule_id == rule_id}


def _synced_user(world: World, name: str) -> IdcUser:
    """A user as an external IdP sync or an emulator leaves it: no creation time."""
    user = IdcUser(user_id=f"uid-{name}", user_name=name, email=f"{name}@example.com", status="ENABLED")
    world.tables["idc_users"].append(user)
    return user


def _start(world: World, name: str, days: float) -> None:
    world.person(name)
    world.tables["hr_people"][-1] = replace(world.tables["hr_people"][-1], start_date=days_ago(days).date())


# --- Identity Center users of unknown creation time --------------------------------------------------


def test_user_seen_104_days_ago_existed_104_days_ago_and_is_inactive():
    world = World()
    user = _synced_user(world, "seen")
    world.signed_in(user, 103)  # first seen 104 days ago, last 103
    found = _run(world, "idc-user-inactive")
    assert found["seen"].severity == "medium"
    assert found["seen"].evidence["days_idle"] == 103
    assert found["seen"].evidence["age_source"] == "cloudtrail_first_seen"
    assert found["seen"].evidence["existed_since"] == days_ago(104).isoformat()


def test_hr_start_date_dates_a_never_seen_user_without_creation_time():
    world = World()
    _synced_user(world, "idle")
    _start(world, "idle", 200)
    _synced_user(world, "joiner")
    _start(world, "joiner", 10)
    inactive = _run(world, "idc-user-inactive")
    assert set(inactive) == {"idle"}
    assert inactive["idle"].severity == "medium"
    assert inactive["idle"].evidence["age_source"] == "hr_start_date"
    assert inactive["idle"].evidence["days_since_creation"] == 200
    assert _run(world, "idc-user-never-signed-in") == {}  # 200 days are more than CloudTrail saw; 10 too few


def test_never_signed_in_from_hr_start_date_says_how_long_it_is_known_to_exist():
    world = World()
    _synced_user(world, "newish")
    _start(world, "newish", 40)
    found = _run(world, "idc-user-never-signed-in")
    assert found["newish"].severity == "low"
    assert found["newish"].evidence["age_source"] == "hr_start_date"
    assert found["newish"].title == "newish has never signed in; known to exist for 40 days"


def test_user_without_any_age_evidence_is_insufficient_evidence_for_both_idle_rules():
    world = World()
    _synced_user(world, "ghost")
    for rule_id in ("idc-user-inactive", "idc-user-never-signed-in"):
        finding = _run(world, rule_id)["ghost"]
        assert finding.severity == "info"
        assert finding.evidence["insufficient_evidence"] is True
        assert "no creation time from the identity store" in finding.evidence["missing"]
        assert "no HR start_date" in finding.evidence["missing"]
        assert finding.evidence["age_source"] is None


# --- the unused assignment rule ------------------------------------------------------------------------


def test_unused_assignment_of_a_user_without_creation_time_is_decided_from_sightings():
    world = World()
    ps = world.permission_set("Read")
    seen = _synced_user(world, "seen")
    ghost = _synced_user(world, "ghost")
    for user in (seen, ghost):
        world.assign(ps, user, DEV)
    world.signed_in(seen, 100)
    found = _run(world, "idc-assignment-unused")
    assert found["seen"].severity == "low"
    assert found["seen"].evidence["age_source"] == "cloudtrail_first_seen"
    assert "insufficient_evidence" not in found["seen"].evidence
    assert found["ghost"].severity == "info"
    assert found["ghost"].evidence["insufficient_evidence"] is True
    assert "age" in found["ghost"].evidence["missing"]


def test_young_user_of_unknown_creation_time_has_no_unused_assignment():
    world = World()
    ps = world.permission_set("Read")
    user = _synced_user(world, "joiner")
    _start(world, "joiner", 20)
    world.assign(ps, user, DEV)
    assert _run(world, "idc-assignment-unused") == {}


def test_assignment_of_a_permission_set_missing_from_the_snapshot_is_undecided_not_dropped():
    world = World()
    ps = world.permission_set("Gone")
    user = world.idc_user("lee")
    world.assign(ps, user, PROD)
    world.tables["permission_sets"].clear()
    for rule_id in ("idc-assignment-unused", "idc-admin-direct-assignment", "idc-admin-access"):
        finding = _run(world, rule_id)["lee"]
        assert finding.severity == "info", rule_id
        assert "not in the snapshot" in finding.evidence["missing"]
    direct = _run(world, "idc-direct-user-assignment")["lee"]  # the direct assignment itself is a fact
    assert direct.severity == "low" and direct.resource == ps.arn


# --- IAM ---------------------------------------------------------------------------------------------------


def _iam_user(world: World, name: str, **fields) -> IamUser:
    user = IamUser(account_id=DEV, user_name=name, user_id=f"AIDA{name.upper()}", arn=f"arn:aws:iam::{DEV}:user/{name}")
    user = replace(user, **fields)
    world.tables["iam_users"].append(user)
    return user


def test_iam_user_stamped_now_but_seen_long_ago_is_inactive_and_one_never_seen_is_undecided():
    world = World()
    _iam_user(world, "legacy", password_enabled=True, created=world.as_of)
    world.tables["activity"].append(
        Activity(kind="iam_user", key="legacy", account_id=DEV, first_seen=days_ago(150), last_seen=days_ago(120))
    )
    _iam_user(world, "blank", password_enabled=True)
    found = _run(world, "iam-user-inactive")
    assert found["legacy"].severity == "medium"
    assert found["legacy"].evidence["days_idle"] == 120
    assert found["legacy"].evidence["age_source"] == "cloudtrail_first_seen"
    assert found["blank"].severity == "info" and found["blank"].evidence["insufficient_evidence"] is True


def test_access_key_without_creation_time_is_decided_from_sightings_or_undecided():
    world = World()
    user = world.iam_user("svc")
    seen = world.key(user, "AKIASEEN00", created_days_ago=0, last_used_days_ago=None)
    blank = world.key(user, "AKIABLANK0", created_days_ago=0, last_used_days_ago=None)
    recent = world.key(user, "AKIARECENT", created_days_ago=0, last_used_days_ago=None)
    world.tables["access_keys"] = [replace(k, created=None) for k in (seen, blank, recent)]
    for key_id, first, last in (("AKIASEEN00", 100, 100), ("AKIARECENT", 10, 2)):
        world.tables["activity"].append(
            Activity(
                kind="access_key", key=key_id, account_id=DEV, first_seen=days_ago(first), last_seen=days_ago(last)
            )
        )
    found = analyze(world.snapshot(), _settings(), world.as_of)
    unused = {f.resource: f for f in found if f.rule_id == "iam-access-key-unused"}
    old = {f.resource: f for f in found if f.rule_id == "iam-access-key-old"}
    assert unused["AKIASEEN00"].severity == "medium"
    assert unused["AKIASEEN00"].evidence["age_source"] == "cloudtrail_first_seen"
    assert unused["AKIABLANK0"].evidence["insufficient_evidence"] is True
    assert "AKIARECENT" not in unused  # used two days ago
    assert old["AKIASEEN00"].severity == "medium"  # seen 100 days ago: at least 100 days old
    # seen only 10 days ago or never: a sighting cannot prove the key is younger than 90 days
    assert old["AKIARECENT"].evidence["insufficient_evidence"] is True
    assert old["AKIABLANK0"].evidence["insufficient_evidence"] is True


def _settings(**rules) -> Settings:
    return Settings(values=validate({"rules": rules} if rules else {}, "test config"))


def test_role_without_creation_time_is_decided_from_its_last_use_or_undecided():
    world = World()
    for name, last in (("stale", 120), ("fresh", 3), ("blank", None)):
        world.tables["iam_roles"].append(
            IamRole(
                account_id=DEV,
                role_name=name,
                role_id=f"AROA{name.upper()}",
                arn=f"arn:aws:iam::{DEV}:role/{name}",
                last_used=None if last is None else days_ago(last),
            )
        )
    found = _run(world, "iam-role-unused")
    assert set(found) == {"stale", "blank"}
    assert found["stale"].severity == "low" and found["stale"].evidence["age_source"] == "iam_last_used"
    assert found["blank"].severity == "info" and found["blank"].evidence["insufficient_evidence"] is True


# --- owners that are teams ----------------------------------------------------------------------------------


def test_owner_tag_naming_a_team_is_an_accountable_owner():
    world = World()  # the prod account's owner tag is owner@example.com
    world.group("data-platform")
    world.person("ann")
    _iam_user(world, "ci-account-team", tags={"owner": "Owner@Example.com"})
    _iam_user(world, "ci-group", tags={"Owner": "data-platform"})
    _iam_user(world, "ci-listed", tags={"owner": "sec@example.com"})
    _iam_user(world, "ci-domain", tags={"owner": "db@teams.example.com"})
    _iam_user(world, "ci-nobody", tags={"owner": "nobody@example.com"})
    _iam_user(world, "ci-untagged")
    found = _run(world, "iam-user-without-owner", owner_teams=["sec@example.com", "*@teams.example.com"])
    assert set(found) == {"ci-nobody", "ci-untagged"}
    assert found["ci-nobody"].severity == "medium"
    assert found["ci-nobody"].evidence["owner_tag"] == "nobody@example.com"
    # without the configured teams, only the account owner and the group count
    unlisted = _run(world, "iam-user-without-owner")
    assert set(unlisted) == {"ci-listed", "ci-domain", "ci-nobody", "ci-untagged"}


def test_owner_who_left_stays_high_even_inside_a_team_domain():
    world = World()
    world.person("leaver", status="terminated", email="leaver@teams.example.com")
    _iam_user(world, "legacy", tags={"owner": "leaver@teams.example.com"})
    found = _run(world, "iam-user-without-owner", owner_teams=["*@teams.example.com"])
    assert found["legacy"].severity == "high"
    assert found["legacy"].evidence["matched_people"] == ["leaver@teams.example.com"]


def test_owner_teams_config_accepts_addresses_and_domain_patterns_only():
    assert _settings(owner_teams=["a@example.com", "*@teams.example.com"]).section("rules")["owner_teams"]
    assert _settings().section("rules")["owner_teams"] == []
    for bad in (["platform"], ["*@*.example.com"], ["team*@example.com"]):
        with pytest.raises(ConfigError, match="rules.owner_teams"):
            _settings(owner_teams=bad)


def test_a_sighting_before_the_creation_time_overrides_it():
    world = World()
    user = world.idc_user("kim", created_days_ago=20)
    world.tables["activity"].append(
        Activity(kind="idc_user", key=f"id:{user.user_id}", first_seen=days_ago(300), last_seen=days_ago(200))
    )
    found = _run(world, "idc-user-inactive")
    assert found["kim"].evidence["age_source"] == "cloudtrail_first_seen"
    assert found["kim"].evidence["days_idle"] == 200  # "created 20 days ago" alone would call kim too young
