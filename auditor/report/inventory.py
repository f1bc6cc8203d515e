"""The inventory an auditor samples from: people, accounts, permission sets, who can reach what.

Built from the snapshot tables alone (reporters never recompute findings,
and never call AWS). "Who can reach what" resolves every Identity Center
account assignment to the people behind it, directly or through a group,
the way IAM Identity Center grants the access. Tables travel to the page
as plain arrays, rendered a page at a time like the findings.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from itertools import groupby
from operator import attrgetter
from typing import Any, TypeVar

from auditor.access import AccessModel, AccessPath
from auditor.model import Finding
from auditor.permissions import PermissionModel
from auditor.permissions.capabilities import CATEGORIES, CREDENTIAL_EXPOSURE, EXFILTRATION, LABELS, RESOURCE_EXPOSURE
from auditor.report.common import LIVE_STATUSES, format_time
from auditor.snapshot import Snapshot

T = TypeVar("T")

TILES = (
    ("accounts", "AWS accounts"),
    ("idc_users", "Identity Center users"),
    ("idc_groups", "Identity Center groups"),
    ("idc_memberships", "Group memberships"),
    ("permission_sets", "Permission sets"),
    ("account_assignments", "Account assignments"),
    ("iam_users", "IAM users"),
    ("iam_roles", "IAM roles"),
    ("access_keys", "IAM access keys"),
    ("hr_people", "HR people"),
)


def _text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return value


# Rows each inventory table carries into the page. An estate of 100,000 people has a million
# "who can reach what" rows; the page keeps the first ones and says how many there are, while the
# per-person view (report/people.py) and the snapshot keep everyone's.
TABLE_ROWS = 20_000


def _table(columns: Iterable[str], items: Sequence[T], row: Callable[[T], Iterable[Any]]) -> dict[str, Any]:
    """The table of ``items`` in order, a row each, cut at TABLE_ROWS; "total" says how many there are."""
    return {
        "columns": list(columns),
        "rows": [[_text(v) for v in row(item)] for item in items[:TABLE_ROWS]],
        "total": len(items),
    }


def tiles(snapshot: Snapshot) -> list[tuple[str, int]]:
    counts = snapshot.manifest.counts
    return [
        (label, len(snapshot.tables[name]) if name in snapshot.tables else counts.get(name, 0)) for name, label in TILES
    ]


def inventory(
    snapshot: Snapshot,
    findings: list[Finding],
    exempt: Mapping[str, str] | None = None,
    access: AccessModel | None = None,
) -> dict[str, dict[str, Any]]:
    """Every inventory table, each {"columns": [...], "rows": [[...], ...]}.

    ``exempt``: Identity Center user id -> why the HR check does not apply
    (break-glass, a listed service identity): shown instead of "not in HR".
    ``access``: the run's access model, when the caller has built it already.
    """
    exempt = exempt or {}
    access = access or AccessModel(snapshot)
    users = snapshot.table("idc_users")
    people = snapshot.table("hr_people")
    accounts = snapshot.table("accounts")
    user_by_id = access.idc_users
    account_names = {a.account_id: a.name for a in accounts}
    hr_of = {u.user_id: person for u in users if (person := access.hr_person(u)) is not None}
    user_of_line = {person.line: user_id for user_id, person in hr_of.items()}
    paths = access.all_paths

    reach: dict[str, set[str]] = defaultdict(set)
    sets_of: dict[str, set[str]] = defaultdict(set)
    people_in_account: dict[str, set[str]] = defaultdict(set)
    people_with_ps: dict[str, set[str]] = defaultdict(set)
    accounts_with_ps: dict[str, set[str]] = defaultdict(set)
    for path in paths:
        reach[path.user_id].add(path.account_id)
        sets_of[path.user_id].add(access.permission_set_name(path.permission_set_arn))
        people_in_account[path.account_id].add(path.user_id)
        people_with_ps[path.permission_set_arn].add(path.user_id)
    for assignment in snapshot.table("account_assignments"):
        accounts_with_ps[assignment.permission_set_arn].add(assignment.account_id)
    assignments_in = Counter(a.account_id for a in snapshot.table("account_assignments"))
    assignments_of = Counter(a.permission_set_arn for a in snapshot.table("account_assignments"))
    iam_users_in = Counter(u.account_id for u in snapshot.table("iam_users"))
    live_in = Counter(f.account_id for f in findings if f.status in LIVE_STATUSES)

    def user_label(user_id: str) -> tuple[str, str, str]:
        user = user_by_id.get(user_id)
        person = hr_of.get(user_id)
        hr_status = (
            person.status
            if person
            else (f"exempt: {exempt[user_id]}" if user_id in exempt else "not in HR" if people else "")
        )
        if user is None:
            return f"(unknown user {user_id})", "", hr_status
        return user.user_name, user.display_name or "", hr_status

    return {
        "people": _table(
            (
                "Employee id",
                "Name",
                "User name",
                "Email",
                "Department",
                "Title",
                "Manager",
                "HR status",
                "Type",
                "Start",
                "End",
                "Identity Center user",
                "Accounts reachable",
            ),
            sorted(people, key=lambda p: (p.display_name.lower(), p.employee_id)),
            lambda p: (
                p.employee_id,
                p.display_name,
                p.user_name,
                p.email,
                p.department,
                p.title,
                p.manager_email,
                p.status,
                p.employment_type,
                p.start_date,
                p.end_date,
                user_by_id[user_of_line[p.line]].user_name if p.line in user_of_line else "(none)",
                len(reach.get(user_of_line.get(p.line, ""), ())),
            ),
        ),
        "idc_users": _table(
            (
                "User name",
                "Display name",
                "Email",
                "Status",
                "HR status",
                "Groups",
                "Accounts reachable",
                "Permission sets",
            ),
            sorted(users, key=lambda u: u.user_name.lower()),
            lambda u: (
                u.user_name,
                u.display_name,
                u.email,
                u.status,
                user_label(u.user_id)[2],
                access.group_names(u.user_id),
                len(reach.get(u.user_id, ())),
                sorted(sets_of.get(u.user_id, ())),
            ),
        ),
        "accounts": _table(
            (
                "Account id",
                "Name",
                "Status",
                "Management",
                "Owner",
                "Environment",
                "Assignments",
                "People with access",
                "IAM users",
                "Open findings",
            ),
            sorted(accounts, key=lambda a: a.account_id),
            lambda a: (
                a.account_id,
                a.name,
                a.status,
                a.is_management,
                a.tags.get("owner"),
                a.tags.get("environment"),
                assignments_in[a.account_id],
                len(people_in_account.get(a.account_id, ())),
                iam_users_in[a.account_id],
                live_in[a.account_id],
            ),
        ),
        "permission_sets": _table(
            (
                "Name",
                "AWS managed policies",
                "Customer managed policies",
                "Inline policy",
                "Session duration",
                "Assignments",
                "Accounts",
                "People with access",
            ),
            sorted(snapshot.table("permission_sets"), key=lambda p: p.name.lower()),
            lambda p: (
                p.name,
                [arn.rsplit("/", 1)[-1] for arn in p.managed_policies],
                p.customer_managed_policies,
                p.inline_policy is not None,
                p.session_duration,
                assignments_of[p.arn],
                len(accounts_with_ps.get(p.arn, ())),
                len(people_with_ps.get(p.arn, ())),
            ),
        ),
        "access": _table(
            ("User name", "Display name", "HR status", "Via", "Account id", "Account name", "Permission set"),
            _by_user_via(paths),
            lambda path: (
                *user_label(path.user_id),
                "direct" if path.direct else f"group {path.group_name}",
                path.account_id,
                account_names.get(path.account_id, ""),
                access.permission_set_name(path.permission_set_arn),
            ),
        ),
        "iam_users": _table(
            (
                "Account id",
                "Account name",
                "User name",
                "Created",
                "Console password",
                "Password last used",
                "MFA",
                "Active keys",
                "Key last used",
                "Groups",
                "Policies",
            ),
            sorted(snapshot.table("iam_users"), key=lambda u: (u.account_id, u.user_name.lower())),
            lambda u: (
                u.account_id,
                account_names.get(u.account_id, ""),
                u.user_name,
                u.created,
                u.password_enabled,
                u.password_last_used,
                u.mfa_active,
                sum(1 for k in access.keys_of(u) if k.status == "Active"),
                max((k.last_used for k in access.keys_of(u) if k.last_used), default=None),
                u.groups,
                [arn.rsplit("/", 1)[-1] for arn in u.attached_policies] + u.inline_policies,
            ),
        ),
        "capabilities": capabilities_table(snapshot, account_names),
    }


def capabilities_table(snapshot: Snapshot, account_names: Mapping[str, str]) -> dict[str, Any]:
    """Each IAM user, IAM role and permission set (per account it is assigned in): its sensitive capabilities."""
    model = PermissionModel(snapshot)
    rows = []
    principals = [("IAM user", u.user_name, u.account_id, model.iam_user(u)) for u in snapshot.table("iam_users")]
    principals += [
        ("IAM role", r.role_name, r.account_id, model.iam_role(r))
        for r in snapshot.table("iam_roles")
        if not r.path.startswith(("/aws-service-role/", "/aws-reserved/"))  # AWS's; reserved: as permission sets
    ]
    sets = {p.arn: p for p in snapshot.table("permission_sets")}
    pairs = sorted({(a.permission_set_arn, a.account_id) for a in snapshot.table("account_assignments")})
    principals += [
        ("Permission set", sets[arn].name, account, model.permission_set(sets[arn], account))
        for arn, account in pairs
        if arn in sets
    ]
    for kind, name, account_id, effective in sorted(principals, key=lambda p: (p[0], p[1].lower(), p[2])):
        found = model.sensitive(effective)
        notable = found[CREDENTIAL_EXPOSURE][:2] + found[EXFILTRATION][:2] + found[RESOURCE_EXPOSURE][:2]
        note = f"policies not read: {len(effective.unknown)}" if effective.unknown else ""
        rows.append(
            (
                kind,
                name,
                account_id,
                account_names.get(account_id, ""),
                "yes" if effective.is_admin else "no",
                *(len(found[c]) for c in CATEGORIES),
                ", ".join([*notable, note] if note else notable),
            )
        )
    columns = ("Kind", "Name", "Account id", "Account name", "Administrator")
    columns += tuple(LABELS[c].capitalize() for c in CATEGORIES) + ("Examples",)
    return _table(columns, rows, lambda row: row)


def _by_user_via(paths: list[AccessPath]) -> list[AccessPath]:
    """Distinct (user, via, account, permission set) rows, ordered as the page lists them.

    ``paths`` come grouped by user (``AccessModel.all_paths``), so each user's few rows are
    ordered apart: a million rows sorted at once cost twice as long.
    """
    ordered: list[AccessPath] = []
    for _, mine in groupby(paths, key=attrgetter("user_id")):
        rows = {
            ("direct" if p.direct else f"group {p.group_name}", p.account_id, p.permission_set_arn): p for p in mine
        }
        ordered.extend(rows[key] for key in sorted(rows))
    return ordered


def exceptions_in_force(findings: list[Finding], account_names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Suppressed findings and the accepted-risk exception behind each (owner, justification, expiry)."""
    rows = []
    for finding in findings:
        exception = finding.evidence.get("exception")
        if finding.status != "suppressed" or not isinstance(exception, dict):
            continue
        rows.append(
            {
                "severity": finding.severity,
                "rule_id": finding.rule_id,
                "principal": finding.principal.name or finding.principal.id,
                "account": finding.account_id or "",
                "account_name": account_names.get(finding.account_id or "", ""),
                "title": finding.title,
                "owner": str(exception.get("owner", "")),
                "justification": str(exception.get("justification", "")),
                "expires": str(exception.get("expires", "")),
                "matches": f"{exception.get('rule', '')} / {exception.get('principal', '')}",
            }
        )
    rows.sort(key=lambda r: (r["expires"], r["rule_id"], r["principal"]))
    return rows
