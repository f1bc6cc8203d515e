"""Stale-access revocations from findings: only by explicit policy, only after notice.

No review decided these, so each needs all of: a config policy for its rule
that is switched on (``disable_inactive_users_after_days`` or
``deactivate_unused_keys_after_days`` > 0), a finding idle at least that
long, observed evidence (never ``insufficient_evidence``), a recent run, and
a notice sent at least ``notice_days`` earlier. A finding that qualifies
but was not yet notified gets its notice now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import msgspec

from auditor.access import AccessModel
from auditor.config import Settings
from auditor.model import Finding, IamUser, IdcUser, Revocation, RevocationKind
from auditor.remediate.errors import Refused
from auditor.remediate.notices import Notices, clean_addresses
from auditor.remediate.population import latest_snapshot
from auditor.snapshot import Snapshot
from auditor.store import Store


@dataclass(frozen=True)
class StalePolicy:
    setting: str  # the [remediation] key holding the idle days; 0 is off
    kind: RevocationKind
    action: str  # what the notice says will happen


_DISABLE = StalePolicy(
    "disable_inactive_users_after_days", RevocationKind.IDC_USER, "your Identity Center user will be disabled"
)
POLICIES: dict[str, StalePolicy] = {
    "idc-user-inactive": _DISABLE,
    "idc-user-never-signed-in": _DISABLE,
    "iam-access-key-unused": StalePolicy(
        "deactivate_unused_keys_after_days", RevocationKind.IAM_ACCESS_KEY, "the IAM access key will be deactivated"
    ),
}


@dataclass(frozen=True)
class StaleOutcome:
    finding_id: str
    rule_id: str
    principal: str
    status: str  # planned | noticed | waiting | ineligible
    detail: str


@dataclass
class StaleSelection:
    revocations: list[Revocation] = field(default_factory=list)
    outcomes: list[StaleOutcome] = field(default_factory=list)
    run_id: int | None = None


def _policies(rules: list[str], settings: Settings) -> dict[str, tuple[StalePolicy, int]]:
    chosen = {}
    for rule_id in rules:
        policy = POLICIES.get(rule_id)
        if policy is None:
            raise Refused(
                f"no stale-access policy acts on rule {rule_id!r} (policies exist for {', '.join(POLICIES)}); "
                "its findings are revoked only through a reviewed campaign"
            )
        days = settings.get("remediation", policy.setting)
        if days <= 0:
            raise Refused(
                f"[remediation] {policy.setting} is 0 (off): stale-access plans for {rule_id} need this explicit "
                "policy in config.toml"
            )
        chosen[rule_id] = (policy, days)
    return chosen


def stale_revocations(
    store: Store, settings: Settings, rules: list[str], now: datetime, notices: Notices
) -> StaleSelection:
    chosen = _policies(rules, settings)
    found = latest_snapshot(store)
    if found is None:
        raise Refused("no recorded run with a snapshot: run `auditor run` first")
    snapshot, run = found
    as_of = run["as_of"]
    max_age = timedelta(hours=settings.get("remediation", "plan_max_age_hours"))
    if now - as_of > max_age:
        raise Refused(
            f"the latest run (as of {as_of.isoformat()}) is older than plan_max_age_hours: its findings may no longer "
            "hold; run `auditor run` first"
        )
    path = Path(run["out_dir"]) / "findings.json"
    try:
        findings = msgspec.json.decode(path.read_bytes(), type=list[Finding])
    except (OSError, msgspec.DecodeError) as exc:
        raise Refused(f"{path}: cannot read the latest run's findings: {exc}") from exc
    selection = StaleSelection(run_id=run["id"])
    directory = _Directory(snapshot, settings)
    notice_days = settings.get("remediation", "notice_days")
    for finding in findings:
        if finding.rule_id in chosen:
            policy, days = chosen[finding.rule_id]
            _consider(finding, policy, days, notice_days, now, directory, notices, selection)
    return selection


def _consider(
    finding: Finding,
    policy: StalePolicy,
    days: int,
    notice_days: int,
    now: datetime,
    directory: _Directory,
    notices: Notices,
    selection: StaleSelection,
) -> None:
    def note(status: str, detail: str) -> None:
        selection.outcomes.append(
            StaleOutcome(
                finding.finding_id, finding.rule_id, finding.principal.name or finding.principal.id, status, detail
            )
        )

    idle = finding.evidence.get("days_idle")
    if finding.evidence.get("insufficient_evidence"):
        return note("ineligible", "insufficient evidence: never remediated")
    if finding.status in ("resolved", "suppressed") or finding.severity == "info":
        return note("ineligible", f"finding is {finding.status} ({finding.severity})")
    if not isinstance(idle, int) or idle < days:
        return note("ineligible", f"idle {idle} days, policy {policy.setting} acts at {days}")
    target = directory.target(finding, policy.kind)
    if target is None:
        return note("ineligible", "the snapshot does not identify the target")
    notice = notices.latest(finding.finding_id)
    if notice is not None and finding.first_seen is not None and notice.notified_at < finding.first_seen:
        notice = None  # sent for an earlier episode of this finding, which was resolved since
    if notice is None:
        recipients = directory.recipients(finding)
        if not recipients:
            return note("ineligible", "no one to notify (no email, manager or [campaigns] fallback_reviewer)")
        sent = notices.send(finding, policy.action, recipients, now, now + timedelta(days=notice_days))
        return note(
            "noticed",
            f"notice sent to {', '.join(recipients)}; acts on or after "
            f"{(sent.notified_at + timedelta(days=notice_days)).date().isoformat()}",
        )
    acts_on = notice.notified_at + timedelta(days=notice_days)
    if now < acts_on:
        return note(
            "waiting",
            f"notice sent {notice.notified_at.date().isoformat()}; acts on or after {acts_on.date().isoformat()}",
        )
    selection.revocations.append(
        Revocation(
            kind=policy.kind.value,
            target=target,
            reason={
                "policy": policy.setting,
                "policy_days": days,
                "rule_id": finding.rule_id,
                "finding_id": finding.finding_id,
                "title": finding.title,
                "evidence": finding.evidence,
                "notice": {
                    "id": notice.id,
                    "notified_at": notice.notified_at.isoformat(),
                    "recipients": notice.recipients,
                },
            },
            principal=finding.principal,
            account_id=finding.account_id,
        )
    )
    note("planned", f"notice sent {notice.notified_at.date().isoformat()}, {notice_days} days notice given")


class _Directory:
    """Lookups in the latest snapshot: targets and whom to notify."""

    def __init__(self, snapshot: Snapshot, settings: Settings) -> None:
        status = snapshot.status_of("identity_center")
        self.identity_store_id = (status.detail.get("identity_store_id") if status else None) or None
        self.access = AccessModel(snapshot)
        self.idc_users: dict[str, IdcUser] = self.access.idc_users
        self.iam_users: dict[tuple[str, str], IamUser] = {
            (u.account_id, u.user_name): u for u in snapshot.table("iam_users")
        }
        self.fallback = settings.get("campaigns", "fallback_reviewer") or None

    def target(self, finding: Finding, kind: RevocationKind) -> dict[str, str] | None:
        if kind is RevocationKind.IDC_USER:
            if not self.identity_store_id or finding.principal.id not in self.idc_users:
                return None
            return {"identity_store_id": self.identity_store_id, "user_id": finding.principal.id}
        user_name = finding.evidence.get("user_name") or finding.principal.name
        key_id = finding.resource or finding.principal.id
        if not (finding.account_id and user_name and key_id):
            return None
        return {"account_id": finding.account_id, "user_name": user_name, "access_key_id": key_id}

    def recipients(self, finding: Finding) -> list[str]:
        found: list[str | None] = []
        user = self.idc_users.get(finding.principal.id)
        if user is not None:
            person = self.access.hr_person(user)
            found += [user.email, person.manager_email if person else None]
        else:
            iam_user = self.iam_users.get((finding.account_id or "", finding.evidence.get("user_name") or ""))
            tags = {k.lower(): v for k, v in (iam_user.tags if iam_user else {}).items()}
            found += [tags.get("owner"), tags.get("email"), tags.get("contact")]
        return clean_addresses(found) or clean_addresses([self.fallback])
