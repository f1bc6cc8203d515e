"""IAM in every active account: users, keys, groups, roles, root credentials.

Calls per account are kept few. GetAccountAuthorizationDetails returns
users (groups, attached and inline policies, tags), groups and roles (trust
policy, RoleLastUsed, tags) up to 1,000 per page, where the List* calls
would cost four or more calls per principal. The credential report (one
generation, one download) gives password use, MFA and each key's last use.
ListAccessKeys per user is the only per-user call: key ids come from it.
A report can be up to four hours old, so a user or key it does not match
exactly is read directly (ListMFADevices, GetLoginProfile,
GetAccessKeyLastUsed) instead of guessed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import msgspec

from auditor.aws import AwsContext, Backoff, Sleep, describe_error, error_code, jittered_sleep, pages, poll, utc
from auditor.collect.completeness import Completeness, all_failed
from auditor.collect.concurrency import Problems, fan_out
from auditor.collect.registry import collector
from auditor.model import AccessKey, Account, IamGroup, IamPolicy, IamRole, IamUser, RootCredentials, inline_policy_key
from auditor.progress import Progress
from auditor.snapshot import FAILED, PARTIAL, SourceResult, SourceStatus

SOURCE = "iam"
ROOT_ROW = "<root_account>"
DETAILS_PAGE = 1000  # GetAccountAuthorizationDetails' largest MaxItems
REPORT_TIMEOUT = 300.0  # seconds of waiting for GenerateCredentialReport to be COMPLETE
REPORT_BACKOFF = Backoff(first=1.0, cap=16.0)
NOT_A_VALUE = frozenset({"", "N/A", "no_information", "not_supported"})
TABLES = ("iam_users", "access_keys", "iam_groups", "iam_roles", "root_credentials", "iam_policies")

PERMISSIONS = (
    "sts:AssumeRole",
    "iam:GenerateCredentialReport",
    "iam:GetCredentialReport",
    "iam:GetAccountAuthorizationDetails",
    "iam:ListAccessKeys",
    "iam:GetAccessKeyLastUsed",
    "iam:ListMFADevices",
    "iam:GetLoginProfile",
    "iam:GetPolicy",  # the AWS managed policies in use (auditor.collect.aws_policies)
    "iam:GetPolicyVersion",
)


class CredentialReportTimeout(Exception):
    """GenerateCredentialReport did not reach COMPLETE before the deadline."""


@dataclass
class CredentialReport:
    generated_at: datetime | None
    users: dict[str, dict[str, str]] = field(default_factory=dict)  # user name -> row
    root: dict[str, str] | None = None


@collector(SOURCE, PERMISSIONS)
def collect_iam(
    ctx: AwsContext,
    accounts: list[Account],
    progress: Progress,
    *,
    max_workers: int = 8,
    sleep: Sleep = jittered_sleep,
    report_timeout: float = REPORT_TIMEOUT,
    on_account: Callable[[str, SourceResult], None] | None = None,
) -> SourceResult:
    """One ``SourceStatus`` per active account; a failing account never stops the others.

    ``on_account(account_id, result)`` hears of each account as soon as it is read (Access
    Advisor starts its jobs there), from the worker that read it.
    """
    active = [account for account in accounts if account.status == "ACTIVE"]

    def read(account: Account) -> SourceResult:
        result = _collect_account(ctx, account.account_id, sleep, report_timeout)
        if on_account is not None:
            on_account(account.account_id, result)
        return result

    progress.start(SOURCE, len(active))
    outcomes = fan_out(
        read,
        active,
        max_workers,
        on_done=lambda: progress.advance(SOURCE),
    )
    progress.finish(SOURCE)
    result = SourceResult()
    for outcome in outcomes:
        if outcome.error is None:
            result.merge(outcome.value)
        else:  # a defect, not an AWS answer: still recorded against its account
            error = describe_error(outcome.error, "iam", "collect")
            status = SourceStatus(source=SOURCE, account_id=outcome.item.account_id, status="failed", error=error)
            result.statuses.append(all_failed(status, TABLES))
    return result


def _collect_account(ctx: AwsContext, account_id: str, sleep: Sleep, report_timeout: float) -> SourceResult:
    result = SourceResult()
    book = Completeness(TABLES)
    problems = book.problems
    try:
        iam = ctx.client("iam", account_id)
    except Exception as exc:
        problems.add(exc, "sts", "AssumeRole")
        result.statuses.append(all_failed(problems.status(SOURCE, account_id, failed=True, detail={}), TABLES))
        return result

    report = _credential_report(iam, sleep, report_timeout, problems)
    report_error = None
    if report is None:  # root's row and each user's password use come only from the report
        report_error = problems.messages[-1] if problems else "the credential report could not be read"
        book.mark("root_credentials", FAILED)
    try:
        users, groups, roles, managed = authorization_details_with_policies(iam)
    except Exception as exc:
        book.table_error("iam_users", FAILED, exc, "iam", "GetAccountAuthorizationDetails")
        for table in ("iam_groups", "iam_roles", "access_keys", "iam_policies"):  # one call lists them all
            book.mark(table, FAILED)
        users, groups, roles, managed = None, [], [], []

    detail: dict = {
        "credential_report_generated_at": report.generated_at.isoformat() if report and report.generated_at else None
    }
    roots = []
    if report is not None and report.root is not None:
        roots.append(root_credentials(account_id, report.root))
    elif report is not None:
        detail["root_credentials"] = "the credential report has no <root_account> row: nothing recorded for root"
        book.mark("root_credentials", PARTIAL)

    iam_users, keys = [], []
    for raw in users or []:
        row = _report_row(report, raw)
        iam_users.append(_user(iam, account_id, raw, row, book))
        keys.extend(_access_keys(iam, account_id, raw["Arn"], raw["UserName"], row, book))
    if report_error is not None:
        book.attribute_unknown("iam_user.password_last_used", [u.arn for u in iam_users], report_error)
    result.add("iam_users", iam_users)
    result.add("access_keys", keys)
    result.add("iam_groups", [_group(account_id, raw) for raw in groups])
    result.add("iam_roles", [_role(account_id, raw) for raw in roles])
    result.add("root_credentials", roots)
    result.add("iam_policies", policy_documents(account_id, users or [], groups, roles, managed))
    detail.update(users=len(iam_users), access_keys=len(keys), groups=len(groups), roles=len(roles))
    failed = report is None and users is None
    result.statuses.append(book.status(SOURCE, account_id, failed=failed, detail=detail))
    return result


def read_user(iam: Any, account_id: str, user_name: str, book: Completeness) -> tuple[IamUser, list[AccessKey]]:
    """One IAM user and its keys, read by name: what a check of one person needs, without listing the account.

    GetUser gives the console password's last use (the credential report's
    column); policies, groups, MFA and login profile come from their own
    per-user calls. A missing user raises (the caller books it).
    """
    raw = dict(iam.get_user(UserName=user_name)["User"])
    raw["AttachedManagedPolicies"] = [
        p for page in pages(iam, "list_attached_user_policies", UserName=user_name) for p in page["AttachedPolicies"]
    ]
    raw["UserPolicyList"] = [
        {"PolicyName": name}
        for page in pages(iam, "list_user_policies", UserName=user_name)
        for name in page["PolicyNames"]
    ]
    raw["GroupList"] = [
        g["GroupName"] for page in pages(iam, "list_groups_for_user", UserName=user_name) for g in page["Groups"]
    ]
    user = _user(iam, account_id, raw, None, book)
    user = msgspec.structs.replace(user, password_last_used=utc(raw.get("PasswordLastUsed")))
    return user, _access_keys(iam, account_id, raw["Arn"], user_name, None, book)


# --- credential report -----------------------------------------------------------


def wait_for_credential_report(iam: Any, sleep: Sleep, timeout: float) -> None:
    """Poll GenerateCredentialReport until COMPLETE: 1 s, 2 s, 4 s ... (at most 16 s), within ``timeout``."""
    polled = poll(
        lambda: iam.generate_credential_report().get("State"),
        lambda state: state == "COMPLETE",
        deadline=timeout,
        backoff=REPORT_BACKOFF,
        sleep=sleep,
    )
    if not polled.done:
        raise CredentialReportTimeout(f"the report was still {polled.answer} after {polled.waited:.0f} s of waiting")


def parse_credential_report(content: bytes | str) -> list[dict[str, str]]:
    """The report's CSV rows as dicts keyed by its header (``user``, ``arn``, ``mfa_active`` ...)."""
    text = content.decode("utf-8") if isinstance(content, bytes) else content
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "user" not in reader.fieldnames:
        raise ValueError("the credential report has no 'user' column in its header")
    return [row for row in reader if row.get("user")]


