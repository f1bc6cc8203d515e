"""The scheduler on a fake clock: nightly runs, the quarterly campaign, reminders, closing on the due date."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from auditor.campaign.schema import campaign_messages
from auditor.campaign.state import all_campaigns
from auditor.schedule import service as service_module
from auditor.schedule.runner import last_runs
from tests.campaign.estate import FALLBACK
from tests.schedule.conftest import advance, fake_pipeline, make_settings, stepped_service

JOBS = [
    {"id": "nightly", "kind": "run", "cron": "0 6 * * *"},
    {
        "id": "quarterly",
        "kind": "campaign",
        "cron": "0 8 1 mar,jun,sep,dec *",
        "timezone": "Europe/Paris",
        "duration_days": 14,
    },
    {"id": "reminders", "kind": "remind", "cron": "0 8 * * *"},
    {"id": "close-due", "kind": "close", "cron": "0 9 * * *", "undecided": "keep_flagged"},
]


@pytest.fixture
def running(tmp_path, store, apscheduler_clock, monkeypatch):
    """A started service on the stepped scheduler, registered as this process's service."""
    jobs = [dict(j) for j in JOBS]
    jobs[1]["packets_dir"] = str(tmp_path / "packets")
    jobs[3]["evidence_dir"] = str(tmp_path / "evidence")
    settings = make_settings(tmp_path, jobs)
    runs: list[datetime] = []
    service = stepped_service(settings, store, apscheduler_clock, run_pipeline=fake_pipeline(runs))
    monkeypatch.setattr(service_module, "_service", service)
    assert service.sync() == {"nightly": "added", "quarterly": "added", "reminders": "added", "close-due": "added"}
    service.scheduler.start()
    yield service, runs
    service.scheduler.shutdown()


def test_a_quarter_runs_nightly_opens_the_campaign_reminds_and_closes_it_on_the_due_date(
    running, apscheduler_clock, tmp_path, store
):
    service, runs = running
    clock = apscheduler_clock

    advance(service, clock, datetime(2026, 12, 1, 6, 30, tzinfo=UTC))
    assert runs == [datetime(2026, 11, 30, 6, 0, 2, tzinfo=UTC), datetime(2026, 12, 1, 6, 0, 2, tzinfo=UTC)]
    assert store.latest_run()["out_dir"].endswith("run-20261201T060002Z")
    assert all_campaigns(store) == []

    # 08:00 in Paris is 07:00 UTC: the campaign opens an hour after the nightly run it reviews
    advance(service, clock, datetime(2026, 12, 1, 7, 30, tzinfo=UTC))
    (campaign,) = all_campaigns(store)
    assert campaign.name == "2026 Q4 access review"
    assert campaign.status == "open" and campaign.created_by == "scheduler:quarterly"
    assert campaign.due_at == datetime(2026, 12, 15, 23, 59, 59, tzinfo=UTC)
    packets = list((tmp_path / "packets" / f"campaign-{campaign.id}").glob("*.html"))
    assert packets, "the reviewers' packets were not written"
    sent = sorted((tmp_path / "outbox").glob("*.eml"))
    assert sent, "the packets were not sent"

    # reminders go out once each at the first daily run 7, 3 and 1 day(s) before the due time (23:59:59)
    advance(service, clock, datetime(2026, 12, 15, 12, 0, tzinfo=UTC))
    with store.engine.connect() as conn:
        messages = conn.execute(
            sa.select(campaign_messages.c.reviewer, campaign_messages.c.step_days, campaign_messages.c.sent_at).where(
                campaign_messages.c.kind == "reminder"
            )
        ).all()
    steps: dict[str, list[tuple[int, datetime]]] = {}
    for reviewer, days, sent_at in messages:
        steps.setdefault(reviewer, []).append((days, sent_at))
    assert steps == {
        reviewer: [
            (7, datetime(2026, 12, 9, 8, 0, 2, tzinfo=UTC)),
            (3, datetime(2026, 12, 13, 8, 0, 2, tzinfo=UTC)),
            (1, datetime(2026, 12, 15, 8, 0, 2, tzinfo=UTC)),
        ]
        for reviewer in ("boss@example.com", "ceo@example.com", FALLBACK)
    }
    subjects = [email.message_from_bytes(p.read_bytes())["Subject"] for p in (tmp_path / "outbox").glob("*reminder*")]
    assert len(subjects) == 9 and all(s.startswith("Reminder") for s in subjects)
    assert all_campaigns(store)[0].status == "open"

    # the day after the due date, the close job settles undecided items by the configured policy
    advance(service, clock, datetime(2026, 12, 16, 10, 0, tzinfo=UTC))
    (closed,) = all_campaigns(store)
    assert closed.status == "closed" and closed.undecided_policy == "keep_flagged"
    assert closed.closed_at == datetime(2026, 12, 16, 9, 0, 2, tzinfo=UTC)
    assert (tmp_path / "evidence" / f"campaign-{closed.id}" / "manifest.json").is_file()

    last = last_runs(store)
    assert {job: last[job]["status"] for job in last} == {
        "nightly": "ok",
        "quarterly": "ok",
        "reminders": "ok",
        "close-due": "ok",
    }
    assert len(runs) == 17  # every night from Nov 30 to Dec 16, once


