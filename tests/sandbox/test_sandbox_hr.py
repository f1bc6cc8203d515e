"""The HR feed the sandbox writes: the contract's columns, valid values, people matching Identity Center."""

from __future__ import annotations

import csv
from datetime import date

import pytest

pytestmark = pytest.mark.e2e

HEADER = (
    "employee_id,email,user_name,display_name,department,title,manager_email,status,employment_type,"
    "start_date,end_date,previous_department"
)


def rows(tiny) -> list[dict[str, str]]:
    with tiny.hr_feed.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_header_is_exactly_the_contract_columns_then_previous_department(tiny):
    assert tiny.hr_feed.name == "hr.csv"
    assert tiny.hr_feed.read_text(encoding="utf-8").splitlines()[0] == HEADER


def test_values_are_valid(tiny):
    people = rows(tiny)
    assert len({p["employee_id"] for p in people}) == len(people)
    for person in people:
        assert person["status"] in ("active", "leave", "terminated")
        assert person["employment_type"] in ("employee", "contractor", "vendor")
        date.fromisoformat(person["start_date"])
        if person["end_date"]:
            assert date.fromisoformat(person["end_date"]) > date.fromisoformat(person["start_date"])
        if person["status"] == "terminated":
            assert person["end_date"]


def test_managers_are_people_in_the_file(tiny):
    people = rows(tiny)
    emails = {p["email"] for p in people}
    assert all(p["manager_email"] in emails for p in people if p["manager_email"])
    assert [p["title"] for p in people if not p["manager_email"]] == ["Chief Executive Officer"]


def test_identity_center_users_match_by_user_name_and_a_few_by_email_only(tiny, aws):
    people = rows(tiny)
    by_name = {p["user_name"] for p in people}
    by_email = {p["email"].lower(): p for p in people}
    store = aws.client("identitystore")
    users = aws.paginate(store, "list_users", "Users", IdentityStoreId=tiny.identity_store_id)
    matched_by_name = [u for u in users if u["UserName"] in by_name]
    email_only = [u for u in users if u["UserName"] not in by_name and u["Emails"][0]["Value"].lower() in by_email]
    assert len(matched_by_name) > len(users) / 2
    assert email_only and all(
        u["Emails"][0]["Value"] != by_email[u["Emails"][0]["Value"].lower()]["email"] for u in email_only
    ), "the e-mail matches only case-insensitively"