def report_time(value: str | None) -> datetime | None:
    """A report cell as a UTC time; 'N/A', 'no_information', 'not_supported' are no time."""
    if value is None or value.strip() in NOT_A_VALUE:
        return None
    return utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))


def report_bool(value: str | None) -> bool | None:
    """'true'/'false' in any case; None for 'not_supported' and the other non-values."""
    cleaned = (value or "").strip().lower()
    if cleaned in ("true", "false"):
        return cleaned == "true"
    return None


def root_credentials(account_id: str, row: dict[str, str]) -> RootCredentials:
    return RootCredentials(
        account_id=account_id,
        password_enabled=report_bool(row.get("password_enabled")),
        password_last_used=report_time(row.get("password_last_used")),
        mfa_active=report_bool(row.get("mfa_active")) is True,
        access_key_1_active=report_bool(row.get("access_key_1_active")) is True,
        access_key_1_last_used=report_time(row.get("access_key_1_last_used_date")),
        access_key_2_active=report_bool(row.get("access_key_2_active")) is True,
        access_key_2_last_used=report_time(row.get("access_key_2_last_used_date")),
    )


def _credential_report(iam: Any, sleep: Sleep, timeout: float, problems: Problems) -> CredentialReport | None:
    try:
        wait_for_credential_report(iam, sleep, timeout)
    except Exception as exc:
        problems.add(exc, "iam", "GenerateCredentialReport")
        return None
    try:
        response = iam.get_credential_report()
        rows = parse_credential_report(response["Content"])
    except Exception as exc:
        problems.add(exc, "iam", "GetCredentialReport")
        return None
    report = CredentialReport(generated_at=utc(response.get("GeneratedTime")))
    for row in rows:
        if row["user"] == ROOT_ROW:
            report.root = row
        else:
            report.users[row["user"]] = row
    return report


