"""The vocabulary shared by every stage: snapshot records and findings.

Records are frozen msgspec Structs: immutable, typed, and encoded to and
decoded from the snapshot's JSON Lines files with validation, so a damaged
snapshot fails loudly with the field that is wrong. Times are always
timezone-aware UTC ``datetime``; HR dates are ``date``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from enum import StrEnum

import msgspec


class Record(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=False):
    """Base of every snapshot record."""


# --- AWS Organizations -------------------------------------------------------


class Account(Record):
    account_id: str
    name: str
    email: str | None = None
    status: str = "ACTIVE"  # ACTIVE | SUSPENDED | PENDING_CLOSURE (ListAccounts Status)
    joined: datetime | None = None
    tags: dict[str, str] = {}
    is_management: bool = False


# --- IAM Identity Center -----------------------------------------------------


class IdcUser(Record):
    user_id: str
    user_name: str
    display_name: str | None = None
    email: str | None = None  # the primary email, or the first one
    title: str | None = None
    # identity store UserStatus: ENABLED | DISABLED; None when the store did not say
    status: str | None = None
    created_at: datetime | None = None
    external_ids: list[str] = []


class IdcGroup(Record):
    group_id: str
    display_name: str
    description: str | None = None


class GroupMembership(Record):
    group_id: str
    user_id: str
    membership_id: str | None = None


class PermissionSet(Record):
    arn: str
    name: str
    description: str | None = None
    created_at: datetime | None = None
    session_duration: str | None = None
    managed_policies: list[str] = []  # AWS managed policy ARNs
    customer_managed_policies: list[str] = []  # "path + name", e.g. "/ops/Deploy"
    inline_policy: str | None = None  # the JSON document, as AWS returns it
    permissions_boundary: dict | None = None
    tags: dict[str, str] = {}


class AccountAssignment(Record):
    account_id: str
    permission_set_arn: str
    principal_type: str  # USER | GROUP
    principal_id: str


# --- IAM (per account) ---------------------------------------------------------


class IamUser(Record):
    account_id: str
    user_name: str
    user_id: str
    arn: str
    path: str = "/"
    created: datetime | None = None
    password_enabled: bool = False
    password_last_used: datetime | None = None
    mfa_active: bool = False
    attached_policies: list[str] = []  # policy ARNs
    inline_policies: list[str] = []  # policy names
    groups: list[str] = []
    tags: dict[str, str] = {}
    permissions_boundary: str | None = None  # the boundary policy's ARN


class AccessKey(Record):
    account_id: str
    user_name: str
    access_key_id: str
    status: str  # Active | Inactive
    created: datetime | None = None
    last_used: datetime | None = None
    last_used_service: str | None = None


class IamGroup(Record):
    account_id: str
    group_name: str
    arn: str
    attached_policies: list[str] = []
    inline_policies: list[str] = []


class IamRole(Record):
    account_id: str
    role_name: str
    role_id: str
    arn: str
    path: str = "/"
    created: datetime | None = None
    last_used: datetime | None = None
    last_used_region: str | None = None
    attached_policies: list[str] = []
    inline_policies: list[str] = []
    trust_policy: dict | None = None
    tags: dict[str, str] = {}
    permissions_boundary: str | None = None  # the boundary policy's ARN


class IamPolicy(Record):
    """A policy document: a managed policy's default version, or one inline policy of a user, group or role.

    Effective permissions are computed from these, so the documents are kept
    as AWS returns them (decoded JSON), with the version they came from.
    """

    account_id: str | None  # None: an AWS managed policy, the same document in every account
    arn: str  # managed: the policy ARN; inline: "<owner ARN>#<policy name>" (see inline_policy_key)
    name: str
    kind: str  # managed | inline
    document: dict
    path: str = "/"
    version_id: str | None = None  # the default version a managed document was read from
    owner_arn: str | None = None  # inline: the user, group or role that holds it


def inline_policy_key(owner_arn: str, name: str) -> str:
    """The key an inline policy is stored under: its owner's ARN and its name (unique within the owner)."""
    return f"{owner_arn}#{name}"


