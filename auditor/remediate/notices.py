"""Notices before a stale-access policy acts: written, recorded, and counted from.

How a notice is sent: as an RFC 5322 message file in the outbox directory
(``[campaigns] outbox_dir``/remediation-notices/), the same hand-off the
campaigns' outbox delivery uses, for a mail relay to send. How it is
recorded: a row in ``remediation_notices`` and a ``remediate.notice.sent``
entry in the audit log, with its recipients and the message file. A policy
acts on a finding only when a notice for the same episode of that finding
(sent at or after the finding's first_seen) is at least ``notice_days`` old.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import sqlalchemy as sa

from auditor.model import Finding
from auditor.remediate.schema import remediation_notices
from auditor.store import Store

_ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+")


def clean_addresses(values: list[str | None]) -> list[str]:
    """Plausible, distinct addresses only: names and tags come from people and must not inject headers."""
    seen: list[str] = []
    for value in values:
        text = (value or "").strip()
        if _ADDRESS.fullmatch(text) and text.lower() not in (s.lower() for s in seen):
            seen.append(text)
    return seen


@dataclass(frozen=True)
class Notice:
    id: int
    finding_id: str
    recipients: list[str]
    message_path: str
    notified_at: datetime


class Notices:
    def __init__(self, store: Store, outbox: Path, sender: str = "auditor", actor: str = "auditor") -> None:
        self.store = store
        self.outbox = outbox
        self.sender = sender
        self.actor = actor

    def latest(self, finding_id: str) -> Notice | None:
        table = remediation_notices
        with self.store.engine.connect() as conn:
            row = conn.execute(
                sa.select(table).where(table.c.finding_id == finding_id).order_by(table.c.id.desc()).limit(1)
            ).first()
        if row is None:
            return None
        return Notice(
            row.id,
            row.finding_id,
            json.loads(row.recipients),
            row.message_path,
            row.notified_at,
        )

    def send(self, finding: Finding, action: str, recipients: list[str], now: datetime, acts_on: datetime) -> Notice:
        """Write the message to the outbox, then record it; returns the notice."""
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(recipients)
        message["Date"] = format_datetime(now.astimezone(UTC))
        message["Subject"] = f"Access review: {action} on or after {acts_on.date().isoformat()}"
        message.set_content(_body(finding, action, acts_on))
        folder = self.outbox / "remediation-notices"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{now.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}-{finding.finding_id}.eml"
        path.write_bytes(bytes(message))
        with self.store.engine.begin() as conn:
            notice_id = conn.execute(
                remediation_notices.insert().values(
                    finding_id=finding.finding_id,
                    rule_id=finding.rule_id,
                    principal_type=finding.principal.type,
                    principal_id=finding.principal.id,
                    principal_name=finding.principal.name,
                    account_id=finding.account_id,
                    action=action,
                    recipients=json.dumps(recipients),
                    message_path=str(path),
                    notified_at=now,
                )
            ).inserted_primary_key[0]
        self.store.audit(
            "remediate.notice.sent",
            f"finding {finding.finding_id}",
            {
                "notice_id": notice_id,
                "rule_id": finding.rule_id,
                "principal": finding.principal.name,
                "action": action,
                "recipients": recipients,
                "acts_on": acts_on.isoformat(),
                "message": str(path),
            },
            actor=self.actor,
        )
        return Notice(notice_id, finding.finding_id, recipients, str(path), now.astimezone(UTC))


def _body(finding: Finding, action: str, acts_on: datetime) -> str:
    facts = {k: v for k, v in finding.evidence.items() if isinstance(v, str | int | float | bool)}
    lines = [
        "Hello,",
        "",
        f"The access review found: {finding.title}.",
        f"Unless this changes, the following will happen on or after {acts_on.date().isoformat()}:",
        f"  {action}",
        "",
        "Evidence:",
        *(f"  {key}: {value}" for key, value in sorted(facts.items())),
        "",
        "To keep the access, use it before that date or ask your security team for an exception.",
        "Any change can be rolled back.",
    ]
    return "\n".join(lines) + "\n"
