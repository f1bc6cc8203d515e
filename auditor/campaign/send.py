"""Sending exported packets to their reviewers through the configured channel.

Each reviewer receives the instructions and their CSV and XLSX as
attachments (Slack, which carries text only, gets the notice). What was
sent is recorded and audit-logged with each file's SHA-256, so the evidence
shows what every reviewer was given.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from auditor.campaign.deliver import Attachment, Delivery, DeliveryError, DryRun, Message
from auditor.campaign.packets import Packet
from auditor.campaign.schema import campaign_messages
from auditor.campaign.state import get_campaign
from auditor.report.common import format_time
from auditor.store import Store

CONTENT_TYPES = {
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".html": "text/html",
}


@dataclass(frozen=True)
class PacketSent:
    packet: Packet
    message: Message
    reference: str | None
    error: str | None = None


def send_packets(
    store: Store,
    campaign_id: int,
    packets: list[Packet],
    *,
    now: datetime,
    delivery: Delivery,
    actor: str = "auditor",
) -> list[PacketSent]:
    campaign = get_campaign(store, campaign_id)
    due = format_time(campaign.due_at)
    results = []
    for packet in packets:
        files = (packet.html, packet.xlsx, packet.csv)
        message = Message(
            to=packet.reviewer,
            subject=f'Access review "{campaign.name}": {packet.items} item(s) to review by {due}',
            body=(
                f'You are a reviewer in access review "{campaign.name}" (campaign {campaign.id}), due {due}.\n'
                f"Attached: {packet.html.name} (what to do), and your {packet.items} item(s) as {packet.xlsx.name}\n"
                f"and {packet.csv.name}. Fill in the decision column (keep, rightsize, revoke or reassign:EMAIL),\n"
                "justify every flagged item you keep, change nothing else, and return the file to the campaign owner.\n"
            ),
            name=f"campaign-{campaign.id}-packet-{packet.html.stem.removeprefix(f'campaign-{campaign.id}-')}",
            attachments=tuple(Attachment(f.name, f.read_bytes(), CONTENT_TYPES[f.suffix]) for f in files),
        )
        try:
            reference = delivery.send(message)
        except DeliveryError as exc:
            results.append(PacketSent(packet, message, None, str(exc)))
            continue
        results.append(PacketSent(packet, message, reference))
        if isinstance(delivery, DryRun):
            continue
        with store.engine.begin() as conn:
            conn.execute(
                campaign_messages.insert().values(
                    campaign_id=campaign_id,
                    reviewer=packet.reviewer,
                    recipient=packet.reviewer,
                    kind="packet",
                    step_days=0,
                    sent_at=now,
                    channel=delivery.channel,
                    reference=reference[:1000],
                )
            )
        store.audit(
            "campaign.packet_sent",
            f"campaign {campaign_id}",
            {
                "reviewer": packet.reviewer,
                "items": packet.items,
                "channel": delivery.channel,
                "reference": reference,
                "files": {a.filename: hashlib.sha256(a.data).hexdigest() for a in message.attachments},
            },
            actor=actor,
        )
    return results
