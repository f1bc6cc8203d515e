"""The report's per-person view: everything one person can reach, their findings, HR facts and last activity.

A reviewer thinks in people, not in principals. A person is an HR row
joined to the Identity Center user it matches (by user name, then email)
and to the IAM users that name it (owner tag, email tag, user name); an
Identity Center user that no HR row matches is a person of its own ("not in
HR", or why it is exempt). Findings attach to a person through their
principal: the Identity Center user, an IAM user, or an IAM user's key.

The view travels to the page in one compact document: accounts, permission
sets and groups are listed once and referred to by position, so 100,000
people with a million access paths stay a size a browser opens.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.access import AccessModel
from auditor.model import SEVERITY_ORDER, Finding, HrPerson, IamUser, IdcUser
from auditor.report.common import LIVE_STATUSES, RISK_WEIGHTS, format_time

SEVERITIES = [s.value for s in reversed(SEVERITY_ORDER)]  # worst first
PERSON_COLUMNS = (
    "anchor",  # the id of the person's section: report.html#person-...
    "name",
    "user_name",
    "email",
    "employee_id",
    "department",
    "title",
    "manager",  # the manager's name when the HR feed has them, else their email
    "manager_anchor",
    "hr_status",
    "employment_type",
    "start",
    "end",
    "previous_department",
    "idc_status",
    "last_activity",
    "groups",  # [group index]
    "access",  # [[account index, permission set index, group index or -1 (direct), last used], ...]
    "iam",  # [[account index, user name, console, MFA, active keys, last used], ...]
    "findings",  # [finding row index], worst first
    "open",  # live findings per severity, worst first
)


@dataclass
class _Person:
    hr: HrPerson | None = None
    idc: IdcUser | None = None
    iam: list[IamUser] = field(default_factory=list)
    findings: list[int] = field(default_factory=list)


class _Interned:
    """Values listed once, referred to by position."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._index: dict[Any, int] = {}

    def __call__(self, value: Any) -> int:
        if value not in self._index:
            self._index[value] = len(self.values)
            self.values.append(value)
        return self._index[value]