def _report_row(report: CredentialReport | None, raw: dict) -> dict[str, str] | None:
    """The user's row, only if it is this very user (same ARN, same creation second)."""
    row = report.users.get(raw["UserName"]) if report else None
    if row is None or row.get("arn") != raw.get("Arn"):
        return None
    if not _same_second(report_time(row.get("user_creation_time")), utc(raw.get("CreateDate"))):
        return None
    return row


def _same_second(a: datetime | None, b: datetime | None) -> bool:
    return a is not None and b is not None and a.replace(microsecond=0) == b.replace(microsecond=0)


# --- authorization details -----------------------------------------------------------


def authorization_details(iam: Any) -> tuple[list[dict], list[dict], list[dict]]:
    """Users, groups and roles from GetAccountAuthorizationDetails, every page, deduplicated."""
    users, groups, roles, _ = authorization_details_with_policies(iam)
    return users, groups, roles


def authorization_details_with_policies(iam: Any) -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    """Users, groups, roles and the account's own managed policies (with their versions), in the same pages.

    AWS managed policies are left out here (the filter would list every one
    AWS publishes); the ones in use are read once for the estate
    (auditor.collect.aws_policies).
    """
    users: dict[str, dict] = {}
    groups: dict[str, dict] = {}
    roles: dict[str, dict] = {}
    policies: dict[str, dict] = {}
    kinds = ["User", "Group", "Role", "LocalManagedPolicy"]
    for page in pages(iam, "get_account_authorization_details", DETAILS_PAGE, Filter=kinds):
        users.update((u["Arn"], u) for u in page.get("UserDetailList", []))
        groups.update((g["Arn"], g) for g in page.get("GroupDetailList", []))
        roles.update((r["Arn"], r) for r in page.get("RoleDetailList", []))
        policies.update((p["Arn"], p) for p in page.get("Policies", []))
    return list(users.values()), list(groups.values()), list(roles.values()), list(policies.values())


