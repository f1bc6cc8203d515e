"""The nightly Step Functions workflow, its steps run in the template's order against the sandbox.

The definition is read from deploy/template.yaml, so the test follows the
states as they are deployed; each Lambda task calls the workflow's handler.
The run it publishes holds the snapshot `auditor collect` takes of the same
estate (CloudTrail read by Athena there, from S3 here: the same activity).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import boto3
import msgspec
import pytest
import yaml

from auditor import snapshot as snapshots
from auditor.cli import main
from auditor.deploy.stepfunctions import handle_step
from auditor.sandbox import start_sandbox
from tests.deploy import statemachine

pytestmark = pytest.mark.e2e

AS_OF = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
BUCKET = "auditor-data-workflow"
TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "template.yaml"
CONFIG = """
[campaigns]
fallback_reviewer = "security@example.com"
[cloudtrail.athena]
output_location = "s3://{bucket}/athena-results/"
[[scheduler.jobs]]
id = "nightly"
kind = "run"
cron = "0 2 * * *"
"""


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    with start_sandbox(size="tiny", seed=5, as_of=AS_OF, workdir=tmp_path_factory.mktemp("workflow")) as sandbox:
        yield sandbox


@pytest.fixture
def estate(box, monkeypatch, tmp_path):
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    for key, value in box.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    config = CONFIG.format(bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="auditor/config.toml", Body=config.encode())
    s3.put_object(Bucket=BUCKET, Key="auditor/hr.csv", Body=Path(box.hr_feed).read_bytes())
    (tmp_path / "config.toml").write_text(config)
    environ = {
        "AUDITOR_BUCKET": BUCKET,
        "AUDITOR_PREFIX": "auditor/",
        "AUDITOR_WORKDIR": str(tmp_path / "lambda"),
        "AUDITOR_CONFIG": f"s3://{BUCKET}/auditor/config.toml",
        "AUDITOR_HR_FEED": f"s3://{BUCKET}/auditor/hr.csv",
    }
    return s3, environ, tmp_path


def definition() -> dict:
    """The state machine as deployed (CloudFormation's short tags do not occur in it; elsewhere they read as None)."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    return yaml.load(TEMPLATE.read_text(), Loader=Loader)["Resources"]["NightlyWorkflow"]["Properties"]["Definition"]


def records(snapshot: snapshots.Snapshot) -> dict[str, list[bytes]]:
    return {name: sorted(msgspec.json.encode(r) for r in snapshot.table(name)) for name in snapshots.TABLES}


def sources(snapshot: snapshots.Snapshot) -> list[tuple]:
    """Each source's outcome; CloudTrail's detail says which engine read it, so only its outcome is compared."""
    return sorted(
        (s.source, s.account_id or "", s.status, s.error, s.coverage_start, s.coverage_end)
        + (
            (json.dumps(s.tables), json.dumps(s.detail, sort_keys=True, default=str))
            if s.source != "cloudtrail"
            else ()
        )
        + ((json.dumps(s.tables),) if s.source == "cloudtrail" else ())
        for s in snapshot.manifest.sources
    )


def test_the_workflow_publishes_the_snapshot_auditor_collect_takes(box, estate):
    s3, environ, tmp_path = estate
    steps: list[str] = []

    def invoke(function: str, payload: dict):
        assert function == "${WorkflowFunctionArn}"
        steps.append(payload["step"])
        answer = handle_step(json.loads(json.dumps(payload)), environ, s3=s3)
        return json.loads(json.dumps(answer))  # what Step Functions passes on is JSON

    output = statemachine.run(definition(), {"as_of": AS_OF.isoformat()}, invoke)

    accounts = sorted(box.accounts.values())
    assert steps == ["accounts", *["iam"] * len(accounts), "identity_center", "cloudtrail", "merge", "analyse"]
    assert output["status"] == "ok", output
    published = output["detail"]["report"].removeprefix(f"s3://{BUCKET}/")
    run_dir = tmp_path / "published"
    for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{published}/snapshot/")["Contents"]:
        target = run_dir / item["Key"].rsplit("/", 1)[-1]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read())
    workflow = snapshots.load(run_dir)
    athena = [s for s in workflow.manifest.sources if s.source == "cloudtrail"]
    assert {s.detail["engine"] for s in athena} == {"athena"} and all(
        s.detail["data_scanned_bytes"] > 0 for s in athena
    )
    # activity, the actions called and the access changes, all vouched for by the one query
    assert {tuple(sorted(s.tables)) for s in athena} == {("action_usage", "activity", "lifecycle_events")}

    out, feed = tmp_path / "collected", tmp_path / "lambda" / "input" / "hr.csv"  # the feed as the workflow read it
    code = main(
        ["collect", "--config", str(tmp_path / "config.toml"), "--hr-feed", str(feed), "--out", str(out)]
        + ["--as-of", AS_OF.isoformat(), "--state", str(tmp_path / "cli-state.db")]
    )
    assert code == 0
    collected = snapshots.load(out / "snapshot")
    assert collected.manifest.as_of == workflow.manifest.as_of
    assert records(workflow) == records(collected)
    assert sources(workflow) == sources(collected)
    assert workflow.manifest.unreadable == collected.manifest.unreadable
    assert len(workflow.table("activity")) > 100 and len(workflow.table("iam_users")) > 5
    assert os.environ["AWS_ENDPOINT_URL"] == box.endpoint_url
