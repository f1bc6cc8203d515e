"""The one access model: HR matching precedence, paths, last use and age from all evidence."""

from datetime import date

from msgspec.structs import replace

from auditor.access import AccessModel, AccessPath, AgeSource
from auditor.model import AccountAssignment, Activity, GroupMembership, IamRole, IamUser, IdcUser
from tests.builders import AS_OF, DEV, MGMT, PROD, World, days_ago


def _model(world: World) -> AccessModel:
    return AccessModel(world.snapshot())


# --- person <-> HR ---------------------------------------------------------------------------


def test_identity_center_user_matches_hr_by_user_name_before_email_case_insensitively():
    world = World()
    by_name = world.person("dana", email="other@example.com")
    by_email = world.person("d.smith", email="Dana@Example.com")
    user = world.idc_user("DANA", email="dana@example.com")
    only_email = world.idc_user("erin.x", email="ERIN@example.com")
    erin = world.person("erin", email="erin@example.com")
    nobody = world.idc_user("mallory")
    model = _model(world)
    assert model.hr_person(user) == by_name  # the user name wins although the email matches another row
    assert model.hr_person(only_email) == erin
    assert model.hr_person(nobody) is None
    assert by_email not in (model.hr_person(user), model.hr_person(only_email))


def test_a_later_hr_row_with_the_same_key_wins():
    world = World()
    world.person("sam", status="terminated")
    rehired = world.person("sam")
    assert _model(world).hr_match("sam") == rehired


def test_iam_user_is_matched_by_owner_tag_then_email_tag_then_user_name():
    world = World()
    owner = world.person("olga")
    tagged = world.person("tess")
    named = world.person("ned")
    user = IamUser(
        account_id=DEV,
        user_name="ned",
        user_id="AIDANED",
        arn=f"arn:aws:iam::{DEV}:user/ned",
        tags={"Owner": "OLGA@example.com", "email": "tess"},
    )
    model = _model(world)
    assert model.iam_user_people(user) == [owner, tagged, named]
    assert model.iam_user_person(user) == owner


# --- user <-> groups, paths --------------------------------------------------------------------


def test_paths_list_direct_and_every_group_path_of_the_same_access():
    world = World()
    admin = world.permission_set("Admin")
    read = world.permission_set("Read")
    ann = world.idc_user("ann")
    ops = world.group("ops", ann)
    sre = world.group("sre", ann)
    world.assign(admin, ann, PROD)
    world.assign(admin, ops, PROD)
    world.assign(admin, sre, PROD)
    world.assign(read, sre, DEV)
    model = _model(world)
    grants = model.grants_of(ann.user_id)
    assert [p.via for p in grants[(PROD, admin.arn)]] == ["direct", "via group ops", "via group sre"]
    assert [p.via for p in grants[(DEV, read.arn)]] == ["via group sre"]
    assert model.group_names(ann.user_id) == ["ops", "sre"]
    assert model.members_of(ops.group_id) == [ann.user_id]


def test_all_paths_include_principals_the_directory_no_longer_knows():
    world = World()
    ps = world.permission_set("Read")
    group = world.group("ghosts")
    world.tables["idc_memberships"].append(GroupMembership(group_id=group.group_id, user_id="uid-gone"))
    world.assign(ps, group, DEV)
    world.tables["account_assignments"].append(
        AccountAssignment(account_id=PROD, permission_set_arn=ps.arn, principal_type="USER", principal_id="uid-lost")
    )
    assert _model(world).all_paths == [
        AccessPath("uid-gone", DEV, ps.arn, group.group_id, "ghosts"),
        AccessPath("uid-lost", PROD, ps.arn),
    ]


def test_all_paths_list_a_grant_held_directly_and_through_a_group_both_ways_direct_first():
    world = World()
    ps = world.permission_set("Read")
    ann = world.idc_user("ann")
    group = world.group("sre", ann)
    world.assign(ps, group, DEV)
    world.assign(ps, ann, DEV)
    assert _model(world).all_paths == [
        AccessPath(ann.user_id, DEV, ps.arn),
        AccessPath(ann.user_id, DEV, ps.arn, group.group_id, "sre"),
    ]


def test_has_access_counts_unknown_status_as_enabled_and_lingering_memberships():
    world = World()
    unknown = world.idc_user("unknown", status=None)
    off = world.idc_user("off", status="DISABLED")
    lingering = world.idc_user("lingering", status="DISABLED")
    world.group("data", lingering)
    model = _model(world)
    assert [model.has_access(u) for u in (unknown, off, lingering)] == [True, False, True]


# --- last use ------------------------------------------------------------------------------------


def test_last_use_joins_identity_center_keys_by_id_name_and_email():
    world = World()
    user = world.idc_user("pia", email="Pia@Example.com")
    world.signed_in(user, 40, by="name")
    world.tables["activity"].append(
        Activity(
            kind="idc_assignment",
            key="name:pia@example.com",
            account_id=PROD,
            detail="Admin",
            first_seen=days_ago(12),
            last_seen=days_ago(10),
        )
    )
    model = _model(world)
    assert model.idc_last_activity(user) == days_ago(10)  # using a permission set means signing in
    assert model.assignment_last_used(user, PROD, "admin") == days_ago(10)
    assert model.assignment_last_used(user, DEV, "Admin") is None
    assert model.idc_first_seen(user) == days_ago(41)


