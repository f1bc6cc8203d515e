"""Where a digest goes: an SNS topic, a Slack incoming webhook, email through SES, or the outbox directory.

Each channel sends one (subject, body) and returns a reference to what it
sent; a failure is a ``DeliveryError`` saying whether a retry may succeed.
Email and the outbox reuse the campaign deliveries, so an .eml file or an
SES message looks the same whoever sends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError

from auditor.aws import context_from_settings, describe_error, is_transient
from auditor.campaign.deliver import (
    DEFAULT_SENDER,
    DeliveryError,
    Message,
    OutboxDelivery,
    SesDelivery,
    post_to_slack,
)
from auditor.config import ConfigError, Settings

SLACK_TIMEOUT_SECONDS = 10
SNS_MESSAGE_LIMIT = 256 * 1024  # bytes, UTF-8
UNDISCLOSED = "undisclosed-recipients:;"  # RFC 5322 group syntax: a message with no listed recipient


class Channel(Protocol):
    name: str

    def send(self, subject: str, body: str) -> str: ...


@dataclass
class SnsChannel:
    client: object
    topic_arn: str
    name: str = "sns"

    def send(self, subject: str, body: str) -> str:
        data = body.encode("utf-8")
        if len(data) > SNS_MESSAGE_LIMIT:
            body = data[: SNS_MESSAGE_LIMIT - 200].decode("utf-8", "ignore") + "\n... (cut: see the report)\n"
        try:
            answer = self.client.publish(TopicArn=self.topic_arn, Subject=subject, Message=body)
        except (ClientError, BotoCoreError) as exc:
            raise DeliveryError(describe_error(exc, "sns", "Publish"), transient=is_transient(exc)) from exc
        return answer["MessageId"]


@dataclass
class SlackChannel:
    webhook_url: str
    timeout: float = SLACK_TIMEOUT_SECONDS
    name: str = "slack"

    def send(self, subject: str, body: str) -> str:
        return post_to_slack(self.webhook_url, f"*{subject}*\n{body}", self.timeout)


@dataclass
class MessageChannel:
    """Email (SES) or the outbox: the digest as one message to every recipient."""

    delivery: object  # SesDelivery | OutboxDelivery
    recipients: list[str]
    name: str
    stem: str = "digest"

    def send(self, subject: str, body: str) -> str:
        to, cc = (self.recipients[0], tuple(self.recipients[1:])) if self.recipients else (UNDISCLOSED, ())
        return self.delivery.send(Message(to=to, subject=subject, body=body, name=self.stem, cc=cc))


def channels_from_settings(
    settings: Settings,
    *,
    now: datetime,
    sns_client: object | None = None,
    ses_client: object | None = None,
) -> list[Channel]:
    """The configured channels; a missing setting a channel needs is a ConfigError naming it."""
    section = settings.section("notifications")
    made: list[Channel] = []
    for name in section["channels"]:
        if name == "sns":
            if not section["sns_topic_arn"].startswith("arn:"):
                raise ConfigError('notifications.sns_topic_arn: channel "sns" needs the topic ARN')
            made.append(
                SnsChannel(sns_client or context_from_settings(settings).client("sns"), section["sns_topic_arn"])
            )
        elif name == "slack":
            if not section["slack_webhook_url"].startswith(("https://", "http://")):
                raise ConfigError('notifications.slack_webhook_url: channel "slack" needs an incoming webhook URL')
            made.append(SlackChannel(section["slack_webhook_url"]))
        elif name == "ses":
            if not section["ses_sender"] or not section["email_to"]:
                raise ConfigError('notifications.ses_sender and email_to: channel "ses" needs a sender and recipients')
            delivery = SesDelivery(ses_client or context_from_settings(settings).client("sesv2"), section["ses_sender"])
            made.append(MessageChannel(delivery, list(section["email_to"]), "ses"))
        elif name == "outbox":
            sender = section["ses_sender"] or DEFAULT_SENDER
            delivery = OutboxDelivery(Path(section["outbox_dir"]), now, sender=sender)
            made.append(
                MessageChannel(
                    delivery, list(section["email_to"]), "outbox", stem=f"digest-{now.strftime('%Y%m%dT%H%M%S%f')}"
                )
            )
    return made
