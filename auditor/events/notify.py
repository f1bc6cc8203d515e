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


def notify_findings(
    check: CheckResult, settings: Settings, *, now: datetime, what: str, only_new: bool = True, channels=None
) -> list[str]:
    """Send the check's findings at or above the threshold (worst first) to every channel; the channels that took it.

    ``only_new``: just the new ones, so an HR event that confirms what the
    nightly run reported stays quiet. A grant seen in CloudTrail sends every
    live one: access granted to a known leaver is news although the leaver's
    finding is not.
    """
    threshold = Severity(settings.get("notifications", "min_severity")).rank
    wanted = ("new",) if only_new else ("new", "open")
    new = [f for f in sort_findings(check.findings) if f.status in wanted and Severity(f.severity).rank >= threshold]
    if not new:
        return []
    channels = channels_from_settings(settings, now=now) if channels is None else channels
    who = check.user.user_name if check.user else (check.person.email if check.person else "a principal")
    subject = f"auditor: {len(new)} finding(s) for {who} after {what}"[:100]
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
