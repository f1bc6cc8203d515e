"""Delivering reminders and packets: an outbox directory of .eml files (the default), SES, or a Slack webhook.

Each channel does one thing: send one message and return a reference to
what it sent (a file name, an SES MessageId). Which channel is used comes
from [campaigns] delivery; a dry run collects messages without sending.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError

from auditor.aws import context_from_settings, describe_error, is_transient
from auditor.config import Settings
from auditor.files import atomic_write

DEFAULT_SENDER = "auditor <auditor@invalid>"  # RFC 2606: .invalid never routes
SLACK_TIMEOUT_SECONDS = 10


class DeliveryError(Exception):
    """A message could not be sent; ``transient`` says whether a later retry may succeed."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes
    content_type: str  # e.g. "text/csv"


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    body: str
    name: str  # a file-name stem naming the campaign, kind and recipient
    cc: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()


def build_email(message: Message, sender: str, now: datetime | None = None) -> EmailMessage:
    """The RFC 5322 message, attachments included (the outbox file, or SES raw content)."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to
    if message.cc:
        email["Cc"] = ", ".join(message.cc)
    email["Subject"] = message.subject
    if now is not None:
        email["Date"] = format_datetime(now)
    email["Message-ID"] = make_msgid(idstring=message.name, domain="auditor.invalid")
    email.set_content(message.body)
    for attachment in message.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        email.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename)
    return email


class Delivery(Protocol):
    channel: str

    def send(self, message: Message) -> str: ...


@dataclass
class OutboxDelivery:
    """Writes each message as an RFC 5322 .eml file a mail client or relay can pick up."""

    directory: Path
    now: datetime
    sender: str = DEFAULT_SENDER
    channel: str = "outbox"

    def send(self, message: Message) -> str:
        path = Path(self.directory) / f"{self.now.strftime('%Y%m%dT%H%M%SZ')}-{message.name}.eml"
        atomic_write(path, bytes(build_email(message, self.sender, self.now)))
        return str(path)


@dataclass
class SesDelivery:
    """Amazon SES v2 SendEmail from a verified sender (raw MIME when there are attachments)."""

    client: object
    sender: str
    channel: str = "ses"

    def send(self, message: Message) -> str:
        destination = {"ToAddresses": [message.to]}
        if message.cc:
            destination["CcAddresses"] = list(message.cc)
        if message.attachments:
            content = {"Raw": {"Data": bytes(build_email(message, self.sender))}}
        else:
            content = {
                "Simple": {
                    "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": message.body, "Charset": "UTF-8"}},
                }
            }
        try:
            answer = self.client.send_email(FromEmailAddress=self.sender, Destination=destination, Content=content)
        except (ClientError, BotoCoreError) as exc:
            raise DeliveryError(describe_error(exc, "sesv2", "SendEmail"), transient=is_transient(exc)) from exc
        return answer["MessageId"]


@dataclass
class SlackDelivery:
    """A Slack incoming webhook: one channel, so the text names the reviewer it is for."""

    webhook_url: str
    timeout: float = SLACK_TIMEOUT_SECONDS
    channel: str = "slack"

    def send(self, message: Message) -> str:
        cc = f" (cc {', '.join(message.cc)})" if message.cc else ""
        text = f"*{message.subject}*\nFor {message.to}{cc}\n{message.body}"
        if message.attachments:  # an incoming webhook carries text only
            names = ", ".join(a.filename for a in message.attachments)
            text += f"\n(Files are not sent to Slack: ask the campaign owner for {names}.)"
        return post_to_slack(self.webhook_url, text, self.timeout)


def post_to_slack(webhook_url: str, text: str, timeout: float = SLACK_TIMEOUT_SECONDS) -> str:
    """POST ``text`` to a Slack incoming webhook; throttling and 5xx are transient failures."""
    request = urllib.request.Request(
        webhook_url,
        data=json.dumps({"text": text}).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            body = answer.read(200).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        raise DeliveryError(
            f"Slack webhook answered HTTP {exc.code}", transient=exc.code == 429 or exc.code >= 500
        ) from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DeliveryError(f"Slack webhook unreachable: {exc}", transient=True) from exc
    return f"slack: {body.strip() or 'ok'}"


@dataclass
class DryRun:
    """Sends nothing; keeps what would have been sent."""

    channel: str = "dry-run"
    messages: list[Message] = field(default_factory=list)

    def send(self, message: Message) -> str:
        self.messages.append(message)
        return "dry-run"


def delivery_from_settings(
    settings: Settings, *, now: datetime, base_dir: Path | None = None, ses_client: object | None = None
) -> Delivery:
    """The configured channel; a relative outbox_dir is relative to ``base_dir`` (default: the current one)."""
    section = settings.section("campaigns")
    channel = section["delivery"]
    if channel == "ses":
        if not section["ses_sender"]:
            raise DeliveryError('[campaigns] delivery = "ses" needs ses_sender (a verified identity)', transient=False)
        if ses_client is None:
            ses_client = context_from_settings(settings).client("sesv2")
        return SesDelivery(ses_client, section["ses_sender"])
    if channel == "slack":
        url = section["slack_webhook_url"]
        if not url.startswith(("https://", "http://")):
            raise DeliveryError(
                '[campaigns] delivery = "slack" needs slack_webhook_url (https://hooks.slack.com/...)', transient=False
            )
        return SlackDelivery(url)
    directory = Path(section["outbox_dir"])
    if not directory.is_absolute() and base_dir is not None:
        directory = base_dir / directory
    return OutboxDelivery(directory, now, sender=section["ses_sender"] or DEFAULT_SENDER)
