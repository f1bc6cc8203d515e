"""[[scheduler.jobs]] in config.toml: checked before the scheduler starts; fire times from explicit times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from auditor import config, configure
from auditor.schedule.jobs import campaign_name, parse_jobs


def load(tmp_path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return configure.load(path)


NIGHTLY = '[[scheduler.jobs]]\nid = "nightly"\nkind = "run"\ncron = "0 2 * * *"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[scheduler.jobs]]\nid = "x"\nkind = "nightly"\ncron = "0 2 * * *"\n', "kind must be one of run, campaign"),
        ('[[scheduler.jobs]]\nid = "x"\nkind = "run"\ncron = "0 2 * *"\n', "must have 5 fields"),
        ('[[scheduler.jobs]]\nid = "x"\nkind = "run"\ncron = "0 25 * * *"\n', "scheduler.jobs[1] (id 'x').cron"),
        ('[[scheduler.jobs]]\nid = "x"\nkind = "run"\ncron = "0 2 * * 1-5"\n', "day of week by name"),
        (
            '[[scheduler.jobs]]\nid = "x"\nkind = "run"\ncron = "0 2 * * *"\ntimezone = "Mars/Olympus"\n',
            "not an IANA time zone",
        ),
        ('[[scheduler.jobs]]\nid = "x"\nkind = "close"\ncron = "0 2 * * *"\n', "(id 'x'): missing undecided"),
        (
            '[[scheduler.jobs]]\nid = "x"\nkind = "close"\ncron = "0 2 * * *"\nundecided = "maybe"\n',
            "expected revoke, keep_flagged or extend:DAYS",
        ),
        ('[[scheduler.jobs]]\nid = "x"\nkind = "retention"\ncron = "0 2 * * *"\n', "missing keep_days"),
        (
            '[[scheduler.jobs]]\nid = "x"\nkind = "retention"\ncron = "0 2 * * *"\nkeep_days = 0\n',
            "keep_days must be 1 or more",
        ),
        (
            '[[scheduler.jobs]]\nid = "x"\nkind = "run"\ncron = "0 2 * * *"\nundecided = "revoke"\n',
            "unknown key undecided for a run job",
        ),
        (
            '[[scheduler.jobs]]\nid = "x"\nkind = "campaign"\ncron = "0 2 1 * *"\nname = "{yr} review"\n',
            "the fields a name may use are {year}",
        ),
        (
            '[[scheduler.jobs]]\nid = "x"\nkind = "campaign"\ncron = "0 2 1 * *"\nreviewer = "boss"\n',
            "expected one of manager",
        ),
        (NIGHTLY + NIGHTLY, "scheduler.jobs[2] (id 'nightly'): id 'nightly' is used by another job"),
        ('[scheduler]\nlog_format = "xml"\n', "scheduler.log_format must be one of text, json"),
        ('[notifications]\nchannels = ["pager"]\n', "notifications.channels may hold only outbox, sns, slack, ses"),
    ],
)
def test_a_bad_job_is_an_error_naming_the_file_the_job_and_the_key(tmp_path, text, message):
    with pytest.raises(config.ConfigError) as error:
        load(tmp_path, text)
    assert message in str(error.value)
    assert str(tmp_path / "config.toml") in str(error.value)


def test_jobs_get_their_defaults_from_the_related_sections(tmp_path):
    settings = load(
        tmp_path,
        '[scheduler]\ntimezone = "Europe/Paris"\n[campaigns]\ndefault_duration_days = 10\n'
        '[[scheduler.jobs]]\nid = "q"\nkind = "campaign"\ncron = "0 8 1 jan,apr,jul,oct *"\n',
    )
    (job,) = parse_jobs(settings.get("scheduler", "jobs"), settings.values)
    assert job.timezone == "Europe/Paris" and job.options["duration_days"] == 10
    assert job.options["reviewer"] == "manager" and job.locks == ("campaign",)


def test_fire_times_follow_the_job_time_zone_across_daylight_saving():
    (job,) = parse_jobs(
        [{"id": "n", "kind": "run", "cron": "0 2 * * *", "timezone": "Europe/Paris"}], config.defaults().values
    )
    assert job.next_fire_time(datetime(2026, 3, 20, 12, 0, tzinfo=UTC)) == datetime(2026, 3, 21, 1, 0, tzinfo=UTC)
    assert job.next_fire_time(datetime(2026, 4, 1, 12, 0, tzinfo=UTC)) == datetime(2026, 4, 2, 0, 0, tzinfo=UTC)
    assert job.next_fire_time(datetime(2026, 10, 26, 12, 0, tzinfo=UTC)) == datetime(2026, 10, 27, 1, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="naive"):
        job.next_fire_time(datetime(2026, 1, 1))


def test_the_latest_occurrence_coalesces_misses_within_the_grace_time():
    (job,) = parse_jobs([{"id": "r", "kind": "remind", "cron": "*/15 * * * *"}], config.defaults().values)
    now = datetime(2026, 12, 1, 9, 40, tzinfo=UTC)
    assert job.latest_occurrence(now, 3600) == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert job.latest_occurrence(now, 300) is None  # 09:30 is 10 minutes late: outside a 5-minute grace


def test_campaign_names_by_quarter():
    assert (
        campaign_name("{year} Q{quarter} access review", datetime(2027, 4, 1, 6, tzinfo=UTC)) == "2027 Q2 access review"
    )
    assert campaign_name("Review {date}", datetime(2026, 12, 31, tzinfo=UTC)) == "Review 2026-12-31"
