"""A leaver's offboarding: from the check's findings to a recorded plan, a retention copy, the change, the manager told.

Each step is a function the CLI, the HTTP endpoint and the Step Functions
workflow (``auditor.deploy.offboarding``) call in the same order:

1. ``plan_offboarding``: the revocations the leaver's recorded findings ask
   for (disable the Identity Center user, remove their group memberships and
   direct assignments, deactivate the active keys of the IAM users they own),
   through the remediation planner, protections and circuit breaker; the
   plan is recorded in the store (apply runs only a recorded plan).
2. ``retention_record`` and ``keep_retention``: what is about to be removed,
   kept before anything changes (S3 with a retention period, or a directory).
3. ``apply_offboarding``: apply the recorded plan and verify it (only when
   immediate suspension is configured, or once approved).
4. ``notify_manager``: the manager hears what was done or what awaits approval.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import msgspec

from auditor.campaign.deliver import DEFAULT_SENDER, Message, OutboxDelivery, SesDelivery
from auditor.config import Settings
from auditor.events.check import CheckResult
from auditor.files import atomic_write
from auditor.model import Finding, Revocation, RevocationKind
from auditor.remediate import Clients, apply_plan, record_plan, verify_run
from auditor.remediate.journal import Journal
from auditor.remediate.notices import clean_addresses
from auditor.remediate.plan import Plan, build_plan, save_plan
from auditor.remediate.population import population_from_store
from auditor.rules.context import is_enabled
from auditor.store import Store

LEAVER_RULE = "idc-leaver-with-access"
OWNER_RULE = "iam-user-without-owner"


def revocations(check: CheckResult, event_id: str) -> list[Revocation]:
    """What the leaver's live findings ask to remove, each citing its finding and the event."""
    snapshot = check.snapshot
    live = {(f.rule_id, f.principal.id): f for f in check.live() if not f.evidence.get("insufficient_evidence")}
    found: list[Revocation] = []
    user = check.user
    leaver = live.get((LEAVER_RULE, user.user_id)) if user else None
    if user is not None and leaver is not None:
        status = snapshot.status_of("identity_center")
        store_id = status.detail["identity_store_id"]
        instance = status.detail["instance_arn"]
        reason = _reason(leaver, event_id)
        principal = leaver.principal
        if is_enabled(user):
            target = {"identity_store_id": store_id, "user_id": user.user_id}
            found.append(
                Revocation(kind=RevocationKind.IDC_USER.value, target=target, reason=reason, principal=principal)
            )
        for membership in snapshot.table("idc_memberships"):
            target = {"identity_store_id": store_id, "group_id": membership.group_id, "user_id": user.user_id}
            found.append(
                Revocation(
                    kind=RevocationKind.IDC_GROUP_MEMBERSHIP.value, target=target, reason=reason, principal=principal
                )
            )
        for assignment in snapshot.table("account_assignments"):
            if assignment.principal_type != "USER" or assignment.principal_id != user.user_id:
                continue
            target = {
                "instance_arn": instance,
                "account_id": assignment.account_id,
                "permission_set_arn": assignment.permission_set_arn,
                "principal_type": "USER",
                "principal_id": user.user_id,
            }
            found.append(
                Revocation(
                    kind=RevocationKind.IDC_ACCOUNT_ASSIGNMENT.value,
                    target=target,
                    reason=reason,
                    principal=principal,
                    account_id=assignment.account_id,
                )
            )
    for iam_user in snapshot.table("iam_users"):
        owned = live.get((OWNER_RULE, iam_user.user_id))
        if owned is None or owned.evidence.get("owner_status") != "terminated":
            continue
        for key in snapshot.table("access_keys"):
            if key.account_id != iam_user.account_id or key.user_name != iam_user.user_name or key.status != "Active":
                continue
            target = {"account_id": key.account_id, "user_name": key.user_name, "access_key_id": key.access_key_id}
            found.append(
                Revocation(
                    kind=RevocationKind.IAM_ACCESS_KEY.value,
                    target=target,
                    reason=_reason(owned, event_id),
                    principal=owned.principal,
                    account_id=key.account_id,
                )
            )
    return found


def _reason(finding: Finding, event_id: str) -> dict:
    return {"finding_id": finding.finding_id, "rule_id": finding.rule_id, "event_id": event_id}


def plan_offboarding(
    check: CheckResult,
    event_id: str,
    *,
    store: Store,
    settings: Settings,
    clients: Clients,
    now: datetime,
    actor: str,
    out: Path | None = None,
) -> Plan:
    """The sealed, recorded plan removing the leaver's access (pre-state read from AWS now)."""
    plan = build_plan(
        revocations(check, event_id),
        clients=clients,
        settings=settings,
        now=now,
        population=population_from_store(store),
        source={"event_id": event_id, "findings": sorted({f.rule_id for f in check.live()}), "run_id": check.run_id},
        created_by=actor,
        recent=Journal(store, actor).recent(),
    )
    if plan.actions:
        record_plan(store, plan, actor=actor)
    if out is not None:
        save_plan(plan, out)
    return plan


