"""The digest after a run, and its channels: SNS and SES on moto, Slack on a local webhook, the outbox."""

from __future__ import annotations

import email
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from auditor.config import ConfigError
from auditor.model import Finding, Principal
from auditor.notify import channels_from_settings, notify_run
from auditor.snapshot import Snapshot, SourceStatus
from tests.campaign.estate import build_world
from tests.schedule.conftest import make_settings

NOW = datetime(2026, 12, 1, 6, 5, tzinfo=UTC)


def finding(number: int, severity: str, status: str) -> Finding:
    return Finding(
        finding_id=f"{number:064x}",
        rule_id="idc-leaver-with-access",
        category="lifecycle",
        severity=severity,
        principal=Principal(type="idc_user", id=f"u-{number}", name=f"user{number}"),
        account_id="111111111111",
        resource=None,
        title=f"user{number} left the company and still has access",
        evidence={},
        controls=[],
        status=status,
    )


@dataclass
class Result:
    """What the digest reads of a pipeline RunResult."""

    findings: list[Finding]
    snapshot: Snapshot
    out_dir: Path
    run_id: int = 12
    exit_code: int = 0


def result(findings: list[Finding], *, failed_source: bool = False) -> Result:
    overrides = (
        [
            SourceStatus(
                source="cloudtrail",
                account_id="111111111111",
                status="failed",
                error="AccessDenied: no (s3, ListObjectsV2)",
            )
        ]
        if failed_source
        else []
    )
    snapshot = build_world().snapshot(overrides=overrides)
    return Result(
        findings, snapshot, Path("/srv/auditor/runs/run-20261201T060000Z"), exit_code=3 if failed_source else 0
    )


CHANGED = [
    finding(1, "critical", "new"),
    finding(2, "high", "new"),
    finding(3, "medium", "new"),
    finding(4, "high", "resolved"),
    finding(5, "high", "open"),
]
UNCHANGED = [finding(3, "medium", "new"), finding(5, "high", "open"), finding(6, "low", "resolved")]


class Recording:
    name = "test"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, subject: str, body: str) -> str:
        self.sent.append((subject, body))
        return f"message {len(self.sent)}"


def test_the_digest_lists_new_and_resolved_findings_at_the_severity_and_links_the_report(tmp_path):
    settings = make_settings(tmp_path, [], notifications={"report_url": "https://reports.example.com/auditor/"})
    channel = Recording()
    outcome = notify_run(result(CHANGED), settings, now=NOW, report_location="/srv/auditor/runs/x", channels=[channel])
    ((subject, body),) = channel.sent
    assert subject == "auditor 2026-11-28 06:00 UTC: 2 new critical/high, 1 resolved (run 12)"
    assert "Report: https://reports.example.com/auditor/run-20261201T060000Z/report.html" in body
    assert "New findings (critical/high): 2\n  - [critical] user1 left" in body
    assert "Resolved since the previous run (critical/high): 1\n  - [high] user4 left" in body
    assert "user3" not in body and "user5" not in body  # medium, and still open: not news
    assert outcome.sent == [("test", "message 1")]


def test_nothing_is_sent_when_nothing_changed_unless_configured(tmp_path):
    channel = Recording()
    quiet = notify_run(
        result(UNCHANGED), make_settings(tmp_path, []), now=NOW, report_location="/r", channels=[channel]
    )
    assert channel.sent == [] and "nothing new or resolved" in quiet.skipped
    always = make_settings(tmp_path, [], notifications={"send_when_unchanged": True, "min_severity": "medium"})
    notify_run(result(UNCHANGED), always, now=NOW, report_location="/srv/r", channels=[channel])
    ((subject, body),) = channel.sent
    assert "1 new critical/high/medium" in subject and "Report: /srv/r/report.html" in body


def test_an_incomplete_run_is_news_even_without_new_findings(tmp_path):
    channel = Recording()
    notify_run(
        result(UNCHANGED, failed_source=True),
        make_settings(tmp_path, []),
        now=NOW,
        report_location="/r",
        channels=[channel],
    )
    ((subject, body),) = channel.sent
    assert "incomplete" in subject
    assert "cloudtrail account 111111111111: failed: AccessDenied: no (s3, ListObjectsV2)" in body


def test_listing_is_bounded(tmp_path):
    many = [finding(n, "high", "new") for n in range(1, 8)]
    channel = Recording()
    notify_run(
        result(many),
        make_settings(tmp_path, [], notifications={"max_listed": 3}),
        now=NOW,
        report_location="/r",
        channels=[channel],
    )
    body = channel.sent[0][1]
    assert body.count("  - [high]") == 3 and "... and 4 more (see the report)" in body


