"""Reminders and escalations on the configured schedule, through each delivery channel."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from auditor.campaign import (
    CampaignError,
    DryRun,
    OutboxDelivery,
    SesDelivery,
    SlackDelivery,
    close_campaign,
    create_campaign,
    remind,
)
from auditor.campaign.deliver import Attachment, DeliveryError, Message, delivery_from_settings
from auditor.campaign.status import campaign_status
from tests.campaign.estate import DUE, NOW, make_settings, spec

REGION = "eu-west-1"
FALLBACK_FOR_CEO = "security@example.com"  # the CEO has no manager in HR: escalations go to the fallback


@pytest.fixture
def cid(store, settings, run_dir):
    return create_campaign(store, settings, spec(), now=NOW, run_dir=run_dir).campaign.id


def sent(result) -> list[tuple[str, str, int, str]]:
    return [(s.reviewer, s.step.kind, s.step.days, s.message.to) for s in result.sent]


def test_reminders_follow_the_schedule_and_are_not_repeated(store, settings, cid, tmp_path):
    def run(at):
        return remind(store, settings, cid, now=at, delivery=OutboxDelivery(tmp_path / "outbox", at))

    early = run(DUE - timedelta(days=10))
    assert early.sent == [] and early.waiting["boss@example.com"].startswith("first reminder at 2026-12-12")
    week = run(DUE - timedelta(days=6))
    assert sent(week) == [
        ("boss@example.com", "reminder", 7, "boss@example.com"),
        ("ceo@example.com", "reminder", 7, "ceo@example.com"),
        ("security@example.com", "reminder", 7, "security@example.com"),
    ]
    assert run(DUE - timedelta(days=5)).sent == []  # nothing twice
    # a job that missed the 3-day and 1-day steps sends only the latest one
    assert {s[2] for s in sent(run(DUE - timedelta(hours=12)))} == {1}
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 6


def test_overdue_reviewers_are_escalated_to_their_manager(store, settings, cid, tmp_path):
    result = remind(
        store,
        settings,
        cid,
        now=DUE + timedelta(days=2),
        delivery=OutboxDelivery(tmp_path / "outbox", DUE + timedelta(days=2)),
    )
    assert sent(result) == [
        ("boss@example.com", "escalation", 1, "ceo@example.com"),
        ("ceo@example.com", "escalation", 1, FALLBACK_FOR_CEO),
        ("security@example.com", "escalation", 1, "security@example.com"),
    ]
    boss = next(s for s in result.sent if s.reviewer == "boss@example.com")
    message = email.message_from_bytes(Path(boss.reference).read_bytes(), policy=email.policy.default)
    assert message["To"] == "ceo@example.com" and message["Cc"] == "boss@example.com"
    assert message["Subject"] == 'Overdue access review "2026 Q4 access review": boss@example.com has 7 item(s) pending'
    status = campaign_status(store, cid, now=DUE + timedelta(days=2))
    assert [r.reviewer for r in status.reviewers][0] == "boss@example.com" and status.reviewers[0].overdue
    assert status.reviewers[0].last_message.startswith("escalation")


def test_a_dry_run_sends_and_records_nothing(store, settings, cid, tmp_path):
    dry = DryRun()
    result = remind(store, settings, cid, now=DUE - timedelta(days=3), delivery=dry)
    assert len(dry.messages) == 3 and result.dry_run
    assert "C1-0001" in dry.messages[0].body
    real = remind(
        store,
        settings,
        cid,
        now=DUE - timedelta(days=3),
        delivery=OutboxDelivery(tmp_path / "o", DUE - timedelta(days=3)),
    )
    assert len(real.sent) == 3  # the dry run did not count as sent


def test_decided_reviewers_and_closed_campaigns_are_not_reminded(store, settings, cid, tmp_path):
    close_campaign(store, cid, now=NOW, out_dir=tmp_path / "ev", undecided="keep_flagged")
    with pytest.raises(CampaignError, match="is closed"):
        remind(store, settings, cid, now=DUE, delivery=DryRun())


def test_ses_delivery_sends_through_sesv2():
    with mock_aws():
        client = boto3.client("sesv2", region_name=REGION)
        client.create_email_identity(EmailIdentity="reviews@example.com")
        delivery = SesDelivery(client, "reviews@example.com")
        reference = delivery.send(
            Message(to="ceo@example.com", subject="Overdue", body="2 items", name="x", cc=("boss@example.com",))
        )
        from moto.ses.models import ses_backends

        (message,) = ses_backends["123456789012"][REGION].sent_messages
        assert reference
        assert message.destinations == {"ToAddresses": ["ceo@example.com"], "CcAddresses": ["boss@example.com"]}
        assert (message.subject, message.body) == ("Overdue", "2 items")
        unverified = SesDelivery(client, "nobody@example.com")
        with pytest.raises(DeliveryError, match="MessageRejected") as failure:
            unverified.send(Message(to="a@example.com", subject="s", body="b", name="x"))
        assert not failure.value.transient


def test_slack_delivery_posts_to_the_incoming_webhook(store, cid, webhook):
    url, hook = webhook
    settings = make_settings(delivery="slack", slack_webhook_url=url)
    delivery = delivery_from_settings(settings, now=NOW)
    result = remind(store, settings, cid, now=DUE - timedelta(days=1), delivery=delivery)
    assert len(result.sent) == 3 and result.sent[0].reference == "slack: ok"
    texts = [m["text"] for m in hook.received]
    assert texts[0].startswith('*Reminder: access review "2026 Q4 access review": 7 item(s) due')
    assert "For boss@example.com" in texts[0]


def test_a_failing_webhook_is_reported_and_retried_next_time(store, cid, webhook):
    url, hook = webhook
    hook.status = 503
    settings = make_settings(delivery="slack", slack_webhook_url=url)
    at = DUE - timedelta(days=1)
    failed = remind(store, settings, cid, now=at, delivery=SlackDelivery(url))
    assert failed.sent == [] and len(failed.failed) == 3 and "HTTP 503" in failed.failed[0][1]
    hook.status = 200
    assert len(remind(store, settings, cid, now=at, delivery=SlackDelivery(url)).sent) == 3


def test_channels_need_their_settings():
    with pytest.raises(DeliveryError, match="needs ses_sender"):
        delivery_from_settings(make_settings(delivery="ses"), now=NOW)
    with pytest.raises(DeliveryError, match="needs slack_webhook_url"):
        delivery_from_settings(make_settings(delivery="slack"), now=NOW)
    outbox = delivery_from_settings(make_settings(), now=NOW)
    assert isinstance(outbox, OutboxDelivery) and str(outbox.directory) == "auditor-outbox"


def test_slack_says_files_cannot_travel_by_webhook(webhook):
    url, hook = webhook
    attachment = Attachment("campaign-1-ceo-at-example.com.xlsx", b"PK", "application/octet-stream")
    SlackDelivery(url).send(Message(to="ceo@example.com", subject="s", body="b", name="x", attachments=(attachment,)))
    assert hook.received[0]["text"].endswith(
        "(Files are not sent to Slack: ask the campaign owner for campaign-1-ceo-at-example.com.xlsx.)"
    )
