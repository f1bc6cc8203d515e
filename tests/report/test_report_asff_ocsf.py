"""ASFF records validated against botocore's Security Hub model; OCSF events against the Detection Finding class."""

from datetime import UTC, datetime

import botocore.session
import msgspec
import pytest
from botocore.validate import validate_parameters

from auditor.model import Principal
from auditor.report.asff import asff_finding, asff_findings, product_arn
from auditor.report.ocsf import ocsf_findings
from auditor.rules import RULES

from .builders import AS_OF, DEV, PROD, lifecycle_findings, sample_findings
from .builders import finding as make_finding

REGION = "eu-west-1"
VALID_NAMESPACES = {
    "Software and Configuration Checks",
    "TTPs",
    "Effects",
    "Unusual Behaviors",
    "Sensitive Data Identifications",
}


@pytest.fixture(scope="module")
def finding_shape():
    model = botocore.session.get_session().get_service_model("securityhub")
    return model.operation_model("BatchImportFindings").input_shape


def enum_violations(value, shape, path="") -> list[str]:
    """botocore validates types and required members but not enums or maximums: check those too."""
    problems = []
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            if name in value:
                problems += enum_violations(value[name], member, f"{path}.{name}")
    elif shape.type_name == "list":
        if "max" in shape.metadata and len(value) > shape.metadata["max"]:
            problems.append(f"{path}: {len(value)} items > {shape.metadata['max']}")
        for index, item in enumerate(value):
            problems += enum_violations(item, shape.member, f"{path}[{index}]")
    elif shape.type_name == "map":
        for key, item in value.items():
            problems += enum_violations(item, shape.value, f"{path}.{key}")
    elif shape.type_name == "string":
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} not in {shape.enum}")
        if "max" in shape.metadata and len(value) > shape.metadata["max"]:
            problems.append(f"{path}: longer than {shape.metadata['max']}")
    return problems


def records(findings, **kwargs):
    return asff_findings(findings, region=REGION, product_account=PROD, as_of=AS_OF, **kwargs)


def test_every_record_is_a_valid_batch_import_findings_input(finding_shape):
    findings = sample_findings() + lifecycle_findings()
    batch = records(findings)
    validate_parameters({"Findings": batch}, finding_shape)  # raises ParamValidationError on any defect
    assert enum_violations({"Findings": batch}, finding_shape) == []
    for record in batch:
        assert record["SchemaVersion"] == "2018-10-08"
        assert record["ProductArn"] == f"arn:aws:securityhub:{REGION}:{PROD}:product/{PROD}/default"
        assert len(record["Title"]) <= 256 and len(record["Description"]) <= 1024
        assert all(t.split("/")[0] in VALID_NAMESPACES and len(t.split("/")) <= 3 for t in record["Types"])
        assert record["CreatedAt"] <= record["UpdatedAt"]
        datetime.strptime(record["UpdatedAt"], "%Y-%m-%dT%H:%M:%S.%fZ")


def test_fields_map_the_finding(finding_shape):
    by_id = {r["Id"]: r for r in records(sample_findings() + lifecycle_findings())}
    critical = by_id["auditor/f-crit"]
    assert critical["GeneratorId"] == "idc-user-terminated"
    assert critical["AwsAccountId"] == PROD
    assert critical["Severity"] == {"Label": "CRITICAL", "Original": "critical"}
    assert critical["Compliance"] == {"Status": "FAILED", "RelatedRequirements": ["CIS-AWS-1.12", "SOC2-CC6.2"]}
    assert (
        "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark"
        in critical["Types"]
    )
    assert critical["Types"][0] == "Software and Configuration Checks/AWS Security Best Practices/Lifecycle"
    assert critical["Workflow"] == {"Status": "NEW"} and critical["RecordState"] == "ACTIVE"
    assert critical["Remediation"]["Recommendation"]["Text"] == "Remove the assignment."
    assert critical["ProductFields"]["auditor/finding_id"] == "f-crit"
    # organisation-wide: filed under the management account
    assert by_id["auditor/f-org"]["AwsAccountId"] == PROD
    assert by_id["auditor/f-low"]["AwsAccountId"] == DEV
    assert by_id["auditor/f-low"]["Resources"][0]["Id"] == "AWS::IAM::AccessKey:AKIAEXAMPLE1"
    assert by_id["auditor/f-info"]["Resources"][0] == {
        "Type": "AwsIamRole",
        "Id": f"arn:aws:iam::{DEV}:role/batch",
        "Partition": "aws",
        "Region": REGION,
        "Details": {"Other": {"principal_type": "iam_role", "principal_id": "AROA2", "principal_name": "batch"}},
    }
    assert by_id["auditor/f-info"]["Compliance"]["Status"] == "NOT_AVAILABLE"  # insufficient evidence
    assert by_id["auditor/f-crit"]["Resources"][0]["Id"] == "arn:aws:identitystore:::user/u-1"