def retention_record(check: CheckResult, plan: Plan, event_id: str, now: datetime) -> dict:
    """The person's access and what the plan removes, as data: assignments, memberships, tags, owned users, keys."""
    snapshot = check.snapshot
    groups = {g.group_id: g.display_name for g in snapshot.table("idc_groups")}

    def rows(table: str) -> list:
        return msgspec.to_builtins(snapshot.table(table))

    memberships = [{**m, "group_name": groups.get(m["group_id"])} for m in rows("idc_memberships")]
    return {
        "format_version": 1,
        "event_id": event_id,
        "recorded_at": now.isoformat(),
        "person": msgspec.to_builtins(check.person) if check.person else None,
        "idc_user": msgspec.to_builtins(check.user) if check.user else None,
        "memberships": memberships,
        "account_assignments": rows("account_assignments"),
        "permission_sets": [{"arn": p.arn, "name": p.name} for p in snapshot.table("permission_sets")],
        "iam_users": rows("iam_users"),
        "access_keys": rows("access_keys"),
        "to_remove": [{"kind": a.kind, "target": a.target, "pre_state": a.pre_state} for a in plan.actions],
        "plan_sha256": plan.sha256,
    }


def keep_retention(record: dict, settings: Settings, *, now: datetime, s3_client=None) -> str:
    """Write the retention copy: to [events] retention_bucket (Object Lock retention when the bucket has it), else
    to retention_dir; returns where it went."""
    section = settings.section("events")
    body = json.dumps(record, indent=2, sort_keys=True, default=str).encode() + b"\n"
    name = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{_safe(record['event_id'])}.json"
    if section["retention_bucket"]:
        key = f"{section['retention_prefix']}{name}"
        until = now + timedelta(days=section["retention_days"])
        s3_client.put_object(
            Bucket=section["retention_bucket"],
            Key=key,
            Body=body,
            ContentType="application/json",
            Tagging=f"retain-until={until.date().isoformat()}",
        )
        return f"s3://{section['retention_bucket']}/{key}"
    path = Path(section["retention_dir"]) / name
    atomic_write(path, body)
    return str(path)


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:120]


def apply_offboarding(
    plan: Plan, *, store: Store, settings: Settings, clients: Clients, actor: str, override_reason: str | None = None
) -> tuple[int | None, dict[str, int], bool]:
    """Apply the recorded plan, then verify it: (remediation run id, counts by outcome, verified)."""
    result = apply_plan(
        plan,
        clients=clients,
        store=store,
        settings=settings,
        population=population_from_store(store),
        yes=True,
        override_reason=override_reason,
        actor=actor,
    )
    verified = verify_run(result.run_id, clients=clients, store=store, actor=actor).ok if result.run_id else False
    return result.run_id, result.counts(), verified


def manager_of(check: CheckResult, news_manager: str | None) -> str | None:
    chosen = clean_addresses([news_manager, check.person.manager_email if check.person else None])
    return chosen[0] if chosen else None


def notify_manager(manager: str, offboarding: dict, settings: Settings, *, now: datetime, ses_client=None) -> str:
    """Tell the manager what was removed (or awaits approval) and where the retention copy is; the message's reference."""
    name = offboarding.get("name") or "the leaver"
    done = offboarding["status"] == "applied"
    lines = [
        f"{name} left; their access was {'removed' if done else 'prepared for removal'}.",
        "",
        *(f"- {text}" for text in offboarding.get("actions", [])),
        "",
        f"Status: {offboarding['status']}" + (f" (verified: {offboarding.get('verified')})" if done else ""),
    ]
    if offboarding["status"] == "awaiting_approval":
        lines.append(f"Approve with: auditor remediate apply {offboarding.get('plan_file') or 'PLAN'} --yes")
    if offboarding.get("breaker"):
        lines.append(f"Not applied: {offboarding['breaker']}")
    if offboarding.get("retention"):
        lines.append(f"A copy of what was removed is kept at {offboarding['retention']}.")
    message = Message(
        to=manager, subject=f"Offboarding: {name}", body="\n".join(lines) + "\n", name=f"offboarding-{_safe(name)}"
    )
    section = settings.section("notifications")
    sender = section["ses_sender"] or DEFAULT_SENDER
    if "ses" in section["channels"] and ses_client is not None:
        return SesDelivery(ses_client, sender).send(message)
    return OutboxDelivery(Path(section["outbox_dir"]), now, sender=sender).send(message)
