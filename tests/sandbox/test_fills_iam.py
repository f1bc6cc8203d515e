"""IAM's filled operations: Access Advisor and the credential report, as AWS answers them."""

from __future__ import annotations

import csv
import io

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.support import conforms, error_code

pytestmark = pytest.mark.e2e  # the tiny sandbox, served


def test_service_last_accessed_details_for_a_user(tiny, aws):
    plant = next(p for p in tiny.planted if p.problem == "key_old")
    iam = aws.client("iam", plant.account_id)
    arn = iam.get_user(UserName=plant.name)["User"]["Arn"]
    job = conforms(
        iam,
        "GenerateServiceLastAccessedDetails",
        iam.generate_service_last_accessed_details(Arn=arn, Granularity="ACTION_LEVEL"),
    )
    details = conforms(iam, "GetServiceLastAccessedDetails", iam.get_service_last_accessed_details(JobId=job["JobId"]))
    assert details["JobStatus"] == "COMPLETED" and details["JobType"] == "ACTION_LEVEL"
    used = [s for s in details["ServicesLastAccessed"] if "LastAuthenticated" in s]
    assert used and all(s["LastAuthenticatedEntity"] == arn and s["TotalAuthenticatedEntities"] == 1 for s in used)
    key_used = iam.get_access_key_last_used(AccessKeyId=plant.detail["access_key_id"])["AccessKeyLastUsed"]
    assert max(s["LastAuthenticated"] for s in used) == key_used["LastUsedDate"]
    page = iam.get_service_last_accessed_details(JobId=job["JobId"], MaxItems=1)
    assert len(page["ServicesLastAccessed"]) == 1 and page["IsTruncated"] == (len(details["ServicesLastAccessed"]) > 1)
    with pytest.raises(ClientError) as caught:
        iam.generate_service_last_accessed_details(Arn=arn.replace(plant.name, "nobody"))
    assert error_code(caught) == "NoSuchEntity"
    with pytest.raises(ClientError) as caught:
        iam.get_service_last_accessed_details(JobId=job["JobId"], Marker="not-a-marker")
    assert error_code(caught) == "InvalidInput"


def test_credential_report_starts_with_the_root_row(tiny, aws):
    iam = aws.client("iam")
    iam.generate_credential_report()
    report = conforms(iam, "GetCredentialReport", iam.get_credential_report())
    assert report["GeneratedTime"] == tiny.as_of
    rows = list(csv.DictReader(io.StringIO(report["Content"].decode())))
    root = rows[0]
    assert root["user"] == "<root_account>" and root["arn"] == f"arn:aws:iam::{tiny.management_account_id}:root"
    assert root["password_enabled"] == "not_supported" and root["mfa_active"] == "true"
    assert root["access_key_1_active"] == "false" and root["password_last_used"] != "no_information"


def test_credential_report_matches_the_key_and_password_apis(tiny, aws):
    plant = next(p for p in tiny.planted if p.problem == "console_no_mfa")
    iam = aws.client("iam", plant.account_id)
    iam.generate_credential_report()
    rows = {r["user"]: r for r in csv.DictReader(io.StringIO(iam.get_credential_report()["Content"].decode()))}
    row = rows[plant.name]
    assert (row["password_enabled"], row["mfa_active"], row["access_key_1_active"]) == ("true", "false", "false")
    assert row["password_last_used"] == plant.detail["password_last_used"]
    keyed = [(name, r) for name, r in rows.items() if r["access_key_1_active"] == "true" and name != "<root_account>"]
    assert keyed
    for name, key_row in keyed:
        key = iam.list_access_keys(UserName=name)["AccessKeyMetadata"][0]
        used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
        expected = used["LastUsedDate"].strftime("%Y-%m-%dT%H:%M:%S+00:00") if "LastUsedDate" in used else "N/A"
        assert key_row["access_key_1_last_used_date"] == expected
        assert key_row["access_key_1_last_used_region"] == used.get("Region", "N/A")
        assert key_row["access_key_1_last_rotated"] == key["CreateDate"].strftime("%Y-%m-%dT%H:%M:%S+00:00")
