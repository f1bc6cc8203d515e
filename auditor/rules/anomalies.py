"""Unusual lifecycle activity: access changes and sign-ins that the lifecycle process would not produce.

Read from the Identity Center management events CloudTrail recorded
(``lifecycle_events``) and the reduced sign-in activity, over the last
``anomaly_days``: a grant made by a person rather than the provisioning
automation, administrator access granted and taken away again within hours
(access that leaves no trace in a nightly snapshot), a day of grants far
above the estate's own baseline, a grant to someone HR shows as terminated
or on leave, and a sign-in by someone HR has terminated. Each finding names
the events behind it; failed calls changed nothing and are ignored.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from fnmatch import fnmatchcase

from auditor.collect.cloudtrail_lifecycle import GRANTS
from auditor.model import Category, HrPerson, LifecycleEvent, Principal, Severity
from auditor.rules.context import RuleContext, iso
from auditor.rules.findings import cleared, insufficient_evidence, make_finding
from auditor.rules.people import activity_missing, sources_missing
from auditor.rules.registry import Rule, rule
from auditor.rules.verdicts import SUBJECTS, decided_ids, is_decided

SOURCES = ("cloudtrail", "identity_center", "hr")
CONTROLS = ("SOC2-CC7.2", "SOC2-CC6.2", "ISO27001-A.5.18", "NIST-800-53-AC-2")
PERSON_TYPES = ("IAMUser", "Root", "IdentityCenterUser", "Unknown")
SSO_SESSION = "AWSReservedSSO_"
USERS, ROLES = ("idc_user",), ("iam_role",)
NEEDS = ("cloudtrail.activity", "cloudtrail.lifecycle_events", "identity_center.idc_users", "hr.hr_people")


def _missing(ctx: RuleContext, days: int) -> str | None:
    """What keeps the rule from saying nothing unusual happened: the trail's window or the HR feed unread."""
    missing = activity_missing(ctx, days) or sources_missing(ctx, "hr")
    home = ctx.idc_home_account
    if missing is None and not ctx.table_complete("cloudtrail", "lifecycle_events", home):
        missing = f"CloudTrail's Identity Center access changes (account {home}) were not read by this engine or run"
    return missing


def _with_verdicts(ctx: RuleContext, meta: Rule, subject: str, found: list, reason: str) -> Iterator:
    """The findings, then every other candidate: cleared, or undecided when the evidence was not all read."""
    yield from found
    missing = _missing(ctx, ctx.settings["anomaly_days"])
    decided = decided_ids(found)
    for principal in SUBJECTS[subject](ctx.snapshot):
        if is_decided(principal, decided):
            continue
        if missing:
            yield insufficient_evidence(
                meta,
                principal=principal,
                account_id=None,
                resource=None,
                title=f"{meta.title}: {principal.name or principal.id}",
                missing=missing,
            )
        else:
            yield cleared(meta, principal, reason)


def _recent(ctx: RuleContext, days: int) -> list[LifecycleEvent]:
    since = ctx.as_of - timedelta(days=days)
    return [
        e for e in ctx.snapshot.table("lifecycle_events") if e.error_code is None and since <= e.event_time <= ctx.as_of
    ]


def by_a_person(event: LifecycleEvent, automation: list[str]) -> bool:
    """A call made by a person: through Identity Center, as an IAM user or root, and not a listed automation."""
    names = [n for n in (event.actor_arn, event.actor_name) if n]
    if any(fnmatchcase(name, pattern) for name in names for pattern in automation):
        return False
    if event.actor_type in PERSON_TYPES:
        return True
    return event.actor_type == "AssumedRole" and SSO_SESSION in (event.actor_arn or "")


def _grantee(ctx: RuleContext, event: LifecycleEvent) -> Principal:
    """Whom a grant gave access to: the user or group, as the snapshot names them."""
    user_id = event.user_id or (event.principal_id if event.principal_type == "USER" else None)
    if user_id:
        user = ctx.access.idc_users.get(user_id)
        return Principal(type="idc_user", id=user_id, name=user.user_name if user else None)
    group_id = event.group_id or event.principal_id or ""
    group = ctx.groups.get(group_id)
    return Principal(type="idc_group", id=group_id, name=group.display_name if group else None)


