"""Retention: the only deletion, explicit and configured; never the latest run or one under review."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from auditor.campaign import create_campaign
from auditor.store import audit_log
from tests.campaign.estate import spec
from tests.schedule.conftest import fake_pipeline, make_settings, stepped_service

JOBS = [
    {"id": "nightly", "kind": "run", "cron": "0 2 * * *"},
    {"id": "retention", "kind": "retention", "cron": "30 3 * * sun", "keep_days": 3},
]


def test_retention_deletes_old_run_directories_except_the_latest_and_those_under_review(tmp_path, store, clock):
    settings = make_settings(tmp_path, JOBS)
    service = stepped_service(settings, store, clock, run_pipeline=fake_pipeline())
    dirs = []
    for day in range(6):
        clock.now = datetime(2026, 12, 1 + day, 2, 0, tzinfo=UTC)
        dirs.append(Path(service.fire_now("nightly").detail["out_dir"]))
        if day == 1:  # a campaign opened on the second run and still open
            create_campaign(store, settings, spec(due=clock.now + timedelta(days=30)), now=clock.now, run_dir=dirs[-1])
    stray = tmp_path / "runs" / "notes"
    stray.mkdir()
    store.record_run(
        kind="run",
        started_at=clock.now,
        as_of=datetime(2026, 11, 1, tzinfo=UTC),
        config_hash=None,
        tool_version="0",
        exit_code=0,
        duration=0.0,
        findings_now=[],
        counts={},
        sources=[],
        out_dir=str(stray),
    )

    clock.now = datetime(2026, 12, 6, 3, 30, tzinfo=UTC)
    result = service.fire_now("retention")
    assert result.status == "ok"
    assert [Path(p).name for p in result.detail["deleted"]] == [dirs[0].name, dirs[2].name]
    assert [d.is_dir() for d in dirs] == [False, True, False, True, True, True]
    assert any("reviewed by an open campaign" in k for k in result.detail["kept"])
    assert stray.is_dir()  # the latest recorded run, and not a run directory anyway
    with store.engine.connect() as conn:
        logged = conn.execute(sa.select(audit_log.c.subject).where(audit_log.c.action == "retention.delete")).all()
    assert [Path(s).name for (s,) in logged] == [dirs[0].name, dirs[2].name]
    assert len(store.recent_runs(limit=20)) == 7  # the history stays


def test_without_a_retention_job_nothing_is_ever_deleted(tmp_path, store, clock):
    settings = make_settings(tmp_path, JOBS[:1])
    service = stepped_service(settings, store, clock, run_pipeline=fake_pipeline())
    for day in range(3):
        clock.now = datetime(2026, 12, 1 + day, 2, 0, tzinfo=UTC) + timedelta(days=400 * day)
        service.fire_now("nightly")
    assert len(list((tmp_path / "runs").iterdir())) == 3
    assert "retention" not in service.jobs


def test_retention_deletes_only_what_a_run_wrote_never_the_rest_of_its_directory(tmp_path, store, clock):
    """A run recorded with ``--out ~`` must not make retention delete the home directory."""
    settings = make_settings(tmp_path, JOBS)
    service = stepped_service(settings, store, clock, run_pipeline=fake_pipeline())
    clock.now = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    home = Path(service.fire_now("nightly").detail["out_dir"])
    (home / "thesis.tex").write_text("years of work")
    (home / "projects").mkdir()
    (home / "projects" / "notes.md").write_text("keep me")
    written = sorted(p.name for p in home.iterdir())
    for day in range(2, 6):
        clock.now = datetime(2026, 12, day, 2, 0, tzinfo=UTC)
        service.fire_now("nightly")

    clock.now = datetime(2026, 12, 9, 3, 30, tzinfo=UTC)
    result = service.fire_now("retention")

    assert result.status == "ok" and str(home) in result.detail["deleted"]
    assert (home / "thesis.tex").read_text() == "years of work"
    assert (home / "projects" / "notes.md").read_text() == "keep me"
    assert sorted(p.name for p in home.iterdir()) == ["projects", "thesis.tex"]
    assert set(written) - {"projects", "thesis.tex"}  # the run's own files were there, and are gone