def anchor_for(text: str, taken: set[str]) -> str:
    """A readable, unique element id: person-<user name>, with a number when two people share one."""
    base = "person-" + (re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-") or "x")
    anchor, n = base, 2
    while anchor in taken:
        anchor, n = f"{base}-{n}", n + 1
    taken.add(anchor)
    return anchor


def _people(access: AccessModel) -> list[_Person]:
    snapshot = access.snapshot
    by_line: dict[int, _Person] = {p.line: _Person(hr=p) for p in snapshot.table("hr_people")}
    people = list(by_line.values())
    for user in snapshot.table("idc_users"):
        hr = access.hr_person(user)
        if hr is not None and by_line[hr.line].idc is None:
            by_line[hr.line].idc = user
        else:
            people.append(_Person(idc=user))
    for user in snapshot.table("iam_users"):
        hr = access.iam_user_person(user)
        if hr is not None:
            by_line[hr.line].iam.append(user)
    return people


def _display(person: _Person) -> tuple[str, str]:
    """(name, user name) as the page shows them."""
    hr, idc = person.hr, person.idc
    user_name = (idc.user_name if idc else None) or (hr.user_name if hr else "") or ""
    name = (hr.display_name if hr else None) or (idc.display_name if idc else None) or user_name
    return name or "(unnamed)", user_name


def _finding_owners(people: list[_Person]) -> dict[tuple[str, str], int]:
    """(principal type, key) -> person position, for every principal that is one person's."""
    owners: dict[tuple[str, str], int] = {}
    for position, person in enumerate(people):
        if person.idc is not None:
            owners[("idc_user", person.idc.user_id)] = position
        for user in person.iam:
            owners[("iam_user", f"{user.account_id}/{user.user_id}")] = position
            owners[("iam_user", f"{user.account_id}/{user.user_name}")] = position
            owners[("access_key", f"{user.account_id}/{user.user_name}")] = position
    return owners


def _owner(finding: Finding, owners: Mapping[tuple[str, str], int]) -> int | None:
    principal = finding.principal
    if principal.type == "idc_user":
        return owners.get(("idc_user", principal.id))
    if principal.type in ("iam_user", "access_key"):
        for key in (principal.id, principal.name):
            if key and (found := owners.get((principal.type, f"{finding.account_id}/{key}"))) is not None:
                return found
    return None


def people_view(
    access: AccessModel,
    ordered: list[Finding],
    exempt: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Every person, A to Z, with their reach, findings (positions in ``ordered``) and HR facts.

    ``exempt``: Identity Center user id -> why the HR check does not apply to it.
    """
    exempt = exempt or {}
    people = _people(access)
    owners = _finding_owners(people)
    for position, finding in enumerate(ordered):
        owner = _owner(finding, owners)
        if owner is not None:
            people[owner].findings.append(position)
    has_hr = bool(access.snapshot.table("hr_people"))
    shown = sorted(((_display(p), p) for p in people), key=lambda item: (item[0][0].lower(), item[0][1].lower()))

    taken: set[str] = set()
    anchors = [anchor_for(user_name or name, taken) for (name, user_name), _ in shown]
    by_email = {
        p.hr.email.lower(): (n, a) for ((n, _), p), a in zip(shown, anchors, strict=True) if p.hr and p.hr.email
    }
    accounts, sets, groups = _Interned(), _Interned(), _Interned()
    account_index: dict[str, int] = {}
    set_index: dict[str, tuple[int, str]] = {}

    def account_of(account_id: str) -> int:
        if account_id not in account_index:
            account_index[account_id] = accounts((account_id, access.account_name(account_id)))
        return account_index[account_id]

    def set_of(arn: str) -> tuple[int, str]:
        if arn not in set_index:
            name = access.permission_set_name(arn)
            set_index[arn] = (sets(name), name)
        return set_index[arn]

    rows = []
    for ((name, user_name), person), anchor in zip(shown, anchors, strict=True):
        hr, idc = person.hr, person.idc
        manager = by_email.get((hr.manager_email or "").lower()) if hr else None
        if hr is not None:
            hr_status = hr.status
        elif idc is not None and idc.user_id in exempt:
            hr_status = f"exempt: {exempt[idc.user_id]}"
        else:
            hr_status = "not in HR" if has_hr else ""
        seen = access.idc_last_activity(idc) if idc else None  # never seen: no assignment was used either
        reach: set[tuple[int, int, int, str]] = set()
        used: dict[tuple[str, str], str] = {}  # last use per (account, permission set), whatever the path
        for path in access.paths_of(idc.user_id) if idc else ():
            set_position, set_name = set_of(path.permission_set_arn)
            key = (path.account_id, set_name)
            if key not in used:
                used[key] = format_time(seen and access.assignment_last_used(idc, path.account_id, set_name))
            via = groups(path.group_name) if path.group_id else -1
            reach.add((account_of(path.account_id), set_position, via, used[key]))
        iam = [
            [
                account_of(u.account_id),
                u.user_name,
                "yes" if u.password_enabled else "no",
                "yes" if u.mfa_active else "no",
                sum(1 for k in access.keys_of(u) if k.status == "Active"),
                format_time(access.iam_user_last_used(u)),
            ]
            for u in sorted(person.iam, key=lambda u: (u.account_id, u.user_name))
        ]
        last = [seen]
        last += [access.iam_user_last_used(u) for u in person.iam]
        live = Counter(ordered[i].severity for i in person.findings if ordered[i].status in LIVE_STATUSES)
        rows.append(
            [
                anchor,
                name,
                user_name,
                (hr.email if hr else None) or (idc.email if idc else None) or "",
                hr.employee_id if hr else "",
                hr.department if hr else "",
                (hr.title if hr else None) or (idc.title if idc else None) or "",
                (manager[0] if manager else hr.manager_email) if hr else "",
                manager[1] if manager else "",
                hr_status,
                hr.employment_type if hr else "",
                hr.start_date.isoformat() if hr and hr.start_date else "",
                hr.end_date.isoformat() if hr and hr.end_date else "",
                (hr.previous_department or "") if hr else "",
                (idc.status or "") if idc else "",
                format_time(max((t for t in last if t is not None), default=None)),
                sorted({groups(access.group_name(g)) for g in access.group_ids(idc.user_id)}) if idc else [],
                [list(r) for r in sorted(reach)],
                iam,
                person.findings,
                [live[s] for s in SEVERITIES],
            ]
        )
    return {
        "columns": list(PERSON_COLUMNS),
        "accounts": [list(a) for a in accounts.values],
        "sets": sets.values,
        "groups": groups.values,
        "rows": rows,
    }


def risk(row: list[Any]) -> int:
    """A person's open risk: live findings weighted by severity (RISK_WEIGHTS)."""
    return sum(RISK_WEIGHTS[s] * n for s, n in zip(SEVERITIES, row[PERSON_COLUMNS.index("open")], strict=True))


def static_people(
    view: dict[str, Any], ordered: list[Finding], account_names: Mapping[str, str], limit: int
) -> dict[str, Any]:
    """The people the page lists without JavaScript: everyone up to ``limit``, else the riskiest, A to Z.

    Each comes as a dict of named fields with their access, IAM users and
    findings spelled out, grouped under the first letter of their name.
    """
    columns = {name: i for i, name in enumerate(view["columns"])}
    rows = view["rows"]
    chosen = rows
    if len(rows) > limit:
        ranked = sorted(range(len(rows)), key=lambda i: (-risk(rows[i]), -len(rows[i][columns["findings"]]), i))
        chosen = [rows[i] for i in sorted(ranked[:limit])]
    letters: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in chosen:
        person = {name: row[i] for name, i in columns.items()}
        person["access"] = [
            {
                "account": view["accounts"][a][0],
                "account_name": view["accounts"][a][1],
                "permission_set": view["sets"][s],
                "via": "direct" if g < 0 else f"group {view['groups'][g]}",
                "last_used": used,
            }
            for a, s, g, used in person["access"]
        ]
        person["iam"] = [
            dict(zip(("account", "user_name", "console", "mfa", "keys", "last_used"), r, strict=True))
            | {"account_name": view["accounts"][r[0]][1], "account": view["accounts"][r[0]][0]}
            for r in person["iam"]
        ]
        person["groups"] = [view["groups"][g] for g in person["groups"]]
        person["findings"] = [
            {
                "id": ordered[i].finding_id,
                "severity": ordered[i].severity,
                "status": ordered[i].status,
                "title": ordered[i].title,
                "account": ordered[i].account_id or "",
                "account_name": account_names.get(ordered[i].account_id or "", ""),
            }
            for i in person["findings"]
        ]
        letter = person["name"][:1].upper()
        letters[letter if letter.isalpha() else "#"].append(person)
    return {"letters": sorted(letters.items()), "shown": len(chosen), "total": len(rows)}