def _what(ctx: RuleContext, event: LifecycleEvent) -> str:
    if event.permission_set_arn:
        return f"{ctx.permission_set_name(event.permission_set_arn)} in {event.target_account_id}"
    group = ctx.groups.get(event.group_id or "")
    return f"group {group.display_name if group else event.group_id}"


def _event_evidence(ctx: RuleContext, event: LifecycleEvent) -> dict:
    return {
        "event": event.event_name,
        "event_time": iso(event.event_time),
        "actor_type": event.actor_type,
        "actor": event.actor_arn,
        "actor_name": event.actor_name,
        "granted": _what(ctx, event),
    }


@rule(
    id="anomaly-grant-by-person",
    subjects=USERS,
    sources=SOURCES,
    needs=NEEDS,
    trail=("idc_user",),  # the home account's logs: sign-ins and Identity Center's own management events
    category=Category.LIFECYCLE_ANOMALY,
    severity=Severity.MEDIUM,
    title="Access granted by a person rather than the provisioning automation",
    description=(
        "An account assignment or group membership was created by someone signed in through Identity Center, "
        "an IAM user or root, not by a principal listed in provisioning_principals: access outside the process."
    ),
    controls=CONTROLS,
    thresholds=("provisioning_principals", "anomaly_days"),
    recommendation="Confirm the grant with its approver; make it through the provisioning automation or remove it.",
)
def grant_by_person(ctx: RuleContext, meta: Rule) -> Iterator:
    return _with_verdicts(
        ctx, meta, USERS[0], list(_grant_by_person(ctx, meta)), "no grant by a person in the window read"
    )


def _grant_by_person(ctx: RuleContext, meta: Rule) -> Iterator:
    automation = list(ctx.settings["provisioning_principals"])
    for event in _recent(ctx, ctx.settings["anomaly_days"]):
        if event.event_name not in GRANTS or not by_a_person(event, automation):
            continue
        principal = _grantee(ctx, event)
        yield make_finding(
            meta,
            principal=principal,
            account_id=event.target_account_id,
            resource=event.permission_set_arn or event.group_id,
            title=f"{principal.name or principal.id} was granted {_what(ctx, event)} by "
            f"{event.actor_name or event.actor_arn}, not by the provisioning automation",
            evidence=_event_evidence(ctx, event),
        )


def _assignment_key(event: LifecycleEvent) -> tuple:
    return (event.target_account_id, event.permission_set_arn, event.principal_type, event.principal_id)


@rule(
    id="anomaly-admin-granted-and-removed",
    subjects=USERS,
    sources=SOURCES,
    needs=NEEDS,
    trail=("idc_user",),  # the home account's logs: sign-ins and Identity Center's own management events
    category=Category.LIFECYCLE_ANOMALY,
    severity=Severity.HIGH,
    title="Administrator access granted and removed within a day",
    description=(
        "An assignment of an administrator permission set was created and deleted again within admin_grant_hours: "
        "privileged access that no nightly snapshot shows, the shape of a cover-up or of an untracked emergency."
    ),
    controls=(*CONTROLS, "NIST-800-53-AC-6(9)", "ISO27001-A.8.2"),
    thresholds=("admin_grant_hours", "anomaly_days"),
    recommendation="Find out who used the access and why; route emergencies through the break-glass process.",
)
def admin_granted_and_removed(ctx: RuleContext, meta: Rule) -> Iterator:
    return _with_verdicts(
        ctx,
        meta,
        USERS[0],
        list(_admin_granted_and_removed(ctx, meta)),
        "no administrator access granted and removed within the window",
    )