class RootCredentials(Record):
    """The credential report's ``<root_account>`` row."""

    account_id: str
    password_enabled: bool | None = None  # AWS reports "not_supported" for root
    password_last_used: datetime | None = None
    mfa_active: bool = False
    access_key_1_active: bool = False
    access_key_1_last_used: datetime | None = None
    access_key_2_active: bool = False
    access_key_2_last_used: datetime | None = None


class ServiceLastAccessed(Record):
    """IAM Access Advisor: one service an IAM user or role is granted, and when it was last used."""

    account_id: str
    entity_arn: str
    entity_type: str  # user | role
    service_namespace: str
    service_name: str | None = None
    last_authenticated: datetime | None = None  # None: not used in the tracking period (400 days)
    last_authenticated_region: str | None = None


# --- HR feed -------------------------------------------------------------------


class HrPerson(Record):
    line: int  # physical line in the HR CSV (the header is line 1)
    employee_id: str
    email: str
    user_name: str
    display_name: str
    department: str
    title: str
    manager_email: str
    status: str  # active | leave | terminated
    employment_type: str  # employee | contractor | vendor
    start_date: date | None = None
    end_date: date | None = None
    previous_department: str | None = None  # from the feed's column, or the previous run's feed
    previous_title: str | None = None


# --- CloudTrail-derived activity -----------------------------------------------


class ActivityKind(StrEnum):
    IDC_USER = "idc_user"  # a person signed in to / used the access portal
    IDC_ASSIGNMENT = "idc_assignment"  # a person used permission set `detail` in `account_id`
    IAM_USER = "iam_user"  # any activity of an IAM user (console or keys)
    ACCESS_KEY = "access_key"  # a long-term (AKIA) key signed a request
    ROOT = "root"
    IAM_ROLE = "iam_role"  # a role session (non Identity Center roles)


class Activity(Record):
    """First and last time a principal was seen in CloudTrail.

    ``key`` identifies the principal within its kind:
    idc_user / idc_assignment: ``id:<identity store UserId>`` or
    ``name:<user name, lower case>`` (older events carry only the name);
    iam_user: the user name; access_key: the key id; root: the account id;
    iam_role: the role ARN.
    """

    kind: str
    key: str
    first_seen: datetime
    last_seen: datetime
    account_id: str | None = None
    detail: str | None = None  # permission set name for idc_assignment
    events: int = 0


class ActionUse(Record):
    """How often a principal called one API action (on one resource, where the event names it) in the window.

    ``kind``/``key``/``account_id``/``detail`` identify the principal as in
    ``Activity`` (idc_assignment: the user and permission set name; iam_role:
    the role ARN; iam_user: the user name). ``action`` is the IAM action the
    call needs ("s3:GetObject"), derived from eventSource and eventName.
    """

    kind: str
    key: str
    account_id: str | None
    action: str
    last_seen: datetime
    detail: str | None = None
    resource: str | None = None  # an ARN the event named; None: the event named none
    events: int = 0


class LifecycleEvent(Record):
    """One CloudTrail management event that grants or takes away Identity Center access.

    Kept whole (not reduced) because lifecycle metrics and anomaly rules need
    who did what to whom and when: CreateAccountAssignment /
    DeleteAccountAssignment (sso), CreateGroupMembership /
    DeleteGroupMembership, CreateUser / UpdateUser / DeleteUser and the
    console's DisableUser / EnableUser (identity store).
    """

    event_time: datetime
    event_name: str
    event_source: str
    account_id: str | None = None  # the recipient account (the management or delegated admin account)
    actor_type: str | None = None  # userIdentity.type
    actor_arn: str | None = None  # the caller: a role session's issuer role ARN, an IAM user's ARN
    actor_name: str | None = None  # the person or session behind it (IdC user name, session name)
    target_account_id: str | None = None  # account assignments: the account
    permission_set_arn: str | None = None
    principal_type: str | None = None  # USER | GROUP
    principal_id: str | None = None
    group_id: str | None = None
    user_id: str | None = None  # memberships, user changes: the identity store user
    membership_id: str | None = None
    error_code: str | None = None  # a failed call changed nothing


