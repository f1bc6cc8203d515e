"""After a run: build the digest and send it to every configured channel (unless nothing changed)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from auditor.campaign.deliver import DeliveryError
from auditor.config import Settings
from auditor.notify.channels import Channel, channels_from_settings
from auditor.notify.digest import Digest, build_digest

log = logging.getLogger("auditor.notify")


@dataclass
class NotifyResult:
    digest: Digest | None
    sent: list[tuple[str, str]] = field(default_factory=list)  # (channel, reference)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (channel, error)
    skipped: str | None = None  # why nothing was sent

    def summary(self) -> dict:
        return {
            "sent": [c for c, _ in self.sent],
            "failed": [f"{c}: {e}" for c, e in self.failed],
            "skipped": self.skipped,
        }


def report_link(settings: Settings, out_dir: Path, location: str) -> str:
    """Where readers open the report: under [notifications] report_url if set, else where it was published."""
    base = settings.get("notifications", "report_url")
    if base:
        return f"{base.rstrip('/')}/{Path(out_dir).name}/report.html"
    return f"{location.rstrip('/')}/report.html"


def incomplete_sources(result) -> list[str]:
    items = []
    for status in result.snapshot.manifest.sources:
        if status.status != "ok":
            where = f" account {status.account_id}" if status.account_id else ""
            items.append(f"{status.source}{where}: {status.status}: {status.error or ''}".rstrip(": "))
    unreadable = result.snapshot.manifest.unreadable
    if unreadable:
        items.append(f"{len(unreadable)} unreadable input(s), e.g. {unreadable[0].what}: {unreadable[0].error}")
    return items


def notify_run(
    result,
    settings: Settings,
    *,
    now: datetime,
    report_location: str,
    channels: list[Channel] | None = None,
) -> NotifyResult:
    """Send the digest of a recorded run (``auditor.pipeline.RunResult``) to the configured channels."""
    section = settings.section("notifications")
    channels = channels_from_settings(settings, now=now) if channels is None else channels
    if not channels:
        return NotifyResult(None, skipped="no channel configured ([notifications] channels)")
    digest = build_digest(
        result.findings,
        run_id=result.run_id,
        as_of=result.snapshot.manifest.as_of,
        exit_code=result.exit_code,
        incomplete=incomplete_sources(result),
        report_link=report_link(settings, result.out_dir, report_location),
        min_severity=section["min_severity"],
        max_listed=section["max_listed"],
    )
    if not digest.changed and not section["send_when_unchanged"]:
        return NotifyResult(digest, skipped="nothing new or resolved, and the run was complete")
    outcome = NotifyResult(digest)
    for channel in channels:
        try:
            outcome.sent.append((channel.name, channel.send(digest.subject, digest.body)))
        except DeliveryError as exc:
            log.warning("digest not sent", extra={"channel": channel.name, "error": str(exc)})
            outcome.failed.append((channel.name, str(exc)))
    return outcome