def test_missed_nights_after_downtime_run_once_within_the_grace_time(tmp_path, store, apscheduler_clock, monkeypatch):
    clock = apscheduler_clock
    settings = make_settings(tmp_path, [JOBS[0]], scheduler={"misfire_grace_seconds": 3 * 3600})
    runs: list[datetime] = []
    first = stepped_service(settings, store, clock, run_pipeline=fake_pipeline(runs))
    monkeypatch.setattr(service_module, "_service", first)
    first.sync()
    first.scheduler.start()
    advance(first, clock, datetime(2026, 11, 30, 7, 0, tzinfo=UTC))
    first.scheduler.shutdown()
    assert len(runs) == 1

    # down for three nights; back at 08:00, two hours after the last missed run
    clock.now = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    again = stepped_service(settings, store, clock, run_pipeline=fake_pipeline(runs))
    monkeypatch.setattr(service_module, "_service", again)
    assert again.sync() == {"nightly": "kept"}  # the stored next run time (Dec 1) is kept, so the miss is seen
    again.scheduler.start()
    again.scheduler._process_jobs()
    assert runs[1:] == [datetime(2026, 12, 3, 8, 0, tzinfo=UTC)]  # once, not three times
    assert last_runs(store)["nightly"]["scheduled_at"] == datetime(2026, 12, 3, 6, 0, tzinfo=UTC)

    # a restart later than the grace time runs nothing until the next night
    again.scheduler.shutdown()
    clock.now = datetime(2026, 12, 5, 11, 0, tzinfo=UTC)
    late = stepped_service(settings, store, clock, run_pipeline=fake_pipeline(runs))
    monkeypatch.setattr(service_module, "_service", late)
    late.sync()
    late.scheduler.start()
    late.scheduler._process_jobs()
    assert len(runs) == 2
    assert late.jobstore.get_next_run_time() == datetime(2026, 12, 6, 6, 0, tzinfo=UTC)
    late.scheduler.shutdown()


def test_a_changed_cron_expression_replaces_the_stored_job(tmp_path, store, clock):
    settings = make_settings(tmp_path, [JOBS[0]])
    stepped_service(settings, store, clock).sync()
    changed = make_settings(tmp_path, [{**JOBS[0], "cron": "30 5 * * *"}, JOBS[2]])
    service = stepped_service(changed, store, clock)
    assert service.sync() == {"nightly": "changed", "reminders": "added"}
    dropped = make_settings(tmp_path, [JOBS[2]])
    assert stepped_service(dropped, store, clock).sync()["nightly"] == "removed"


def test_the_quarterly_job_refuses_a_stale_run(tmp_path, store, clock):
    from auditor.schedule.jobs import parse_jobs

    settings = make_settings(tmp_path, [JOBS[0], JOBS[1]])
    service = stepped_service(settings, store, clock, run_pipeline=fake_pipeline())
    service.fire_now("nightly")
    clock.now += timedelta(days=3)
    result = service.fire_now("quarterly")
    assert result.status == "failed"
    assert "older than max_run_age_hours (36)" in result.detail["error"]
    assert all_campaigns(store) == []
    assert parse_jobs([JOBS[1]], settings.values)[0].options["duration_days"] == 14