def _admin_granted_and_removed(ctx: RuleContext, meta: Rule) -> Iterator:
    window = timedelta(hours=ctx.settings["admin_grant_hours"])
    created: dict[tuple, LifecycleEvent] = {}
    for event in sorted(_recent(ctx, ctx.settings["anomaly_days"]), key=lambda e: e.event_time):
        if not event.permission_set_arn or not ctx.is_admin(event.permission_set_arn):
            continue
        key = _assignment_key(event)
        if event.event_name == "CreateAccountAssignment":
            created[key] = event
        elif event.event_name == "DeleteAccountAssignment" and key in created:
            grant = created.pop(key)
            held = event.event_time - grant.event_time
            if held > window:
                continue
            principal = _grantee(ctx, grant)
            yield make_finding(
                meta,
                principal=principal,
                account_id=grant.target_account_id,
                resource=grant.permission_set_arn,
                title=f"{principal.name or principal.id} held {_what(ctx, grant)} for "
                f"{held.total_seconds() / 3600:.1f} hours",
                evidence={
                    **_event_evidence(ctx, grant),
                    "removed_at": iso(event.event_time),
                    "removed_by": event.actor_arn,
                    "hours_held": round(held.total_seconds() / 3600, 1),
                },
            )


def _day(moment: datetime) -> str:
    return moment.date().isoformat()


@rule(
    id="anomaly-grant-burst",
    subjects=ROLES,
    sources=SOURCES,
    needs=NEEDS,
    trail=("idc_user",),  # the home account's logs: sign-ins and Identity Center's own management events
    category=Category.LIFECYCLE_ANOMALY,
    severity=Severity.MEDIUM,
    title="A burst of grants far above the estate's baseline",
    description=(
        "One caller made at least grant_burst_min grants in a day, and at least grant_burst_factor times the "
        "estate's mean daily grants over the CloudTrail window read: a mass change that bypassed review, or a "
        "compromised provisioning principal."
    ),
    controls=CONTROLS,
    thresholds=("grant_burst_factor", "grant_burst_min", "anomaly_days"),
    recommendation="Check the day's grants against approved requests; revoke what nobody approved.",
)
def grant_burst(ctx: RuleContext, meta: Rule) -> Iterator:
    return _with_verdicts(
        ctx, meta, ROLES[0], list(_grant_burst(ctx, meta)), "no day of grants above the baseline by this role"
    )


def _grant_burst(ctx: RuleContext, meta: Rule) -> Iterator:
    grants = [e for e in ctx.snapshot.table("lifecycle_events") if e.event_name in GRANTS and e.error_code is None]
    if not grants:
        return
    per_day = Counter(_day(e.event_time) for e in grants)
    first = min(e.event_time for e in grants)
    observed_days = max(1, (ctx.as_of - first).days + 1)
    since = _day(ctx.as_of - timedelta(days=ctx.settings["anomaly_days"]))
    by_caller: dict[tuple[str, str], list[LifecycleEvent]] = defaultdict(list)
    for event in grants:
        by_caller[(_day(event.event_time), event.actor_arn or event.actor_name or "unknown")].append(event)
    for (day, _caller), events in sorted(by_caller.items()):
        if day < since:
            continue
        others = (len(grants) - per_day[day]) / max(1, observed_days - 1)  # the mean of every other day
        threshold = max(ctx.settings["grant_burst_min"], ctx.settings["grant_burst_factor"] * others)
        if len(events) < threshold:
            continue
        actor = events[0]
        principal = _actor_principal(ctx, actor)
        yield make_finding(
            meta,
            principal=principal,
            account_id=actor.account_id,
            resource=day,
            title=f"{principal.name} made {len(events)} grants on {day} (baseline {others:.1f} a day)",
            evidence={
                "day": day,
                "grants": len(events),
                "baseline_per_day": round(others, 2),
                "threshold": round(threshold, 1),
                "actor": actor.actor_arn,
                "first": iso(min(e.event_time for e in events)),
                "last": iso(max(e.event_time for e in events)),
            },
        )


def _actor_principal(ctx: RuleContext, event: LifecycleEvent) -> Principal:
    arn = event.actor_arn or ""
    role = next((r for r in ctx.snapshot.table("iam_roles") if r.arn == arn), None)
    if role is not None:
        return Principal(type="iam_role", id=role.role_id, name=role.role_name, arn=role.arn)
    if ":role/" in arn:
        return Principal(type="iam_role", id=arn, name=arn.rsplit("/", 1)[-1], arn=arn)
    if ":user/" in arn:
        return Principal(type="iam_user", id=arn, name=arn.rsplit("/", 1)[-1], arn=arn)
    if arn.endswith(":root"):
        return Principal(type="root", id=arn, name="root", arn=arn)
    return Principal(type="idc_user", id=event.actor_name or "unknown", name=event.actor_name)