def test_iam_user_last_use_is_the_latest_of_password_keys_and_cloudtrail():
    world = World()
    user = world.iam_user("svc", password=True)
    world.key(user, "AKIAOLD000", created_days_ago=300, last_used_days_ago=80, status="Inactive")
    world.key(user, "AKIANEW000", created_days_ago=30, last_used_days_ago=None)
    world.tables["activity"].append(
        Activity(kind="access_key", key="AKIANEW000", account_id=DEV, first_seen=days_ago(9), last_seen=days_ago(8))
    )
    model = _model(world)
    assert model.iam_user_last_used(user) == days_ago(8)
    assert [k.access_key_id for k in model.keys_of(user)] == ["AKIAOLD000", "AKIANEW000"]


# --- existence from all evidence --------------------------------------------------------------------


def _user(name: str, created_days_ago: float | None) -> IdcUser:
    return IdcUser(
        user_id=f"uid-{name}",
        user_name=name,
        email=f"{name}@example.com",
        created_at=None if created_days_ago is None else days_ago(created_days_ago),
    )


def test_a_cloudtrail_sighting_older_than_the_creation_time_sets_the_age():
    world = World()
    user = _user("seen", created_days_ago=1)  # an emulator stamps "now"
    world.tables["idc_users"].append(user)
    world.signed_in(user, 103)  # first seen 104 days ago
    existence = _model(world).idc_user_existence(user)
    assert existence.since == days_ago(104)
    assert existence.source is AgeSource.CLOUDTRAIL
    assert round(existence.days(AS_OF)) == 104
    assert existence.evidence() == {"existed_since": days_ago(104).isoformat(), "age_source": "cloudtrail_first_seen"}
    assert not existence.exact


def test_hr_start_date_gives_the_age_only_when_the_store_gives_no_creation_time():
    world = World()
    unknown = _user("synced", created_days_ago=None)
    recent = _user("recent", created_days_ago=5)
    world.tables["idc_users"] += [unknown, recent]
    for name in ("synced", "recent"):
        world.person(name)
    world.tables["hr_people"] = [replace(p, start_date=date(2025, 1, 6)) for p in world.tables["hr_people"]]
    model = _model(world)
    synced = model.idc_user_existence(unknown)
    assert synced.source is AgeSource.HR_START and synced.since.date() == date(2025, 1, 6)
    # a user created last week for a long-serving employee has existed a week
    created = model.idc_user_existence(recent)
    assert created.source is AgeSource.CREATED and created.exact and round(created.days(AS_OF)) == 5


def test_no_age_evidence_names_what_is_missing():
    world = World()
    user = _user("ghost", created_days_ago=None)
    world.tables["idc_users"].append(user)
    existence = _model(world).idc_user_existence(user)
    assert existence.since is None and existence.days(AS_OF) is None
    assert existence.missing == (
        "the principal's age: no creation time from the identity store, no HR start_date, no CloudTrail sighting"
    )
    assert existence.evidence() == {"existed_since": None, "age_source": None}


def test_iam_ages_use_creation_sightings_key_creation_and_recorded_use():
    world = World()
    user = IamUser(account_id=DEV, user_name="legacy", user_id="AIDALEGACY", arn="arn:u")
    world.tables["iam_users"].append(user)
    key = world.key(user, "AKIALEGACY", created_days_ago=200, last_used_days_ago=150)
    role = IamRole(account_id=MGMT, role_name="deploy", role_id="AROADEPLOY", arn="arn:r", last_used=days_ago(60))
    world.tables["activity"].append(
        Activity(kind="iam_user", key="legacy", account_id=DEV, first_seen=days_ago(250), last_seen=days_ago(1))
    )
    model = _model(world)
    assert model.iam_user_existence(user).source is AgeSource.CLOUDTRAIL
    assert model.iam_user_existence(user).since == days_ago(250)
    assert model.key_existence(key).source is AgeSource.CREATED
    unknown_key = replace(key, access_key_id="AKIANOAGE0", created=None, last_used=None)
    assert model.key_existence(unknown_key).missing.startswith("the principal's age: no key creation time")
    assert model.role_existence(role).source is AgeSource.IAM_LAST_USED
    assert model.role_existence(role).since == days_ago(60)


# --- teams -----------------------------------------------------------------------------------------


def test_owner_team_is_an_account_owner_a_group_name_or_a_configured_team():
    world = World()  # the prod account's owner tag is owner@example.com
    world.group("Platform-Team")
    model = _model(world)
    assert model.owner_team("OWNER@example.com") == f"owner of account prod ({PROD})"
    assert model.owner_team("platform-team") == "Identity Center group Platform-Team"
    assert model.owner_team("sec@example.com", ["sec@example.com"]) == "[rules] owner_teams sec@example.com"
    assert (
        model.owner_team("db@Teams.Example.com", ["*@teams.example.com"]) == "[rules] owner_teams *@teams.example.com"
    )
    assert model.owner_team("db@evil-teams.example.com", ["*@teams.example.com"]) is None
    assert model.owner_team("someone@example.com", ["*@teams.example.com"]) is None
    assert model.owner_team(None) is None and model.owner_team("  ") is None