def policy_documents(
    account_id: str, users: list[dict], groups: list[dict], roles: list[dict], managed: list[dict]
) -> list[IamPolicy]:
    """Every inline policy's document and every customer managed policy's default version."""
    out = []
    for owners, key in ((users, "UserPolicyList"), (groups, "GroupPolicyList"), (roles, "RolePolicyList")):
        for owner in owners:
            for inline in owner.get(key) or []:
                out.append(
                    IamPolicy(
                        account_id=account_id,
                        arn=inline_policy_key(owner["Arn"], inline["PolicyName"]),
                        name=inline["PolicyName"],
                        kind="inline",
                        document=decode_document(inline.get("PolicyDocument")) or {},
                        owner_arn=owner["Arn"],
                    )
                )
    for policy in managed:
        default = next((v for v in policy.get("PolicyVersionList") or [] if v.get("IsDefaultVersion")), None)
        out.append(
            IamPolicy(
                account_id=account_id,
                arn=policy["Arn"],
                name=policy.get("PolicyName") or policy["Arn"].rsplit("/", 1)[-1],  # the ARN ends with the name
                kind="managed",
                document=decode_document(default.get("Document")) or {} if default else {},
                path=policy.get("Path") or "/",
                version_id=(default or {}).get("VersionId") or policy.get("DefaultVersionId"),
            )
        )
    return out


def _user(iam: Any, account_id: str, raw: dict, row: dict[str, str] | None, book: Completeness) -> IamUser:
    name, arn = raw["UserName"], raw["Arn"]
    if row is not None:
        password_enabled = report_bool(row.get("password_enabled")) is True
        password_last_used = report_time(row.get("password_last_used"))
        mfa_active = report_bool(row.get("mfa_active")) is True
    else:  # newer than the report, or no report: ask directly
        password_enabled, password_last_used, mfa_active = False, None, False
        try:
            mfa_active = any(page.get("MFADevices") for page in pages(iam, "list_mfa_devices", UserName=name))
        except Exception as exc:
            book.attribute_error("iam_user.mfa_active", [arn], exc, "iam", "ListMFADevices", f"user {name}")
        try:
            iam.get_login_profile(UserName=name)
            password_enabled = True
        except Exception as exc:
            if error_code(exc) != "NoSuchEntity":  # AWS's answer for "no console password"
                book.attribute_error("iam_user.password_enabled", [arn], exc, "iam", "GetLoginProfile", f"user {name}")
    return IamUser(
        account_id=account_id,
        user_name=name,
        user_id=raw["UserId"],
        arn=arn,
        path=raw.get("Path") or "/",
        created=utc(raw.get("CreateDate")),
        password_enabled=password_enabled,
        password_last_used=password_last_used,
        mfa_active=mfa_active,
        attached_policies=_attached(raw),
        inline_policies=_inline(raw, "UserPolicyList"),
        groups=list(dict.fromkeys(raw.get("GroupList") or [])),
        tags=_tags(raw),
        permissions_boundary=_boundary(raw),
    )


