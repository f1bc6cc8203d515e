"""report.html's per-person view, its list for browsers without JavaScript, and what a reader sees instead of raw data."""

from __future__ import annotations

import re

import pytest

from auditor.model import AccessKey, HrPerson, IamUser, IdcUser, Principal
from auditor.report import html, inventory
from auditor.report.html import render_report_html
from auditor.report.views import evidence_label

from .builders import AS_OF, DEV, HOSTILE_IMG, PROD, sample_findings, small_snapshot
from .builders import finding as make_finding
from .test_report_html import embedded, section


def estate():
    """The small snapshot plus an IAM user of alice's (by its owner tag) with a key, and a root finding."""
    snapshot = small_snapshot()
    snapshot.tables["iam_users"] = [
        *snapshot.tables["iam_users"],
        IamUser(
            account_id=PROD,
            user_name="alice-cli",
            user_id="AIDA7",
            arn=f"arn:aws:iam::{PROD}:user/alice-cli",
            tags={"owner": "alice@example.com"},
        ),
    ]
    snapshot.tables["access_keys"] = [
        *snapshot.tables["access_keys"],
        AccessKey(account_id=PROD, user_name="alice-cli", access_key_id="AKIAALICE", status="Active"),
    ]
    findings = [
        *sample_findings(),
        make_finding(
            "f-key",
            severity="medium",
            category="credential_hygiene",
            rule_id="iam-access-key-old",
            principal=Principal(type="access_key", id="AKIAALICE", name="alice-cli"),
            title="Key of alice-cli older than 90 days",
            evidence={"age_days": 120, "created_at": "2024-03-02T10:00:00+00:00", "mfa_active": False},
        ),
        make_finding(
            "f-idc",
            severity="low",
            category="credential_hygiene",
            rule_id="idc-user-without-mfa",
            account_id=None,
            title="alice has no MFA device",
        ),
        make_finding(
            "f-root",
            severity="critical",
            category="credential_hygiene",
            rule_id="iam-root-without-mfa",
            principal=Principal(type="root", id=PROD, name="root", arn=f"arn:aws:iam::{PROD}:root"),
            title="Root user without MFA",
        ),
    ]
    return snapshot, findings


@pytest.fixture(scope="module")
def page():
    snapshot, findings = estate()
    return render_report_html(findings, snapshot, {"exit_status": 0}, now=AS_OF)


def people(page: str) -> dict[str, dict]:
    data = embedded(page)["people"]
    return {row[1]: dict(zip(data["columns"], row, strict=True)) for row in data["rows"]} | {"_": data}


def test_a_person_carries_their_hr_facts_reach_iam_users_and_findings(page):
    found = people(page)
    data, alice = found["_"], found["Alice"]
    finding_ids = [row[0] for row in embedded(page)["findings"]["rows"]]
    assert (alice["user_name"], alice["department"], alice["hr_status"], alice["manager"]) == (
        "alice",
        "Ops",
        "active",
        "bob@example.com",  # not in the feed: named by their email
    )
    assert [
        (data["accounts"][a][0], data["sets"][s], "direct" if g < 0 else data["groups"][g])
        for a, s, g, _ in alice["access"]
    ] == [(PROD, "AdministratorAccess", "direct")]
    assert [(data["accounts"][u[0]][0], u[1], u[4]) for u in alice["iam"]] == [(PROD, "alice-cli", 1)]
    # her Identity Center findings and her IAM user's key's, worst first; nobody else's
    assert [finding_ids[i] for i in alice["findings"]] == ["f-crit", "f-key", "f-idc"]
    assert alice["open"] == [1, 0, 1, 1, 0]
    stranger = found[HOSTILE_IMG]
    assert stranger["hr_status"] == "not in HR" and [finding_ids[i] for i in stranger["findings"]] == ["f-org"]
    assert [data["groups"][g] for _, _, g, _ in stranger["access"]] == ["admins"]


