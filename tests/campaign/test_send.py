"""Sending packets to reviewers: attachments by email (outbox, SES raw), a notice on Slack."""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
from datetime import timedelta
from pathlib import Path

import boto3
import sqlalchemy as sa
from moto import mock_aws

from auditor.campaign import OutboxDelivery, SesDelivery, create_campaign, export_packets, remind, send_packets
from auditor.campaign.deliver import DryRun
from auditor.store import audit_log
from tests.campaign.estate import DUE, NOW, spec


def test_each_reviewer_receives_their_packet_as_attachments(store, settings, run_dir, tmp_path):
    cid = create_campaign(store, settings, spec(), now=NOW, run_dir=run_dir).campaign.id
    packets = export_packets(store, cid, tmp_path / "packets", now=NOW)
    sent = send_packets(store, cid, packets, now=NOW, delivery=OutboxDelivery(tmp_path / "outbox", NOW))
    assert [s.error for s in sent] == [None, None, None]
    boss = email.message_from_bytes(Path(sent[0].reference).read_bytes(), policy=email.policy.default)
    assert boss["To"] == "boss@example.com"
    attached = {part.get_filename(): part.get_content() for part in boss.iter_attachments()}
    assert set(attached) == {packets[0].html.name, packets[0].csv.name, packets[0].xlsx.name}
    assert attached[packets[0].xlsx.name] == packets[0].xlsx.read_bytes()
    with store.engine.connect() as conn:
        logged = [
            json.loads(d)
            for (d,) in conn.execute(sa.select(audit_log.c.details).where(audit_log.c.action == "campaign.packet_sent"))
        ]
    assert logged[0]["files"][packets[0].csv.name] == hashlib.sha256(packets[0].csv.read_bytes()).hexdigest()
    # a packet is not a reminder: the 7-day reminder still goes out
    reminded = remind(store, settings, cid, now=DUE - timedelta(days=6), delivery=DryRun())
    assert len(reminded.sent) == 3


def test_ses_sends_packets_as_raw_mime(store, settings, run_dir, tmp_path):
    cid = create_campaign(store, settings, spec(), now=NOW, run_dir=run_dir).campaign.id
    (packet,) = export_packets(store, cid, tmp_path, now=NOW, reviewer="ceo@example.com")
    with mock_aws():
        client = boto3.client("sesv2", region_name="eu-west-1")
        client.create_email_identity(EmailIdentity="reviews@example.com")
        (sent,) = send_packets(store, cid, [packet], now=NOW, delivery=SesDelivery(client, "reviews@example.com"))
        from moto.ses.models import ses_backends

        (raw,) = ses_backends["123456789012"]["eu-west-1"].sent_messages
    assert sent.error is None and sent.reference
    parsed = email.message_from_string(raw.raw_data, policy=email.policy.default)
    assert parsed["To"] == "ceo@example.com"
    assert packet.csv.name in {p.get_filename() for p in parsed.iter_attachments()}