def _access_keys(
    iam: Any, account_id: str, user_arn: str, user_name: str, row: dict[str, str] | None, book: Completeness
) -> list[AccessKey]:
    try:
        listed = [
            k for page in pages(iam, "list_access_keys", UserName=user_name) for k in page.get("AccessKeyMetadata", [])
        ]
    except Exception as exc:
        error = book.table_error("access_keys", PARTIAL, exc, "iam", "ListAccessKeys", f"user {user_name}")
        book.attribute_unknown("iam_user.access_keys", [user_arn], error)
        return []
    keys = []
    for raw in {k["AccessKeyId"]: k for k in listed}.values():
        used = _key_use_from_report(row, raw)
        if used is None:
            try:
                last = iam.get_access_key_last_used(AccessKeyId=raw["AccessKeyId"]).get("AccessKeyLastUsed", {})
                used = (utc(last.get("LastUsedDate")), _text(last.get("ServiceName")))
            except Exception as exc:
                key_id = raw["AccessKeyId"]
                where = f"key {key_id} of user {user_name}"
                book.attribute_error("access_key.last_used", [key_id], exc, "iam", "GetAccessKeyLastUsed", where)
                used = (None, None)
        keys.append(
            AccessKey(
                account_id=account_id,
                user_name=user_name,
                access_key_id=raw["AccessKeyId"],
                status=raw.get("Status", "Active"),
                created=utc(raw.get("CreateDate")),
                last_used=used[0],
                last_used_service=used[1],
            )
        )
    return keys


def _key_use_from_report(row: dict[str, str] | None, key: dict) -> tuple[datetime | None, str | None] | None:
    """The report slot (1 or 2) that is unambiguously this key: same creation second, same state."""
    if row is None:
        return None
    created = utc(key.get("CreateDate"))
    active = key.get("Status") == "Active"
    slots = [
        n
        for n in (1, 2)
        if _same_second(report_time(row.get(f"access_key_{n}_last_rotated")), created)
        and report_bool(row.get(f"access_key_{n}_active")) == active
    ]
    if len(slots) != 1:
        return None
    n = slots[0]
    return report_time(row.get(f"access_key_{n}_last_used_date")), _text(row.get(f"access_key_{n}_last_used_service"))


def _group(account_id: str, raw: dict) -> IamGroup:
    return IamGroup(
        account_id=account_id,
        group_name=raw["GroupName"],
        arn=raw["Arn"],
        attached_policies=_attached(raw),
        inline_policies=_inline(raw, "GroupPolicyList"),
    )


def _role(account_id: str, raw: dict) -> IamRole:
    last_used = raw.get("RoleLastUsed") or {}
    return IamRole(
        account_id=account_id,
        role_name=raw["RoleName"],
        role_id=raw["RoleId"],
        arn=raw["Arn"],
        path=raw.get("Path") or "/",
        created=utc(raw.get("CreateDate")),
        last_used=utc(last_used.get("LastUsedDate")),
        last_used_region=last_used.get("Region"),
        attached_policies=_attached(raw),
        inline_policies=_inline(raw, "RolePolicyList"),
        trust_policy=decode_document(raw.get("AssumeRolePolicyDocument")),
        tags=_tags(raw),
        permissions_boundary=_boundary(raw),
    )


def decode_document(value: Any) -> dict | None:
    """botocore decodes IAM policy documents; a raw URL-encoded string is decoded here."""
    if value is None or isinstance(value, dict):
        return value
    return json.loads(unquote(value))


def _boundary(raw: dict) -> str | None:
    return (raw.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")


def _attached(raw: dict) -> list[str]:
    return list(dict.fromkeys(p["PolicyArn"] for p in raw.get("AttachedManagedPolicies") or []))


def _inline(raw: dict, key: str) -> list[str]:
    return list(dict.fromkeys(p["PolicyName"] for p in raw.get(key) or []))


def _tags(raw: dict) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in raw.get("Tags") or []}


def _text(value: str | None) -> str | None:
    return None if value is None or value.strip() in NOT_A_VALUE else value