def _hr_of_user(ctx: RuleContext, user_id: str | None) -> HrPerson | None:
    user = ctx.access.idc_users.get(user_id or "")
    return ctx.hr_person(user) if user else None


@rule(
    id="anomaly-grant-to-leaver-or-on-leave",
    subjects=USERS,
    sources=SOURCES,
    needs=NEEDS,
    trail=("idc_user",),  # the home account's logs: sign-ins and Identity Center's own management events
    category=Category.LIFECYCLE_ANOMALY,
    severity=Severity.HIGH,
    title="Access granted to someone HR shows as terminated or on leave",
    description=(
        "A group membership or account assignment was granted to a user whose HR status is terminated (after "
        "their end date) or on leave: nobody in the process should be asking for it."
    ),
    controls=(*CONTROLS, "NIST-800-53-AC-2(3)"),
    thresholds=("anomaly_days",),
    recommendation="Remove the grant and find out who requested it.",
)
def grant_to_absent(ctx: RuleContext, meta: Rule) -> Iterator:
    return _with_verdicts(
        ctx, meta, USERS[0], list(_grant_to_absent(ctx, meta)), "no grant while HR showed them terminated or on leave"
    )


def _grant_to_absent(ctx: RuleContext, meta: Rule) -> Iterator:
    for event in _recent(ctx, ctx.settings["anomaly_days"]):
        if event.event_name not in GRANTS or not event.user_id:
            continue
        person = _hr_of_user(ctx, event.user_id)
        if person is None or person.status not in ("terminated", "leave"):
            continue
        if person.status == "terminated" and person.end_date and event.event_time.date() < person.end_date:
            continue  # granted while still employed
        principal = _grantee(ctx, event)
        yield make_finding(
            meta,
            principal=principal,
            account_id=event.target_account_id,
            resource=event.permission_set_arn or event.group_id,
            title=f"{principal.name or principal.id} ({person.status} in HR) was granted {_what(ctx, event)}",
            evidence={
                **_event_evidence(ctx, event),
                "hr_status": person.status,
                "end_date": iso(person.end_date),
            },
        )


@rule(
    id="anomaly-sign-in-after-termination",
    subjects=USERS,
    sources=SOURCES,
    needs=NEEDS,
    trail=("idc_user",),  # the home account's logs: sign-ins and Identity Center's own management events
    category=Category.LIFECYCLE_ANOMALY,
    severity=Severity.CRITICAL,
    title="Sign-in by someone HR has terminated",
    description=(
        "An Identity Center user whose HR status is terminated signed in after their end date: the account is "
        "used by a leaver or by someone else."
    ),
    controls=(*CONTROLS, "NIST-800-53-AC-2(3)"),
    thresholds=("anomaly_days",),
    recommendation="Disable the user now, revoke their sessions, and review what the sign-ins did.",
)
def sign_in_after_termination(ctx: RuleContext, meta: Rule) -> Iterator:
    return _with_verdicts(
        ctx, meta, USERS[0], list(_sign_in_after_termination(ctx, meta)), "no sign-in after an HR end date"
    )


def _sign_in_after_termination(ctx: RuleContext, meta: Rule) -> Iterator:
    since = ctx.as_of - timedelta(days=ctx.settings["anomaly_days"])
    for user in ctx.snapshot.table("idc_users"):
        person = ctx.hr_person(user)
        if person is None or person.status != "terminated" or person.end_date is None:
            continue
        last = ctx.idc_last_activity(user)
        if last is None or last < since or last.date() <= person.end_date:
            continue
        yield make_finding(
            meta,
            principal=ctx.idc_principal(user),
            account_id=None,
            resource=None,
            title=f"{user.user_name} signed in on {last.date().isoformat()}, after their end date "
            f"{person.end_date.isoformat()}",
            evidence={"hr_status": person.status, "end_date": iso(person.end_date), "last_sign_in": iso(last)},
        )
