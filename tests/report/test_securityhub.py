"""Security Hub import: a round trip through moto's securityhub, and partial failures as AWS reports them."""

import boto3
import msgspec
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from auditor.report.securityhub import BATCH_SIZE, import_findings

from . import moto_securityhub
from .builders import AS_OF, DEV, lifecycle_findings, sample_findings
from .builders import finding as make_finding

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account: the caller


@pytest.fixture
def hub(monkeypatch):
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
    ):
        monkeypatch.setenv(name, value)
    moto_securityhub.install(monkeypatch)
    with mock_aws():
        client = boto3.client("securityhub", region_name=REGION)
        client.enable_security_hub()
        yield client


def all_findings(client) -> dict[str, dict]:
    found = {}
    for page in client.get_paginator("get_findings").paginate():
        found.update({f["Id"]: f for f in page["Findings"]})
    return found


def test_import_then_get_findings_shows_them_filed_in_the_calling_account(hub):
    summary = import_findings(hub, sample_findings(), REGION, ACCOUNT, as_of=AS_OF)
    assert (summary.sent, summary.imported, summary.failed, summary.ok) == (4, 4, [], True)
    found = all_findings(hub)
    assert set(found) == {"auditor/f-crit", "auditor/f-org", "auditor/f-low", "auditor/f-info"}
    assert {f["AwsAccountId"] for f in found.values()} == {ACCOUNT}
    assert {"Type": "AwsAccount", "Id": f"AWS::::Account:{DEV}", "Partition": "aws", "Region": REGION} in found[
        "auditor/f-low"
    ]["Resources"]
    assert found["auditor/f-crit"]["Severity"]["Label"] == "CRITICAL"


def test_reimport_after_resolution_updates_instead_of_duplicating(hub):
    import_findings(hub, sample_findings(), REGION, ACCOUNT, as_of=AS_OF)
    resolved = [
        msgspec.structs.replace(f, status="resolved", resolved_at=AS_OF) if f.finding_id == "f-crit" else f
        for f in sample_findings()
    ]
    summary = import_findings(hub, resolved, REGION, ACCOUNT, as_of=AS_OF)
    assert (summary.imported, summary.archived, summary.workflow_updated, summary.ok) == (4, 1, 1, True)
    found = all_findings(hub)
    assert len(found) == 4
    crit = found["auditor/f-crit"]
    assert (crit["RecordState"], crit["Workflow"], crit["Compliance"]["Status"]) == (
        "ARCHIVED",
        {"Status": "RESOLVED"},
        "PASSED",
    )
    assert found["auditor/f-low"]["RecordState"] == "ACTIVE" and found["auditor/f-low"]["Workflow"]["Status"] == "NEW"
    # found again later: active again (Security Hub then resets the workflow to NEW itself)
    import_findings(hub, sample_findings(), REGION, ACCOUNT, as_of=AS_OF)
    crit = all_findings(hub)["auditor/f-crit"]
    assert (crit["RecordState"], crit["Workflow"]["Status"]) == ("ACTIVE", "NEW")


def test_accepted_risks_are_suppressed_in_the_workflow(hub):
    import_findings(hub, [f for f in lifecycle_findings() if f.status != "suppressed"], REGION, ACCOUNT, as_of=AS_OF)
    summary = import_findings(hub, lifecycle_findings(), REGION, ACCOUNT, as_of=AS_OF)
    found = all_findings(hub)
    assert found["auditor/f-accepted"]["Workflow"]["Status"] == "SUPPRESSED"
    assert found["auditor/f-gone"]["Workflow"]["Status"] == "RESOLVED"
    assert summary.update_calls == 2 and summary.workflow_updated == 2


def test_findings_go_in_batches_of_one_hundred(hub):
    findings = [make_finding(f"f-{n:04d}", title=f"finding {n}") for n in range(2 * BATCH_SIZE + 50)]
    summary = import_findings(hub, findings, REGION, ACCOUNT, as_of=AS_OF)
    assert (summary.import_calls, summary.imported) == (3, 250)
    assert len(all_findings(hub)) == 250


def stubbed():
    client = boto3.client(
        "securityhub", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    return client, Stubber(client)


def test_partial_failures_are_reported_and_not_followed_up():
    client, stub = stubbed()
    findings = [f for f in lifecycle_findings() if f.status in ("new", "resolved")]
    stub.add_response(
        "batch_import_findings",
        {
            "FailedCount": 1,
            "SuccessCount": 1,
            "FailedFindings": [
                {"Id": "auditor/f-gone", "ErrorCode": "InvalidInput", "ErrorMessage": "Finding too big"}
            ],
        },
        {"Findings": ANY},
    )
    with stub:  # the stub also checks each request against the API model
        summary = import_findings(client, findings, REGION, ACCOUNT, as_of=AS_OF)
    stub.assert_no_pending_responses()  # no BatchUpdateFindings for the finding that was refused
    assert summary.failed == [{"Id": "auditor/f-gone", "ErrorCode": "InvalidInput", "ErrorMessage": "Finding too big"}]
    assert (summary.imported, summary.archived, summary.update_calls, summary.ok) == (1, 0, 0, False)


def test_a_refused_batch_marks_each_of_its_findings_failed_and_goes_on():
    client, stub = stubbed()
    findings = [make_finding(f"f-{n:04d}") for n in range(BATCH_SIZE + 1)]
    stub.add_client_error(
        "batch_import_findings", "InvalidAccessException", "Account is not subscribed to AWS Security Hub"
    )
    stub.add_response("batch_import_findings", {"FailedCount": 0, "SuccessCount": 1, "FailedFindings": []})
    with stub:
        summary = import_findings(client, findings, REGION, ACCOUNT, as_of=AS_OF)
    assert len(summary.failed) == BATCH_SIZE
    assert summary.failed[0]["ErrorCode"] == "InvalidAccessException"
    assert summary.imported == 1


def test_workflow_updates_that_security_hub_does_not_process_are_reported():
    client, stub = stubbed()
    [gone] = [f for f in lifecycle_findings() if f.status == "resolved"]
    stub.add_response("batch_import_findings", {"FailedCount": 0, "SuccessCount": 1, "FailedFindings": []})
    identifier = {
        "Id": "auditor/f-gone",
        "ProductArn": f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default",
    }
    stub.add_response(
        "batch_update_findings",
        {
            "ProcessedFindings": [],
            "UnprocessedFindings": [
                {"FindingIdentifier": identifier, "ErrorCode": "FindingNotFound", "ErrorMessage": "Finding Not Found"}
            ],
        },
        {"FindingIdentifiers": [identifier], "Workflow": {"Status": "RESOLVED"}},
    )
    with stub:
        summary = import_findings(client, [gone], REGION, ACCOUNT, as_of=AS_OF)
    assert summary.workflow_failed == [
        {"Id": "auditor/f-gone", "ErrorCode": "FindingNotFound", "ErrorMessage": "Finding Not Found"}
    ]
    assert not summary.ok


def test_a_session_gets_a_client_for_the_region(hub):
    session = boto3.Session(region_name="eu-west-1")
    summary = import_findings(session, sample_findings()[:1], REGION, ACCOUNT, as_of=AS_OF)
    assert summary.imported == 1
    assert len(all_findings(hub)) == 1  # the session's own region was not used
