"""After an event's check: its new findings at or above [notifications] min_severity, to the configured channels."""

from __future__ import annotations

import logging
from datetime import datetime

from auditor.campaign.deliver import DeliveryError
from auditor.config import Settings
from auditor.events.check import CheckResult
from auditor.model import Severity, sort_findings
from auditor.notify import channels_from_settings

log = logging.getLogger("auditor.events")


def notify_findings(check: CheckResult, settings: Settings, *, now: datetime, what: str, channels=None) -> list[str]:
    """Send the check's new findings (worst first) to every channel; the channels that took it.

    Nothing is sent when nothing new reaches the threshold: an event that
    only confirms what the nightly run already reported stays quiet.
    """
    threshold = Severity(settings.get("notifications", "min_severity")).rank
    new = [f for f in sort_findings(check.findings) if f.status == "new" and Severity(f.severity).rank >= threshold]
    if not new:
        return []
    channels = channels_from_settings(settings, now=now) if channels is None else channels
    who = check.user.user_name if check.user else (check.person.email if check.person else "a principal")
    subject = f"auditor: {len(new)} new finding(s) for {who}"[:100]
    lines = [f"After {what}, a check of {who} found:", ""]
    for finding in new:
        where = f" in {finding.account_id}" if finding.account_id else ""
        lines.append(f"  - [{finding.severity}] {finding.title}{where} ({finding.rule_id}, {finding.finding_id[:12]})")
    body = "\n".join(lines) + "\n"
    sent = []
    for channel in channels:
        try:
            channel.send(subject, body)
            sent.append(channel.name)
        except DeliveryError as exc:
            log.warning("event notification not sent", extra={"channel": channel.name, "error": str(exc)})
    return sent
