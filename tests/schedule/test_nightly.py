"""The nightly run: micro-certifications are opened by the nightly run, never inside a bare pipeline run."""

from __future__ import annotations

from pathlib import Path

from auditor import config
from auditor.campaign import list_campaigns
from auditor.config import Settings
from auditor.schedule.jobs import Job
from auditor.schedule.nightly import nightly_run, run_directory
from auditor.store import Store
from tests.campaign.estate import AS_OF, NOW
from tests.campaign.test_micro import record_earlier_run
from tests.schedule.conftest import fake_pipeline, make_settings


def test_the_nightly_run_opens_micro_certifications_and_a_bare_run_does_not(tmp_path):
    settings = make_settings(tmp_path, [])
    bare_store, night_store = Store.open(tmp_path / "bare.db"), Store.open(tmp_path / "night.db")
    for store in (bare_store, night_store):
        record_earlier_run(store)  # not a first run: a first run is a baseline and opens nothing

    bare = fake_pipeline()(settings, out_dir=tmp_path / "bare", as_of=AS_OF, hr_feed=None, store=bare_store)
    assert bare.run_id is not None and bare.micro_campaigns == []
    assert list_campaigns(bare_store, now=NOW) == []

    night = nightly_run(
        settings, night_store, out_dir=tmp_path / "night", as_of=AS_OF, hr_feed=None, run_pipeline=fake_pipeline()
    )
    assert [(m.user_name, m.reviewer) for m in night.micro_campaigns] == [
        ("ana", "boss@example.com"),
        ("dana", "boss@example.com"),
    ]
    assert {c.campaign.kind for c in list_campaigns(night_store, now=NOW)} == {"micro"}


def test_the_hr_feed_of_a_job_or_the_config_is_relative_to_the_config_file(tmp_path):
    source = tmp_path / "etc" / "config.toml"
    values = config.validate({"hr": {"feed": "hr.csv"}}, "test config")
    settings = Settings(values=values, source=source)
    assert settings.hr_feed() == tmp_path / "etc" / "hr.csv"
    assert settings.hr_feed("night/hr.csv") == tmp_path / "etc" / "night" / "hr.csv"
    assert settings.hr_feed("/data/hr.csv") == Path("/data/hr.csv")
    assert Settings(values=values).hr_feed() == Path("hr.csv")  # no config file: the working directory
    assert config.defaults().hr_feed() is None


def test_each_nightly_run_writes_its_own_directory_unless_the_job_names_one(tmp_path):
    settings = make_settings(tmp_path, [])
    job = Job(id="nightly", kind="run", cron="0 2 * * *", timezone="UTC", options={"out_dir": ""})
    assert run_directory(settings, job, AS_OF) == tmp_path / "runs" / f"run-{AS_OF:%Y%m%dT%H%M%SZ}"
    fixed = Job(id="nightly", kind="run", cron="0 2 * * *", timezone="UTC", options={"out_dir": "out"})
    assert run_directory(settings, fixed, AS_OF) == Path("out")
