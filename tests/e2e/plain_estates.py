"""Two estates of different shapes, each built with plain boto3 calls (see plain_estate.py).

``acme``: an organisation trail, current Identity Center event shapes, IAM users owned by teams.
``globex``: a prefixed trail, older sign-in shapes (user names), a contractor, a mover, direct admin
assignments, and leftovers an administrator forgot (empty group, unassigned permission set, a deleted
user's assignment).

Ages come only from evidence a real estate gives: the emulator stamps every creation "now" and
returns no identity-store CreatedAt, so a person's age is their first sighting in the logs or their
HR start date, and inactivity is measured from the trail written here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.e2e.plain_estate import (
    REGION,
    Admin,
    Estate,
    Trail,
    idc_sign_in,
    idc_sign_in_old_shape,
    key_use,
    person,
    role_session,
    write_hr,
)

LOOKBACK_DAYS = 120


def _as_of() -> datetime:
    # ahead of the emulator's clock, so what it stamps "now" (creations) is in the audit's past
    return (datetime.now(UTC) + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)


def _organisation(admin: Admin, names: list[tuple[str, dict[str, str]]]) -> tuple[str, str, dict[str, str]]:
    """An organisation with the given member accounts (name, tags); returns (org id, management id, ids)."""
    org = admin.client("organizations")
    organization = org.create_organization(FeatureSet="ALL")["Organization"]
    ids = {}
    for name, tags in names:
        status = org.create_account(AccountName=name, Email=f"aws+{name}@acme.example")["CreateAccountStatus"]
        account_id = org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"][
            "AccountId"
        ]
        org.tag_resource(ResourceId=account_id, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        ids[name] = account_id
    return organization["Id"], organization["MasterAccountId"], ids


def _identity_center(admin: Admin) -> tuple[str, str, str]:
    instance = admin.client("sso-admin").list_instances()["Instances"][0]
    store_id = instance["IdentityStoreId"]
    management = admin.client("sts").get_caller_identity()["Account"]
    return instance["InstanceArn"], store_id, f"arn:aws:identitystore::{management}:identitystore/{store_id}"


def _user(admin: Admin, store_id: str, user_name: str, *, email: str | None = None, external: bool = False) -> str:
    given, _, family = user_name.partition(".")
    request = {
        "IdentityStoreId": store_id,
        "UserName": user_name,
        "DisplayName": user_name.replace(".", " ").title(),
        "Name": {"GivenName": given.title(), "FamilyName": (family or "x").title()},
        "Emails": [{"Value": email or f"{user_name}@acme.example", "Type": "work", "Primary": True}],
    }
    return admin.client("identitystore").create_user(**request)["UserId"]


def _group(admin: Admin, store_id: str, name: str, members: list[str]) -> str:
    store = admin.client("identitystore")
    group_id = store.create_group(IdentityStoreId=store_id, DisplayName=name)["GroupId"]
    for user_id in members:
        store.create_group_membership(IdentityStoreId=store_id, GroupId=group_id, MemberId={"UserId": user_id})
    return group_id


def _permission_set(admin: Admin, instance: str, name: str, *, managed: str | None = None, inline: dict | None = None):
    sso = admin.client("sso-admin")
    arn = sso.create_permission_set(InstanceArn=instance, Name=name, SessionDuration="PT8H")["PermissionSet"][
        "PermissionSetArn"
    ]
    if managed:
        sso.attach_managed_policy_to_permission_set(
            InstanceArn=instance, PermissionSetArn=arn, ManagedPolicyArn=f"arn:aws:iam::aws:policy/{managed}"
        )
    if inline:
        sso.put_inline_policy_to_permission_set(
            InstanceArn=instance, PermissionSetArn=arn, InlinePolicy=__import__("json").dumps(inline)
        )
    return arn


def _assign(admin: Admin, instance: str, account_id: str, ps_arn: str, principal_type: str, principal_id: str) -> None:
    """Assign, then provision the permission set to the account.

    AWS provisions it as part of CreateAccountAssignment; the emulator does not, so the
    administrator's explicit ProvisionPermissionSet (a real call, made after changing a
    permission set) is what makes ListPermissionSetsProvisionedToAccount know of it.
    """
    sso = admin.client("sso-admin")
    sso.create_account_assignment(
        InstanceArn=instance,
        TargetId=account_id,
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=ps_arn,
        PrincipalType=principal_type,
        PrincipalId=principal_id,
    )
    sso.provision_permission_set(
        InstanceArn=instance, PermissionSetArn=ps_arn, TargetId=account_id, TargetType="AWS_ACCOUNT"
    )


def _trail_bucket(admin: Admin, bucket: str, prefix: str = "", organisation: bool = True) -> None:
    admin.client("s3").create_bucket(Bucket=bucket)
    request = {
        "Name": "org-trail",
        "S3BucketName": bucket,
        "IsOrganizationTrail": organisation,
        "IsMultiRegionTrail": True,
    }
    if prefix:
        request["S3KeyPrefix"] = prefix
    admin.client("cloudtrail").create_trail(**request)


# A stock emulator answers 500 to every operation it lacks, where AWS would answer 400 at once;
# retrying those is waiting (over a minute a call with the default budget), not testing.
EMULATOR_ATTEMPTS = 3


def _config(path: Path, extra: str = "") -> Path:
    settings = (
        f'[aws]\nregion = "us-east-1"\nmax_attempts = {EMULATOR_ATTEMPTS}\n\n[cloudtrail]\nlookback_days = 120\n\n'
    )
    path.write_text(settings + extra, encoding="utf-8")
    return path


def build_acme(endpoint: str, workdir: Path) -> Estate:
    as_of = _as_of()
    admin = Admin(endpoint)
    org_id, management, accounts = _organisation(
        admin,
        [
            ("platform-prod", {"owner": "platform-team@acme.example", "environment": "production"}),
            ("data-dev", {"owner": "data-team@acme.example", "environment": "development"}),
        ],
    )
    prod, dev = accounts["platform-prod"], accounts["data-dev"]
    instance, store_id, store_arn = _identity_center(admin)
    trail = Trail(as_of, LOOKBACK_DAYS, org_id)
    trail.heartbeat([management, prod, dev])

    alice = _user(admin, store_id, "alice.ng")  # clean: active, in HR, signs in, uses her access
    bob = _user(admin, store_id, "bob.stone")  # leaver still enabled and in a group
    carol = _user(admin, store_id, "carol.vance")  # matches nobody in HR
    dave = _user(admin, store_id, "dave.idle")  # signed in 104 and 100 days ago, never since
    _user(admin, store_id, "breakglass.admin")  # emergency identity: exempt from the HR check

    engineering = _group(admin, store_id, "Engineering", [alice, bob, dave])
    readonly = _permission_set(admin, instance, "ReadOnly", managed="ReadOnlyAccess")
    _assign(admin, instance, dev, readonly, "GROUP", engineering)
    # Created for a project and never assigned. With as many permission sets as accounts the collector lists
    # assignments per account: the emulator answers ListAccountsForProvisionedPermissionSet with its own
    # account only (AWS answers every account), and a one-permission-set estate would be listed that way.
    _permission_set(admin, instance, "Billing", managed="ReadOnlyAccess")
    _permission_set(admin, instance, "SecurityAudit", managed="SecurityAudit")

    for offset in (2, 9, 30):
        idc_sign_in(trail, management, store_arn, alice, as_of - timedelta(days=offset))
        role_session(trail, dev, "ReadOnly", "alice.ng", as_of - timedelta(days=offset, minutes=-5))
    idc_sign_in(trail, management, store_arn, bob, as_of - timedelta(days=20))
    idc_sign_in(trail, management, store_arn, carol, as_of - timedelta(days=3))
    for offset in (104, 100):
        idc_sign_in(trail, management, store_arn, dave, as_of - timedelta(days=offset))
        role_session(trail, dev, "ReadOnly", "dave.idle", as_of - timedelta(days=offset, minutes=-5))

    member = Admin(endpoint, prod)
    iam = member.client("iam")
    team_owned = iam.create_user(UserName="deploy-bot", Tags=[{"Key": "owner", "Value": "platform-team@acme.example"}])
    key = iam.create_access_key(UserName="deploy-bot")["AccessKey"]["AccessKeyId"]
    key_use(trail, prod, team_owned["User"], key, as_of - timedelta(minutes=20))  # after its creation
    iam.create_user(UserName="report-job", Tags=[{"Key": "owner", "Value": "Engineering"}])  # a group owns it
    iam.create_user(UserName="legacy-etl")  # nobody owns it
    iam.create_user(UserName="bobs-script", Tags=[{"Key": "owner", "Value": "bob.stone@acme.example"}])

    _trail_bucket(admin, "acme-org-trail")
    trail.deliver(admin.client("s3"), "acme-org-trail")
    hr = write_hr(
        workdir / "hr.csv",
        [
            person("alice.ng", "Engineering"),
            person("bob.stone", "Engineering", status="terminated", end_date=str((as_of - timedelta(days=10)).date())),
            person("dave.idle", "Engineering"),
        ],
    )
    estate = Estate(endpoint=admin.endpoint, as_of=as_of, hr_feed=hr, config=_config(workdir / "config.toml"))
    estate.planted = {
        ("idc-leaver-with-access", "bob.stone"),
        ("idc-user-not-in-hr", "carol.vance"),
        ("idc-user-inactive", "dave.idle"),
        ("idc-assignment-unused", "dave.idle"),
        ("iam-user-without-owner", "legacy-etl"),
        ("iam-user-without-owner", "bobs-script"),  # its owner left: high
        ("idc-permission-set-unassigned", "Billing"),
        ("idc-permission-set-unassigned", "SecurityAudit"),
    }
    estate.clean = {"alice.ng", "deploy-bot", "report-job", "Engineering", "ReadOnly", "breakglass.admin"}
    return estate


def build_globex(endpoint: str, workdir: Path) -> Estate:
    as_of = _as_of()
    admin = Admin(endpoint)
    org_id, management, accounts = _organisation(
        admin,
        [
            ("payments-prod", {"owner": "payments@globex.example", "environment": "prod"}),
            ("sandbox", {"owner": "it@globex.example", "environment": "sandbox"}),
        ],
    )
    prod, sandbox = accounts["payments-prod"], accounts["sandbox"]
    instance, store_id, _ = _identity_center(admin)
    trail = Trail(as_of, LOOKBACK_DAYS, org_id)
    trail.heartbeat([management, prod, sandbox])

    def user(name: str) -> str:
        return _user(admin, store_id, name, email=f"{name}@globex.example")

    erin = user("erin.cole")  # clean
    frank = user("frank.contract")  # a contractor whose end date has passed
    gina = user("gina.mover")  # moved from Payments to Marketing, still in the Payments group
    hank = user("hank.admin")  # direct admin assignment in production
    ivan = user("ivan.gone")  # deleted later: his assignment stays behind

    payments = _group(admin, store_id, "Payments", [erin, gina])
    _group(admin, store_id, "Marketing", [])
    empty = _group(admin, store_id, "Old-Project", [])
    readonly = _permission_set(admin, instance, "PaymentsReadOnly", managed="ReadOnlyAccess")
    admin_ps = _permission_set(
        admin,
        instance,
        "BreakEverything",
        inline={"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
    )
    _permission_set(admin, instance, "NeverUsed", managed="ReadOnlyAccess")  # assigned to nobody
    _assign(admin, instance, prod, readonly, "GROUP", payments)
    _assign(admin, instance, sandbox, readonly, "GROUP", empty)
    _assign(admin, instance, prod, admin_ps, "USER", hank)
    _assign(admin, instance, sandbox, readonly, "USER", frank)
    _assign(admin, instance, sandbox, readonly, "USER", ivan)
    admin.client("identitystore").delete_user(IdentityStoreId=store_id, UserId=ivan)

    for name, offsets in (
        ("erin.cole", (1, 15)),
        ("gina.mover", (4,)),
        ("hank.admin", (6,)),
        ("frank.contract", (40,)),
    ):
        for offset in offsets:
            idc_sign_in_old_shape(trail, management, name, as_of - timedelta(days=offset))
    role_session(trail, prod, "PaymentsReadOnly", "erin.cole", as_of - timedelta(days=1))
    role_session(trail, prod, "BreakEverything", "hank.admin", as_of - timedelta(days=6))

    _trail_bucket(admin, "globex-trail", prefix="audit/logs")
    trail.deliver(admin.client("s3"), "globex-trail", prefix="audit/logs")
    hr = write_hr(
        workdir / "hr.csv",
        [
            {**person("erin.cole", "Payments"), "email": "erin.cole@globex.example"},
            {
                **person("frank.contract", "Payments", employment_type="contractor"),
                "email": "frank.contract@globex.example",
                "end_date": str((as_of - timedelta(days=30)).date()),
            },
            {
                **person("gina.mover", "Marketing"),
                "email": "gina.mover@globex.example",
                "previous_department": "Payments",
            },
            {**person("hank.admin", "Payments"), "email": "hank.admin@globex.example"},
        ],
    )
    config = _config(
        workdir / "config.toml",
        '[rules]\ndepartment_groups = { Payments = ["Payments"], Marketing = ["Marketing"] }\n',
    )
    estate = Estate(endpoint=admin.endpoint, as_of=as_of, hr_feed=hr, config=config)
    estate.planted = {
        ("idc-contractor-past-end-date", "frank.contract"),
        ("idc-mover-keeps-old-access", "gina.mover"),
        ("idc-admin-direct-assignment", "hank.admin"),
        ("idc-group-empty-with-assignments", "Old-Project"),
        ("idc-permission-set-unassigned", "NeverUsed"),
        ("idc-assignment-to-missing-principal", ivan),
    }
    estate.clean = {"erin.cole", "Payments", "PaymentsReadOnly"}
    return estate


ESTATES = {"acme": build_acme, "globex": build_globex}
__all__ = ["ESTATES", "REGION"]
