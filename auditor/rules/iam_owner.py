"""Who answers for an IAM user: an active person in HR, or a team.

An IAM user has no email of its own; its ``owner`` tag, ``email`` tag and
user name are matched to HR (auditor.access), and an owner tag may name a
team instead. "Nobody answers for it" is an absence claim: it needs every
HR row that could name the user and, for an owner tag, every team.
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.access import tag
from auditor.model import Category, Finding, IamUser, Severity
from auditor.rules.context import RuleContext, iam_user_principal
from auditor.rules.findings import cleared, insufficient_evidence, make_finding
from auditor.rules.iam_evidence import source_unread
from auditor.rules.registry import Rule, rule
from auditor.rules.verdicts import Verdict

Outcome = Finding | Verdict


def _hr_unread(ctx: RuleContext) -> str | None:
    """What keeps the HR feed from answering at all (None: it was read, fully or partly)."""
    status = ctx.snapshot.status_of("hr")
    if status is None:
        return "the HR feed was not read"
    if not ctx.usable("hr"):
        return f"the HR feed could not be read ({status.error or 'no error recorded'})"
    return None


def _nobody_unproven(ctx: RuleContext, user: IamUser, owner: str | None) -> str | None:
    """What keeps "nobody in HR or among the teams answers for ``user``" unproven (None: proven).

    An absence in HR needs every row that could name the user; an owner tag
    that names no team needs every account's owner tag and every group.
    """
    wanted = {v.lower() for v in (owner, tag(user.tags, "email"), user.user_name) if v}
    status = ctx.snapshot.status_of("hr")
    gaps = []
    for row in status.detail.get("unusable_rows", []) if status else []:
        keys = {(row.get("user_name") or "").lower(), (row.get("email") or "").lower()} - {""}
        if not keys or keys & wanted:
            named = f" naming {', '.join(sorted(keys))}" if keys else ""
            gaps.append(f"HR line {row.get('line')}{named} could not be read")
    if status is not None and status.tables and not ctx.table_complete("hr", "hr_people"):
        gaps.append("the HR feed was not read completely")
    if owner:
        if not ctx.table_complete("identity_center", "idc_groups"):
            gaps.append(f"the Identity Center groups were not listed completely, so {owner!r} may name a team")
        if not ctx.table_complete("organizations", "accounts"):
            gaps.append(f"the accounts were not listed completely, so {owner!r} may be an account owner")
        untagged = sorted(a for a in ctx.accounts if ctx.attribute_missing("account.tags", a))
        if untagged:
            gaps.append(f"the tags of account(s) {', '.join(untagged)} could not be read, so {owner!r} may own one")
    return "; ".join(gaps) or None


@rule(
    id="iam-user-without-owner",
    sources=("iam", "hr"),
    category=Category.ORPHANED,
    severity=Severity.MEDIUM,
    title="IAM user without an active owner",
    description=(
        "An IAM user whose `owner` tag, `email` tag and user name match nobody active in HR, and whose `owner` "
        "tag names no team (an account's `owner` tag, an Identity Center group's name, or an entry of [rules] "
        "owner_teams). High when the person named is a leaver."
    ),
    controls=("SOC2-CC6.2", "ISO27001-A.5.16", "NIST-800-53-AC-2"),
    thresholds=("owner_teams",),
    recommendation="Tag the user with an active owner (owner=email or a team address), or remove it.",
    subjects=("iam_user",),
    needs=("iam.iam_users", "hr.hr_people", "identity_center.idc_groups", "organizations.accounts"),
)
def iam_user_without_owner(ctx: RuleContext, meta: Rule) -> Iterator[Outcome]:
    hr_unread = _hr_unread(ctx)

    def title(user: IamUser) -> str:
        return f"IAM user {user.user_name} has no owner in HR or among the teams"

    for user in ctx.snapshot.table("iam_users"):
        principal = iam_user_principal(user)
        where = {"account_id": user.account_id, "resource": None}
        unread = source_unread(ctx, "iam", user.account_id) or hr_unread
        if unread:
            yield insufficient_evidence(meta, principal=principal, title=title(user), missing=unread, **where)
            continue
        owner = tag(user.tags, "owner")
        matched = ctx.access.iam_user_people(user)
        active = [p for p in matched if p.status != "terminated"]
        if active:
            reason = f"owned by {active[0].email} (HR: {active[0].status})"
            yield cleared(meta, principal, reason, **where)
            continue
        team = None if ctx.access.hr_match(owner, owner) else ctx.owner_team(owner)
        if team is not None:
            yield cleared(meta, principal, f"owner tag {owner} names a team: {team}", **where)
            continue
        owner_left = bool(matched)
        evidence = {
            "owner_tag": owner,
            "matched_people": [p.email for p in matched],
            "owner_status": "terminated" if owner_left else "unknown",
        }
        unproven = None if owner_left else _nobody_unproven(ctx, user, owner)
        if unproven:
            yield insufficient_evidence(
                meta, principal=principal, title=title(user), missing=unproven, evidence=evidence, **where
            )
            continue
        yield make_finding(
            meta,
            principal=principal,
            title=f"IAM user {user.user_name} is owned by a leaver" if owner_left else title(user),
            evidence=evidence,
            severity=Severity.HIGH if owner_left else None,
            **where,
        )
