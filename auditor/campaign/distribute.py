"""Reviewer packets written and, when asked, sent: what `auditor campaign export --send` and the quarterly job do."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from auditor.campaign.deliver import Delivery, delivery_from_settings
from auditor.campaign.packets import Packet, export_packets
from auditor.campaign.send import PacketSent, send_packets
from auditor.config import Settings
from auditor.store import Store


@dataclass
class Distribution:
    packets: list[Packet]
    sent: list[PacketSent] = field(default_factory=list)  # empty when not sent
    channel: str | None = None  # the delivery channel used, when sent

    @property
    def not_sent(self) -> list[PacketSent]:
        return [s for s in self.sent if s.error]


def distribute_packets(
    store: Store,
    settings: Settings,
    campaign_id: int,
    out_dir: Path,
    *,
    now: datetime,
    actor: str,
    reviewer: str | None = None,
    send: bool = False,
    delivery: Delivery | None = None,
) -> Distribution:
    """Write each reviewer's packet (or only ``reviewer``'s) to ``out_dir``; with ``send``, send each through
    the configured delivery ([campaigns] delivery) and record it."""
    packets = export_packets(store, campaign_id, out_dir, now=now, reviewer=reviewer, actor=actor)
    if not send:
        return Distribution(packets)
    delivery = delivery or delivery_from_settings(settings, now=now)
    sent = send_packets(store, campaign_id, packets, now=now, delivery=delivery, actor=actor)
    return Distribution(packets, sent, delivery.channel)
