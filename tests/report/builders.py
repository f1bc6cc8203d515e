"""A small snapshot and findings for the reporter tests, built the way collectors and rules build them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from auditor import snapshot as snapshot_store
from auditor.model import (
    AccessKey,
    Account,
    AccountAssignment,
    Finding,
    GroupMembership,
    HrPerson,
    IamRole,
    IamUser,
    IdcGroup,
    IdcUser,
    PermissionSet,
    Principal,
)
from auditor.snapshot import Snapshot, SourceResult, SourceStatus, Unreadable

AS_OF = datetime(2024, 6, 30, 12, 0, tzinfo=UTC)
PROD = "111122223333"
DEV = "444455556666"
PS_ADMIN = "arn:aws:sso:::permissionSet/ssoins-1234567890abcdef/ps-0123456789abcdef"

HOSTILE_IMG = "<img src=x onerror=alert(1)>"
HOSTILE_SCRIPT = "</script><script>alert(1)</script>"


def small_snapshot() -> Snapshot:
    org = SourceResult(
        tables={
            "accounts": [
                Account(account_id=PROD, name="prod", is_management=True),
                Account(account_id=DEV, name="dev <sandbox>"),
            ]
        },
        statuses=[SourceStatus(source="organizations", status="ok")],
    )
    idc = SourceResult(
        tables={
            "idc_users": [
                IdcUser(user_id="u-1", user_name="alice"),
                IdcUser(user_id="u-2", user_name=HOSTILE_IMG),
            ],
            "idc_groups": [IdcGroup(group_id="g-1", display_name="admins")],
            "idc_memberships": [GroupMembership(group_id="g-1", user_id="u-2")],
            "permission_sets": [PermissionSet(arn=PS_ADMIN, name="AdministratorAccess")],
            "account_assignments": [
                AccountAssignment(
                    account_id=PROD, permission_set_arn=PS_ADMIN, principal_type="USER", principal_id="u-1"
                ),
                AccountAssignment(
                    account_id=DEV, permission_set_arn=PS_ADMIN, principal_type="GROUP", principal_id="g-1"
                ),
            ],
        },
        statuses=[SourceStatus(source="identity_center", status="ok")],
    )
    iam = SourceResult(
        tables={
            "iam_users": [
                IamUser(account_id=DEV, user_name="deploy", user_id="AIDA1", arn=f"arn:aws:iam::{DEV}:user/deploy")
            ],
            "access_keys": [
                AccessKey(account_id=DEV, user_name="deploy", access_key_id="AKIAEXAMPLE1", status="Active")
            ],
            "iam_roles": [
                IamRole(account_id=PROD, role_name="ops", role_id="AROA1", arn=f"arn:aws:iam::{PROD}:role/ops")
            ],
        },
        statuses=[
            SourceStatus(source="iam", account_id=PROD, status="ok"),
            SourceStatus(
                source="iam",
                account_id=DEV,
                status="failed",
                error="AccessDenied: not authorized to perform sts:AssumeRole (sts, AssumeRole)",
            ),
        ],
    )
    trail = SourceResult(
        statuses=[
            SourceStatus(
                source="cloudtrail",
                account_id=PROD,
                status="partial",
                coverage_start=datetime(2024, 5, 1, tzinfo=UTC),
                coverage_end=AS_OF,
            )
        ],
        unreadable=[Unreadable(what="s3://trail-bucket/AWSLogs/o-1/111122223333/x.json.gz", error="not gzip")],
    )
    hr = SourceResult(
        tables={
            "hr_people": [
                HrPerson(
                    line=2,
                    employee_id="E1",
                    email="alice@example.com",
                    user_name="alice",
                    display_name="Alice",
                    department="Ops",
                    title="SRE",
                    manager_email="bob@example.com",
                    status="active",
                    employment_type="employee",
                    start_date=date(2020, 1, 1),
                )
            ]
        },
        statuses=[SourceStatus(source="hr", status="ok")],
        unreadable=[Unreadable(what="hr.csv line 7", error="status 'gone' is not one of active, leave, terminated")],
    )
    return snapshot_store.build([org, idc, iam, trail, hr], as_of=AS_OF, collected_at=AS_OF, tool_version="9.9.9")


def finding(
    finding_id: str,
    *,
    severity: str = "high",
    category: str = "inactive",
    rule_id: str = "idc-user-inactive",
    principal: Principal | None = None,
    account_id: str | None = PROD,
    resource: str | None = None,
    title: str = "Alice has not used AdministratorAccess in 120 days",
    evidence: dict | None = None,
    controls: list[str] | None = None,
    status: str = "new",
    recommendation: str | None = "Remove the assignment.",
    first_seen: datetime | None = None,
    resolved_at: datetime | None = None,
) -> Finding:
    return Finding(
        finding_id=finding_id,
        rule_id=rule_id,
        category=category,
        severity=severity,
        principal=principal or Principal(type="idc_user", id="u-1", name="alice"),
        account_id=account_id,
        resource=resource,
        title=title,
        evidence=evidence if evidence is not None else {"days_idle": 120, "last_seen": "2024-03-02T10:00:00Z"},
        controls=controls if controls is not None else ["CIS-AWS-1.12", "SOC2-CC6.2"],
        status=status,
        recommendation=recommendation,
        first_seen=first_seen,
        resolved_at=resolved_at,
    )


def sample_findings() -> list[Finding]:
    return [
        finding(
            "f-low",
            severity="low",
            category="credential_hygiene",
            rule_id="iam-key-old",
            account_id=DEV,
            principal=Principal(type="access_key", id="AKIAEXAMPLE1", name="deploy"),
            resource="AKIAEXAMPLE1",
            title="Access key older than 90 days",
            evidence={"age_days": 400},
        ),
        finding(
            "f-crit",
            severity="critical",
            category="lifecycle",
            rule_id="idc-user-terminated",
            resource=PS_ADMIN,
            title="Terminated employee keeps AdministratorAccess",
            evidence={"hr_status": "terminated", "end_date": "2024-05-01"},
        ),
        finding(
            "f-info",
            severity="info",
            category="inactive",
            rule_id="iam-role-unused",
            account_id=DEV,
            principal=Principal(type="iam_role", id="AROA2", name="batch", arn=f"arn:aws:iam::{DEV}:role/batch"),
            title="Cannot tell whether role batch is used",
            evidence={"insufficient_evidence": True, "missing": "iam for account 444455556666 failed"},
        ),
        finding(
            "f-org",
            severity="medium",
            category="orphaned",
            rule_id="idc-user-no-hr",
            account_id=None,
            principal=Principal(type="idc_user", id="u-2", name=HOSTILE_IMG),
            controls=[],
            title=f"User {HOSTILE_SCRIPT} has no HR record",
            evidence={"user_name": HOSTILE_SCRIPT},
            recommendation=None,
            status="open",
        ),
    ]


EXCEPTION = {
    "rule": "iam-access-key-old",
    "principal": "deploy",
    "owner": "platform-lead@example.com",
    "justification": "Rotated by the vendor's schedule",
    "expires": "2024-12-31",
}


def lifecycle_findings() -> list[Finding]:
    """One finding in each status, as the state store classifies them against the previous run."""
    first = datetime(2024, 6, 1, 6, 0, tzinfo=UTC)
    return [
        finding(
            "f-new",
            severity="critical",
            category="lifecycle",
            rule_id="idc-leaver-with-access",
            title="Leaver alice keeps AdministratorAccess",
            status="new",
            first_seen=AS_OF,
        ),
        finding("f-open", severity="high", title="alice idle for 120 days", status="open", first_seen=first),
        finding(
            "f-gone",
            severity="medium",
            category="credential_hygiene",
            rule_id="iam-access-key-unused",
            account_id=DEV,
            principal=Principal(type="access_key", id="AKIAEXAMPLE2", name="ci"),
            title="Key of ci unused",
            status="resolved",
            first_seen=first,
            resolved_at=AS_OF,
        ),
        finding(
            "f-accepted",
            severity="low",
            category="credential_hygiene",
            rule_id="iam-access-key-old",
            account_id=DEV,
            principal=Principal(type="access_key", id="AKIAEXAMPLE1", name="deploy"),
            title="Key of deploy older than 90 days",
            status="suppressed",
            first_seen=first,
            evidence={"age_days": 400, "exception": EXCEPTION},
        ),
    ]


HISTORY = {
    "runs": [
        {
            "id": 7,
            "as_of": "2024-06-28T06:00:00+00:00",
            "kind": "run",
            "exit_code": 0,
            "by_severity": {"critical": 2, "high": 3, "low": 5},
        },
        {
            "id": 8,
            "as_of": "2024-06-29T06:00:00+00:00",
            "kind": "run",
            "exit_code": 3,
            "by_severity": {"high": 4, "medium": 1},
        },
        {
            "id": 9,
            "as_of": "2024-06-30T12:00:00+00:00",
            "kind": "run",
            "exit_code": 0,
            "by_severity": {"critical": 1, "high": 1, "low": 1},
        },
    ],
    "time_to_resolve": {
        "medium": {"resolved": 4, "mean_days": 12.5, "max_days": 29.0},
        "critical": {"resolved": 1, "mean_days": 0.5, "max_days": 0.5},
    },
}