def test_without_javascript_each_person_is_a_section_reached_from_an_a_to_z_index(page):
    people_section = section(page, "people")
    assert re.search(r'<nav class="az" aria-label="People A to Z">.*<a href="#people-A">A</a></nav>', people_section)
    assert '<h3 id="people-A">A</h3>' in people_section
    alice = people_section[people_section.index('<div class="person-body" id="person-alice">') :]
    alice = alice[: alice.index("</details>")]
    assert re.search(
        rf"<td>{PROD} <span class=\"muted\">prod</span></td><td>AdministratorAccess</td><td>direct</td>", alice
    )
    assert "<td>alice-cli</td>" in alice
    assert re.findall(r'data-finding="([^"]+)"', alice) == ["f-crit", "f-key", "f-idc"]
    assert "Terminated employee keeps AdministratorAccess" in alice
    assert "person-" + HOSTILE_IMG not in page  # ids come from the name, made safe
    assert re.search(r'<div class="person-body" id="person-img-src-x-onerror-alert-1">', people_section)


def test_the_list_without_javascript_is_capped_at_the_riskiest_people(monkeypatch):
    snapshot, findings = estate()
    monkeypatch.setattr(html, "PEOPLE_LISTED", 1)
    page = render_report_html(findings, snapshot, {}, now=AS_OF)
    people_section = section(page, "people")
    assert re.findall(r'<div class="person-body" id="([^"]+)"', people_section) == ["person-alice"]
    assert "Listed here: the 1 people with the most open risk, of 2." in people_section
    assert len(embedded(page)["people"]["rows"]) == 2  # the search still finds everyone


def test_inventory_tables_in_the_page_are_capped_and_say_how_many_rows_there_are(monkeypatch):
    monkeypatch.setattr(inventory, "TABLE_ROWS", 1)
    data = embedded(render_report_html([], small_snapshot(), {}, now=AS_OF))["inventory"]["access"]
    assert len(data["rows"]) == 1 and data["total"] == 2


def test_exempt_identities_are_named_not_dumped():
    snapshot = small_snapshot()
    snapshot.tables["idc_users"] = [
        *snapshot.tables["idc_users"],
        IdcUser(user_id="bg-1", user_name="breakglass-1", display_name="Break Glass"),
    ]
    page = render_report_html([], snapshot, {"exempt_identities": {"bg-1": "break-glass identity"}}, now=AS_OF)
    assert "{&#39;" not in page and "bg-1&#39;" not in page and "Exempt identities" not in page
    assert 'Exempt from the HR check: <strong class="name">breakglass-1</strong> (break-glass identity).' in page


def test_root_users_are_named_by_their_account_and_identity_center_findings_say_so(page):
    summary = section(page, "summary")
    assert "root user of prod" in summary and "root root" not in summary
    # the organisation-wide finding is about an Identity Center user: said so, not "organisation-wide"
    new = summary[summary.index("<h4>New") : summary.index("<h4>Resolved")]
    assert re.search(r"alice has no MFA device</td><td class=\"name\">alice</td><td>Identity Center</td>", new)


def test_evidence_keys_read_as_words():
    _, findings = estate()
    page = render_report_html(findings, small_snapshot(), {}, now=AS_OF)
    labels = embedded(page)["labels"]
    assert labels["mfa_active"] == "MFA active"
    assert labels["age_days"] == "Age days"
    assert labels["created_at"] == "Created at"
    assert labels["hr_status"] == "HR status"
    assert evidence_label("days_since_termination") == "Days since termination"
    assert evidence_label("admin_because") == "Administrator because"


def test_people_who_share_a_user_name_get_distinct_sections():
    snapshot = small_snapshot()
    twin = HrPerson(
        line=3,
        employee_id="E2",
        email="alice2@example.com",
        user_name="Alice",
        display_name="Alice",
        department="Sales",
        title="AE",
        manager_email="alice@example.com",
        status="active",
        employment_type="employee",
    )
    snapshot.tables["hr_people"] = [*snapshot.tables["hr_people"], twin]
    page = render_report_html([], snapshot, {}, now=AS_OF)
    anchors = re.findall(r'<div class="person-body" id="([^"]+)"', page)
    assert len(anchors) == len(set(anchors)) == 3
    # the twin's manager is alice, who is in the feed: a link to her section
    assert re.search(r'<dt>Manager</dt><dd><a href="#person-alice(-2)?">Alice</a></dd>', page)
    assert DEV in page