@pytest.fixture
def aws(monkeypatch, tmp_path):
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    with mock_aws():
        yield


def test_sns_receives_the_digest(tmp_path, aws):
    from moto.sns.models import sns_backends

    topic = boto3.client("sns", region_name="us-east-1").create_topic(Name="auditor-digest")["TopicArn"]
    settings = make_settings(tmp_path, [], notifications={"channels": ["sns"], "sns_topic_arn": topic})
    outcome = notify_run(result(CHANGED), settings, now=NOW, report_location="/r")
    assert [c for c, _ in outcome.sent] == ["sns"] and not outcome.failed
    ((message_id, message, subject, _, _),) = sns_backends["123456789012"]["us-east-1"].topics[topic].sent_notifications
    assert message_id == outcome.sent[0][1]
    assert subject.startswith("auditor 2026-11-28") and "user1 left the company" in message


def test_an_unreachable_topic_is_reported_not_raised(tmp_path, aws):
    missing = "arn:aws:sns:us-east-1:123456789012:no-such-topic"
    settings = make_settings(tmp_path, [], notifications={"channels": ["sns"], "sns_topic_arn": missing})
    outcome = notify_run(result(CHANGED), settings, now=NOW, report_location="/r")
    assert outcome.sent == [] and outcome.failed[0][0] == "sns" and "(sns, Publish)" in outcome.failed[0][1]


def test_ses_emails_every_recipient(tmp_path, aws):
    from moto.ses.models import ses_backends

    boto3.client("sesv2", region_name="us-east-1").create_email_identity(EmailIdentity="auditor@example.com")
    settings = make_settings(
        tmp_path,
        [],
        notifications={
            "channels": ["ses"],
            "ses_sender": "auditor@example.com",
            "email_to": ["sec@example.com", "ciso@example.com"],
        },
    )
    outcome = notify_run(result(CHANGED), settings, now=NOW, report_location="/r")
    assert [c for c, _ in outcome.sent] == ["ses"]
    (sent,) = ses_backends["123456789012"]["us-east-1"].sent_messages
    assert sent.destinations == {"ToAddresses": ["sec@example.com"], "CcAddresses": ["ciso@example.com"]}
    assert "2 new critical/high" in sent.subject and "user2 left" in sent.body


def test_slack_receives_the_digest_and_a_refusal_is_reported(tmp_path, webhook):
    url, handler = webhook
    settings = make_settings(tmp_path, [], notifications={"channels": ["slack"], "slack_webhook_url": url})
    outcome = notify_run(result(CHANGED), settings, now=NOW, report_location="/r")
    assert outcome.sent == [("slack", "slack: ok")]
    (posted,) = handler.received
    assert posted["text"].startswith("*auditor 2026-11-28 06:00 UTC: 2 new critical/high") and "user4" in posted["text"]
    handler.status = 500
    failed = notify_run(result(CHANGED), settings, now=NOW, report_location="/r")
    assert failed.failed == [("slack", "Slack webhook answered HTTP 500")]


def test_the_outbox_holds_an_email_file(tmp_path):
    settings = make_settings(
        tmp_path,
        [],
        notifications={"channels": ["outbox"], "outbox_dir": str(tmp_path / "out"), "email_to": ["sec@example.com"]},
    )
    outcome = notify_run(result(CHANGED), settings, now=NOW, report_location="/r")
    (path,) = (tmp_path / "out").glob("*.eml")
    assert outcome.sent == [("outbox", str(path))]
    message = email.message_from_bytes(path.read_bytes())
    assert message["To"] == "sec@example.com" and "2 new critical/high" in message["Subject"]


@pytest.mark.parametrize(
    ("notifications", "key"),
    [
        ({"channels": ["sns"]}, "notifications.sns_topic_arn"),
        ({"channels": ["slack"]}, "notifications.slack_webhook_url"),
        ({"channels": ["ses"], "ses_sender": "a@example.com"}, "notifications.ses_sender and email_to"),
    ],
)
def test_a_channel_without_its_settings_is_a_config_error(tmp_path, notifications, key):
    with pytest.raises(ConfigError, match=key):
        channels_from_settings(
            make_settings(tmp_path, [], notifications=notifications), now=NOW, sns_client=object(), ses_client=object()
        )