def test_resolved_is_archived_and_suppressed_keeps_its_workflow():
    by_id = {r["Id"]: r for r in records(lifecycle_findings())}
    gone = by_id["auditor/f-gone"]
    assert (gone["RecordState"], gone["Workflow"], gone["Compliance"]["Status"]) == (
        "ARCHIVED",
        {"Status": "RESOLVED"},
        "PASSED",
    )
    assert gone["UpdatedAt"] == "2024-06-30T12:00:00.000Z" and gone["CreatedAt"] == "2024-06-01T06:00:00.000Z"
    assert "LastObservedAt" not in gone
    accepted = by_id["auditor/f-accepted"]
    assert (accepted["RecordState"], accepted["Workflow"]["Status"]) == ("ACTIVE", "SUPPRESSED")


def test_long_text_is_cut_to_the_documented_limits(finding_shape):
    long = make_finding("f-long", title="t" * 600, evidence={"blob": "e" * 5000}, recommendation="r" * 900)
    record = asff_finding(long, region=REGION, product_account=PROD, as_of=AS_OF, rule=RULES["idc-user-inactive"])
    assert len(record["Title"]) == 256 and record["Title"].endswith("…")
    assert len(record["Description"]) == 1024
    assert record["Description"].startswith(RULES["idc-user-inactive"].description)
    assert len(record["Remediation"]["Recommendation"]["Text"]) == 512
    validate_parameters({"Findings": [record]}, finding_shape)


def test_central_import_files_every_finding_in_one_account_and_keeps_the_members_one():
    [record] = records([make_finding("f-1", account_id=DEV)], aws_account=PROD)
    assert record["AwsAccountId"] == PROD
    assert {"Type": "AwsAccount", "Id": f"AWS::::Account:{DEV}", "Partition": "aws", "Region": REGION} in record[
        "Resources"
    ]


def test_partition_follows_the_region():
    assert product_arn("cn-north-1", "123456789012").startswith("arn:aws-cn:securityhub:cn-north-1:")
    assert product_arn("us-gov-west-1", "123456789012").startswith("arn:aws-us-gov:")


# --- OCSF -------------------------------------------------------------------------

REQUIRED = {"activity_id", "category_uid", "class_uid", "finding_info", "metadata", "severity_id", "time", "type_uid"}


def events(findings):
    return ocsf_findings(findings, as_of=AS_OF, tool_version="9.9.9", account_names={PROD: "prod"}, region=REGION)


def test_ocsf_detection_findings_carry_the_required_attributes():
    batch = events(sample_findings() + lifecycle_findings())
    for event in batch:
        assert event.keys() >= REQUIRED
        assert (event["class_uid"], event["category_uid"]) == (2004, 2)
        assert event["type_uid"] == 200400 + event["activity_id"]
        assert event["metadata"]["version"] == "1.3.0"
        assert event["metadata"]["product"] == {"name": "auditor", "vendor_name": "auditor", "version": "9.9.9"}
        assert event["finding_info"].keys() >= {"uid", "title"}
        assert event["time"] == int(AS_OF.timestamp() * 1000)
        assert event["cloud"]["provider"] == "AWS"
    msgspec.json.encode(batch)  # plain JSON, nothing left to serialise


def test_ocsf_maps_status_severity_and_ids():
    by_uid = {e["finding_info"]["uid"]: e for e in events(sample_findings() + lifecycle_findings())}
    new = by_uid["f-new"]
    assert (new["activity_id"], new["activity_name"], new["status_id"], new["status"]) == (1, "Create", 1, "New")
    assert (new["severity_id"], new["severity"]) == (5, "Critical")
    assert new["finding_info"]["analytic"] == {
        "uid": "idc-leaver-with-access",
        "name": RULES["idc-leaver-with-access"].title,
        "type_id": 1,
        "type": "Rule",
    }
    assert new["cloud"]["account"] == {"uid": PROD, "type_id": 10, "type": "AWS Account", "name": "prod"}
    assert new["unmapped"]["controls"] == ["CIS-AWS-1.12", "SOC2-CC6.2"]
    opened = by_uid["f-open"]
    assert (opened["activity_id"], opened["status_id"], opened["status_detail"]) == (2, 1, "open")
    assert opened["finding_info"]["first_seen_time"] == int(datetime(2024, 6, 1, 6, tzinfo=UTC).timestamp() * 1000)
    gone = by_uid["f-gone"]
    assert (gone["activity_id"], gone["activity_name"], gone["status_id"]) == (3, "Close", 4)
    assert "last_seen_time" not in gone["finding_info"]
    assert by_uid["f-accepted"]["status_id"] == 3
    assert by_uid["f-accepted"]["unmapped"]["evidence"]["exception"]["owner"] == "platform-lead@example.com"
    info = by_uid["f-info"]
    assert (info["severity_id"], info["severity"]) == (1, "Informational")
    assert info["resources"][0]["uid"] == f"arn:aws:iam::{DEV}:role/batch"
    org = by_uid["f-org"]
    assert "account" not in org["cloud"]


def test_ocsf_resources_name_the_principal_and_the_resource():
    finding = make_finding(
        "f-1",
        principal=Principal(type="iam_user", id="AIDA1", name="deploy"),
        resource="arn:aws:iam::aws:policy/AdministratorAccess",
    )
    [event] = events([finding])
    assert [r["uid"] for r in event["resources"]] == ["AIDA1", "arn:aws:iam::aws:policy/AdministratorAccess"]
    assert event["resources"][0]["type"] == "iam_user" and event["resources"][0]["cloud_partition"] == "aws"
