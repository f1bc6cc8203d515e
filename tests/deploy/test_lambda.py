"""The Lambda entry point on moto's S3: state and runs survive from one invocation (container) to the next."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from auditor.deploy.lambda_handler import JobFailed, handle_event
from auditor.deploy.s3state import StateConflict
from auditor.store import Store
from tests.schedule.conftest import FakeClock, fake_pipeline

BUCKET = "auditor-data-test"
CONFIG = """
[campaigns]
fallback_reviewer = "security@example.com"
[[scheduler.jobs]]
id = "nightly"
kind = "run"
cron = "0 2 * * *"
[[scheduler.jobs]]
id = "quarterly-review"
kind = "campaign"
cron = "0 6 1 jan,apr,jul,oct *"
duration_days = 14
[[scheduler.jobs]]
id = "close-due"
kind = "close"
cron = "0 9 * * *"
undecided = "keep_flagged"
"""


@pytest.fixture
def s3(monkeypatch, tmp_path):
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.chdir(tmp_path)  # the handler moves into its working directory
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key="auditor/config.toml", Body=CONFIG.encode())
        client.put_object(Bucket=BUCKET, Key="auditor/hr.csv", Body=b"employee_id,email\n")
        yield client


def environ(workdir) -> dict[str, str]:
    return {
        "AUDITOR_BUCKET": BUCKET,
        "AUDITOR_PREFIX": "auditor/",
        "AUDITOR_WORKDIR": str(workdir),
        "AUDITOR_CONFIG": f"s3://{BUCKET}/auditor/config.toml",
        "AUDITOR_HR_FEED": f"s3://{BUCKET}/auditor/hr.csv",
    }


def keys(s3) -> set[str]:
    return {item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


def test_the_nightly_run_and_the_quarterly_campaign_in_two_invocations(s3, tmp_path):
    clock = FakeClock(datetime(2027, 1, 1, 2, 0, 5, tzinfo=UTC))
    nightly = handle_event(
        {"job": "nightly"}, environ(tmp_path / "first"), clock=clock, s3=s3, run_pipeline=fake_pipeline()
    )
    assert nightly["status"] == "ok"
    assert nightly["detail"]["report"] == f"s3://{BUCKET}/auditor/runs/run-20270101T020005Z"
    assert {
        "auditor/state.db",
        "auditor/runs/run-20270101T020005Z/report.html",
        "auditor/runs/run-20270101T020005Z/snapshot/manifest.json",
    } <= keys(s3)

    # a new container: nothing on its disk; the state and the reviewed run come back from S3
    clock.now += timedelta(hours=4)
    quarterly = handle_event({"job": "quarterly-review"}, environ(tmp_path / "second"), clock=clock, s3=s3)
    assert quarterly["status"] == "ok", quarterly["detail"]
    assert quarterly["detail"]["name"] == "2027 Q1 access review"
    assert any(k.startswith("auditor/outbox/") for k in quarterly["uploaded"])  # the packets were sent
    assert any(k.startswith("auditor/campaign-packets/campaign-1/") for k in quarterly["uploaded"])

    local = tmp_path / "check.db"
    local.write_bytes(s3.get_object(Bucket=BUCKET, Key="auditor/state.db")["Body"].read())
    with Store.open(local).engine.connect() as conn:
        jobs = [tuple(r) for r in conn.exec_driver_sql("SELECT job_id, status FROM job_runs ORDER BY id")]
        campaigns = [r[0] for r in conn.exec_driver_sql("SELECT name FROM campaigns")]
    assert jobs == [("nightly", "ok"), ("quarterly-review", "ok")] and campaigns == ["2027 Q1 access review"]


def test_a_state_file_replaced_meanwhile_is_not_overwritten(s3, tmp_path):
    clock = FakeClock(datetime(2027, 1, 1, 2, 0, tzinfo=UTC))
    handle_event({"job": "nightly"}, environ(tmp_path / "a"), clock=clock, s3=s3, run_pipeline=fake_pipeline())

    def meddle(*args, **kwargs):  # another writer replaces the state while this job runs
        s3.put_object(Bucket=BUCKET, Key="auditor/state.db", Body=b"someone else's state")
        return fake_pipeline()(*args, **kwargs)

    clock.now += timedelta(days=1)
    with pytest.raises(StateConflict, match="was replaced while this job ran"):
        handle_event({"job": "nightly"}, environ(tmp_path / "b"), clock=clock, s3=s3, run_pipeline=meddle)
    assert s3.get_object(Bucket=BUCKET, Key="auditor/state.db")["Body"].read() == b"someone else's state"


def test_a_failed_job_fails_the_invocation_and_an_unknown_job_is_refused(s3, tmp_path):
    clock = FakeClock(datetime(2027, 1, 1, 6, 0, tzinfo=UTC))
    with pytest.raises(JobFailed, match="no recorded run to review"):
        handle_event({"job": "quarterly-review"}, environ(tmp_path / "a"), clock=clock, s3=s3)
    with pytest.raises(ValueError, match="no job 'weekly'"):
        handle_event({"job": "weekly"}, environ(tmp_path / "b"), clock=clock, s3=s3)
    with pytest.raises(ValueError, match="the event must name a job"):
        handle_event(json.loads("{}"), environ(tmp_path / "c"), clock=clock, s3=s3)


def test_the_state_url_comes_from_its_secret_once_per_container(s3, tmp_path, monkeypatch):
    from auditor.deploy import lambda_handler

    monkeypatch.setattr(lambda_handler, "_SECRETS", {})  # a new container
    database = tmp_path / "elsewhere" / "state.db"
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    arn = secrets.create_secret(Name="auditor/state-url", SecretString=f"sqlite:///{database}\n")["ARN"]
    reads = []

    class Counting:
        def get_secret_value(self, **kwargs):
            reads.append(kwargs)
            return secrets.get_secret_value(**kwargs)

    clock = FakeClock(datetime(2027, 1, 1, 2, 0, tzinfo=UTC))
    env = {**environ(tmp_path / "a"), "AUDITOR_STATE_SECRET_ARN": arn}
    handle_event({"job": "nightly"}, env, clock=clock, s3=s3, secrets=Counting(), run_pipeline=fake_pipeline())
    clock.now += timedelta(days=1)
    env = {**environ(tmp_path / "b"), "AUDITOR_STATE_SECRET_ARN": arn}
    handle_event({"job": "nightly"}, env, clock=clock, s3=s3, secrets=Counting(), run_pipeline=fake_pipeline())

    assert reads == [{"SecretId": arn}]  # the warm container kept the URL
    assert "auditor/state.db" not in keys(s3)
    with Store.open(database).engine.connect() as conn:
        assert [r[0] for r in conn.exec_driver_sql("SELECT status FROM job_runs ORDER BY id")] == ["ok", "ok"]


def test_the_audit_key_comes_from_its_secret_so_the_chain_verifies_across_cold_starts(s3, tmp_path, monkeypatch):
    from auditor.deploy import lambda_handler
    from auditor.store import keys as keyfiles

    keyfile = tmp_path / "made-once.key"
    keyfiles.open_or_create(keyfile, dict, datetime(2026, 12, 1, tzinfo=UTC))  # made once, kept in Secrets Manager
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    arn = secrets.create_secret(Name="auditor/audit-key", SecretString=keyfile.read_text())["ARN"]
    clock = FakeClock(datetime(2027, 1, 1, 2, 0, tzinfo=UTC))
    for night, workdir in enumerate(("a", "b")):  # two containers: nothing on local disk survives
        monkeypatch.setattr(lambda_handler, "_SECRETS", {})
        clock.now += timedelta(days=night)
        env = {**environ(tmp_path / workdir), "AUDITOR_AUDIT_KEY_SECRET_ARN": arn}
        handle_event({"job": "nightly"}, env, clock=clock, s3=s3, secrets=secrets, run_pipeline=fake_pipeline())

    state = tmp_path / "check.db"
    state.write_bytes(s3.get_object(Bucket=BUCKET, Key="auditor/state.db")["Body"].read())
    checked, problem = Store.open(state, key_file=keyfile).verify_audit()
    assert problem is None and checked >= 2  # both nights' entries, under the one key
    stranger = tmp_path / "another.key"
    keyfiles.open_or_create(stranger, dict, datetime(2026, 12, 1, tzinfo=UTC))
    assert Store.open(state, key_file=stranger).verify_audit()[1] is not None  # a cold start's own key would not do
    assert not [k for k in keys(s3) if k.endswith(".key") or "/keys/" in k]  # the key never reaches the bucket
