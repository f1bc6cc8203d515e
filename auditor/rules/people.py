"""What the rules about Identity Center people may claim, and what is missing when they may not.

A rule about a person decides from the HR match, the person's access and their sign-ins.
A match, a membership or a sign-in that was read is a fact; an absence ("no HR row", "in no
group", "no sign-in for 90 days") is a claim over a whole table, so it holds only when that
table was read completely. These helpers give each rule the same answer: the fact, or the
outcome (insufficient evidence naming what is missing, or cleared) for the candidate.
"""

from __future__ import annotations

from auditor.hr_history import is_cut_short
from auditor.model import Finding, HrPerson, IdcUser
from auditor.rules.context import RuleContext
from auditor.rules.findings import cleared, insufficient_evidence
from auditor.rules.registry import Rule
from auditor.rules.verdicts import Verdict

SOURCE_NAMES = {"identity_center": "Identity Center", "hr": "the HR feed"}
TABLE_NAMES = {
    "idc_memberships": "group memberships",
    "account_assignments": "account assignments",
    "idc_groups": "groups",
    "hr_people": "HR rows",
}


def undecided(ctx: RuleContext, meta: Rule, user: IdcUser, missing: str, evidence: dict | None = None) -> Finding:
    """The rule's insufficient-evidence finding for ``user``, with the id its real finding would have."""
    return insufficient_evidence(
        meta,
        principal=ctx.idc_principal(user),
        account_id=None,
        resource=None,
        title=f"{meta.title} ({user.user_name})",
        missing=missing,
        evidence=evidence,
    )


def sources_missing(ctx: RuleContext, *sources: str) -> str | None:
    """What keeps a rule from deciding at all: an organisation-wide source it needs that could not be read.

    Identity Center users a rule examines were listed, so a rule over them
    needs only the tables it makes absence claims over (``listing_missing``);
    the HR feed is one table, and without it nothing HR says is known.
    """
    for source in sources:
        if not ctx.usable(source):
            status = ctx.snapshot.status_of(source)
            why = (status.error if status else None) or "not collected"
            return f"{SOURCE_NAMES[source]} could not be read ({why})"
    return None


def listing_missing(ctx: RuleContext, *tables: str, source: str = "identity_center") -> str | None:
    """None when ``source`` listed every one of ``tables`` completely; else which were not, and why."""
    incomplete = [TABLE_NAMES.get(t, t) for t in tables if not ctx.table_complete(source, t)]
    if not incomplete:
        return None
    status = ctx.snapshot.status_of(source)
    why = (status.error if status else None) or "not collected"
    return f"{SOURCE_NAMES.get(source, source)} did not list {' and '.join(incomplete)} completely ({why})"


def hr_absence_missing(ctx: RuleContext, user: IdcUser) -> str | None:
    """None when "no HR row names this user" is a fact; else what keeps it from being one.

    A feed read except for some unusable rows still proves an absence for
    everyone those rows do not name (each unusable row records the user
    name and email it carried); a row that names nobody could be anyone.
    """
    row = ctx.unusable_hr_row(user)
    if row is not None:
        return f"HR row at line {row['line']} could not be read"
    if ctx.table_complete("hr", "hr_people"):
        return None
    status = ctx.snapshot.status_of("hr")
    rows = status.detail.get("unusable_rows", []) if status is not None and status.status != "failed" else []
    # unusable rows name whom they hide; a feed cut short hides anyone
    if rows and not is_cut_short(status) and all(r.get("user_name") or r.get("email") for r in rows):
        return None
    return listing_missing(ctx, "hr_people", source="hr")


def match_person(ctx: RuleContext, meta: Rule, user: IdcUser) -> tuple[HrPerson | None, Finding | Verdict | None]:
    """The user's HR row, or the rule's outcome when there is none to decide from.

    With the HR feed unreadable, or no row where its rows were read partly,
    the rule cannot decide; with no row in a complete feed, a rule about
    what HR says does not apply (idc-user-not-in-hr reports it).
    """
    missing = sources_missing(ctx, "hr")
    if missing:
        return None, undecided(ctx, meta, user, missing)
    person = ctx.hr_person(user)
    if person is not None:
        return person, None
    missing = hr_absence_missing(ctx, user)
    if missing:
        return None, undecided(ctx, meta, user, f"no HR row found for the user, and {missing}")
    return None, cleared(meta, ctx.idc_principal(user), "no HR row names the user (idc-user-not-in-hr reports it)")


def without_access(ctx: RuleContext, meta: Rule, user: IdcUser) -> Finding | Verdict | None:
    """None when the user has access (enabled, in a group or assigned); else the rule's outcome.

    "No access left" claims no membership and no assignment, so it needs both listings complete.
    """
    if ctx.has_access(user):
        return None
    missing = listing_missing(ctx, "idc_memberships", "account_assignments")
    if missing:
        return undecided(ctx, meta, user, f"the user is disabled, and {missing}")
    return cleared(meta, ctx.idc_principal(user), "no access left: disabled, in no group, assigned to no account")


def memberships_missing(ctx: RuleContext, user: IdcUser) -> str | None:
    """None when the user's groups, with their names, are all known; else what is missing."""
    missing = listing_missing(ctx, "idc_memberships")
    if missing:
        return missing
    unnamed = [g for g in ctx.group_ids(user) if g not in ctx.groups]
    if unnamed:
        return f"group(s) {', '.join(unnamed)} are not in the snapshot (their names are unknown)"
    return None


def activity_missing(ctx: RuleContext, days: int) -> str | None:
    """None when CloudTrail observed every Identity Center sign-in of the last ``days`` days.

    Sign-ins are recorded in the Identity Center home account; a window that
    is covered but read partly (unreadable log objects) may miss the very
    sign-in that decides, so it is not enough to claim there was none.
    """
    home = ctx.idc_home_account
    missing = ctx.missing_window(home, days, "idc_user")
    if missing is None and not ctx.table_complete("cloudtrail", "activity", home):
        status = ctx.snapshot.status_of("cloudtrail", home)
        missing = f"CloudTrail for account {home} was read partly ({(status.error if status else None) or 'unknown'})"
    return missing
