"""Campaign jobs: open the quarterly campaign, remind and escalate every day, close on the due date.

Each is the library call `auditor campaign ...` makes, with the job's
options and the injected clock. They are safe to run again: a campaign of
the same name is not opened twice, reminders are sent once per step, and
a closed campaign is not closed again.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from auditor.campaign import CampaignError, CampaignSpec, DeliveryError, close_campaign, create_campaign, remind
from auditor.campaign.deliver import delivery_from_settings
from auditor.campaign.distribute import distribute_packets
from auditor.campaign.state import all_campaigns
from auditor.schedule.context import JobContext, Outcome
from auditor.schedule.jobs import Job, campaign_name


def due_date(now: datetime, days: int) -> datetime:
    """The end (23:59:59 UTC) of the day ``days`` after ``now``, as `campaign create` sets it."""
    return datetime.combine((now.astimezone(UTC) + timedelta(days=days)).date(), time(23, 59, 59), tzinfo=UTC)


def create_quarterly(ctx: JobContext, job: Job, scheduled_at: datetime) -> Outcome:
    options = job.options
    now = ctx.clock()
    latest = ctx.store.latest_run()
    if latest is None:
        return Outcome("failed", {"error": "no recorded run to review; schedule a run job before the campaign"})
    age = now - latest["as_of"]
    if age > timedelta(hours=options["max_run_age_hours"]):
        return Outcome(
            "failed",
            {
                "error": f"the latest run (as of {latest['as_of'].isoformat()}) is older than "
                f"max_run_age_hours ({options['max_run_age_hours']}); not reviewing it"
            },
        )
    name = campaign_name(options["name"], scheduled_at.astimezone(job.trigger().timezone))
    existing = [c for c in all_campaigns(ctx.store) if c.name == name and c.kind == "quarterly"]
    if existing:
        return Outcome("ok", {"campaign_id": existing[0].id, "note": f"campaign {name!r} already exists"})
    spec = CampaignSpec(
        name=name,
        due=due_date(now, options["duration_days"]),
        scopes=list(options["scopes"]),
        reviewer=options["reviewer"],
        privileged_only=options["privileged_only"],
    )
    created = create_campaign(ctx.store, ctx.settings, spec, now=now, actor=ctx.actor)
    campaign_id = created.campaign.id
    detail = {
        "campaign_id": campaign_id,
        "name": name,
        "items": created.items,
        "reviewers": len(created.by_reviewer),
        "due_at": created.campaign.due_at.isoformat(),
    }
    if not options["send"]:
        return Outcome("ok", detail)
    done = distribute_packets(
        ctx.store,
        ctx.settings,
        campaign_id,
        Path(options["packets_dir"]) / f"campaign-{campaign_id}",
        now=now,
        actor=ctx.actor,
        send=True,
    )
    failed = [s.packet.reviewer for s in done.not_sent]
    detail.update(packets_sent=len(done.sent) - len(failed), packets_not_sent=failed)
    return Outcome("incomplete" if failed else "ok", detail)


def remind_open(ctx: JobContext, job: Job, scheduled_at: datetime) -> Outcome:
    now = ctx.clock()
    delivery = delivery_from_settings(ctx.settings, now=now)
    sent, failed, done = 0, [], []
    for campaign in all_campaigns(ctx.store):
        if campaign.status != "open":
            continue
        if ctx.stop.is_set():  # stopping: the rest is reminded at the next occurrence
            return Outcome("incomplete", {"campaigns": done, "sent": sent, "stopped": True})
        result = remind(ctx.store, ctx.settings, campaign.id, now=now, delivery=delivery, actor=ctx.actor)
        sent += len(result.sent)
        failed += [f"campaign {campaign.id} to {message.to}: {error}" for message, error in result.failed]
        done.append(campaign.id)
    return Outcome("incomplete" if failed else "ok", {"campaigns": done, "sent": sent, "not_sent": failed})


def close_due(ctx: JobContext, job: Job, scheduled_at: datetime) -> Outcome:
    options = job.options
    now = ctx.clock()
    closed, extended, refused = [], [], []
    for campaign in all_campaigns(ctx.store):
        if campaign.status != "open" or campaign.due_at + timedelta(days=options["after_days"]) > now:
            continue
        if ctx.stop.is_set():
            break
        out_dir = Path(options["evidence_dir"]) / f"campaign-{campaign.id}"
        try:
            result = close_campaign(
                ctx.store, campaign.id, now=now, out_dir=out_dir, undecided=options["undecided"], actor=ctx.actor
            )
        except (CampaignError, DeliveryError) as exc:
            refused.append(f"campaign {campaign.id}: {exc}")
            continue
        if result.closed:
            closed.append(
                {
                    "campaign_id": campaign.id,
                    "evidence": str(out_dir),
                    "manifest_sha256": result.manifest_sha256,
                    **result.counts,
                }
            )
        else:
            extended.append({"campaign_id": campaign.id, "due_at": result.due_at.isoformat()})
    detail = {"closed": closed, "extended": extended, "refused": refused, "stopped": ctx.stop.is_set()}
    return Outcome("incomplete" if refused or ctx.stop.is_set() else "ok", detail)