# --- Findings --------------------------------------------------------------------


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return SEVERITY_ORDER.index(self)


SEVERITY_ORDER = [Severity.INFO, Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]


class Category(StrEnum):
    ORPHANED = "orphaned"
    INACTIVE = "inactive"
    OVER_PRIVILEGED = "over_privileged"
    CREDENTIAL_HYGIENE = "credential_hygiene"
    LIFECYCLE = "lifecycle"
    EMERGENCY_ACCESS = "emergency_access"
    LIFECYCLE_ANOMALY = "lifecycle_anomaly"


class PrincipalType(StrEnum):
    IDC_USER = "idc_user"
    IDC_GROUP = "idc_group"
    IAM_USER = "iam_user"
    IAM_ROLE = "iam_role"
    ACCESS_KEY = "access_key"
    ROOT = "root"
    PERMISSION_SET = "permission_set"


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    type: str
    id: str
    name: str | None = None
    arn: str | None = None


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    finding_id: str
    rule_id: str
    category: str
    severity: str
    principal: Principal
    account_id: str | None
    resource: str | None
    title: str
    evidence: dict
    controls: list[str]
    status: str = "new"
    recommendation: str | None = None
    first_seen: datetime | None = None  # as-of of the first run that found it (state store)
    resolved_at: datetime | None = None  # as-of of the run that no longer found it


_RANKS = {severity.value: rank for rank, severity in enumerate(SEVERITY_ORDER)}


def severity_rank(severity: str) -> int:
    """Higher is worse; an unknown severity (from an older store, say) ranks below info."""
    return _RANKS.get(severity, -1)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """The one finding order: worst first, then category, rule, account, principal and resource.

    Every output and the analysis itself use it, so runs diff cleanly and the
    JSON, CSV and HTML list the same rows in the same order; finding_id breaks ties.
    """
    return sorted(
        findings,
        key=lambda f: (
            -severity_rank(f.severity),
            f.category,
            f.rule_id,
            f.account_id or "",
            f.principal.type,
            f.principal.id,
            f.resource or "",
            f.finding_id,
        ),
    )


# --- Revocations: what a review decided to take away ----------------------------


class RevocationKind(StrEnum):
    IDC_GROUP_MEMBERSHIP = "idc_group_membership"  # target: identity_store_id, group_id, user_id
    IDC_ACCOUNT_ASSIGNMENT = "idc_account_assignment"  # target: instance_arn, account_id, permission_set_arn,
    #                                                    principal_type (USER|GROUP), principal_id
    IDC_USER = "idc_user"  # disable: identity_store_id, user_id
    IAM_ACCESS_KEY = "iam_access_key"  # deactivate: account_id, user_name, access_key_id
    IAM_LOGIN_PROFILE = "iam_login_profile"  # delete console password: account_id, user_name
    IAM_USER_POLICY = "iam_user_policy"  # detach: account_id, user_name, policy_arn


class Revocation(msgspec.Struct, frozen=True, kw_only=True):
    """One access to take away, and the reviewed decision or finding that asks for it.

    Campaigns produce these when they close (decision "revoke"); explicit
    stale-access policies produce them from findings. The remediator turns
    them into a plan, reading each target's pre-state from AWS.
    """

    kind: str  # RevocationKind
    target: dict[str, str]
    reason: dict  # e.g. {"campaign_id", "item_id", "decision", "reviewer", "decided_at", "justification"}
    principal: Principal
    account_id: str | None = None
