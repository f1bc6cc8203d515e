"""Notifications after a run: a digest of what changed, to SNS, Slack, email (SES) or the outbox."""

from auditor.notify.channels import Channel, MessageChannel, SlackChannel, SnsChannel, channels_from_settings
from auditor.notify.digest import Digest, build_digest
from auditor.notify.send import NotifyResult, notify_run, report_link

__all__ = [
    "Channel",
    "Digest",
    "MessageChannel",
    "NotifyResult",
    "SlackChannel",
    "SnsChannel",
    "build_digest",
    "channels_from_settings",
    "notify_run",
    "report_link",
]
