"""Access certification campaigns: items, reviewers, signed packets, decisions, evidence, revocations.

The public functions each take the state store and an injected ``now``;
``auditor.cli.campaign`` is the thin command line over them.
"""

from auditor.campaign.close import CloseResult, close_campaign, revocations
from auditor.campaign.create import CreateResult, create_campaign, open_campaign
from auditor.campaign.deliver import DeliveryError, DryRun, OutboxDelivery, SesDelivery, SlackDelivery
from auditor.campaign.evidence import verify_evidence
from auditor.campaign.importer import ImportResult, import_decisions
from auditor.campaign.micro import MicroResult, open_micro_campaigns
from auditor.campaign.model import Campaign, CampaignError, CampaignSpec, Item
from auditor.campaign.packets import Packet, export_packets
from auditor.campaign.remind import RemindResult, remind
from auditor.campaign.send import PacketSent, send_packets
from auditor.campaign.status import campaign_status, list_campaigns

__all__ = [
    "Campaign",
    "CampaignError",
    "CampaignSpec",
    "CloseResult",
    "CreateResult",
    "DeliveryError",
    "DryRun",
    "ImportResult",
    "Item",
    "MicroResult",
    "OutboxDelivery",
    "Packet",
    "PacketSent",
    "RemindResult",
    "SesDelivery",
    "SlackDelivery",
    "campaign_status",
    "close_campaign",
    "create_campaign",
    "export_packets",
    "import_decisions",
    "list_campaigns",
    "open_campaign",
    "open_micro_campaigns",
    "remind",
    "revocations",
    "send_packets",
    "verify_evidence",
]
