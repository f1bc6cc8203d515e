import base64
import hashlib
import json
import re
from datetime import datetime
from html import unescape
from html.parser import HTMLParser

import pytest

from auditor.report import write_report_html
from auditor.report.html import render_report_html
from auditor.report.views import FINDING_COLUMNS

from .builders import (
    AS_OF,
    DEV,
    EXCEPTION,
    HISTORY,
    HOSTILE_IMG,
    HOSTILE_SCRIPT,
    PROD,
    lifecycle_findings,
    sample_findings,
    small_snapshot,
)
from .builders import finding as make_finding

RUN_INFO = {
    "exit_status": 3,
    "config_path": "config.toml",
    "started_at": AS_OF,
    "finished_at": AS_OF,
    "run_id": 9,
    "audit_log_head": "9f" * 32,
}


@pytest.fixture(scope="module")
def page():
    return render_report_html(sample_findings(), small_snapshot(), RUN_INFO, now=AS_OF)


@pytest.fixture(scope="module")
def history_page():
    return render_report_html(lifecycle_findings(), small_snapshot(), RUN_INFO, now=AS_OF, history=HISTORY)


def embedded(page: str) -> dict:
    [raw] = re.findall(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.DOTALL)
    return json.loads(raw)


def finding_rows(page: str) -> list[dict]:
    data = embedded(page)["findings"]
    assert data["columns"] == list(FINDING_COLUMNS)
    return [dict(zip(data["columns"], row, strict=True)) for row in data["rows"]]


def section(page: str, name: str) -> str:
    start = page.index(f'<section id="{name}">')
    return page[start : page.index("</section>", start)]


def test_hostile_names_are_text_in_markup_and_data(page):
    assert HOSTILE_IMG not in page and HOSTILE_SCRIPT not in page
    assert "<img" not in page
    assert page.count("<script>") == 1  # the one executable script
    assert page.count('<script type="application/json"') == 1  # the data, never executed
    [raw] = re.findall(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.DOTALL)
    assert "<" not in raw and ">" not in raw and "&" not in raw
    rows = {r["id"]: r for r in finding_rows(page)}
    assert rows["f-org"]["pname"] == HOSTILE_IMG
    assert rows["f-org"]["title"] == f"User {HOSTILE_SCRIPT} has no HR record"
    assert rows["f-org"]["evidence"] == {"user_name": HOSTILE_SCRIPT}
    assert "dev &lt;sandbox&gt;" in page


class _FetchingMarkup(HTMLParser):
    """Collects every element or attribute through which a browser could load something."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        if tag in {"link", "img", "iframe", "object", "embed", "base", "audio", "video", "source"}:
            self.found.append(tag)
        for name, value in attrs:
            if name in {"src", "srcset", "action", "poster", "xlink:href"} or (
                name == "href" and not (value or "").startswith("#")
            ):
                self.found.append(f"{tag} {name}")


def test_nothing_is_fetched_from_anywhere(page, history_page):
    for html in (page, history_page):
        parser = _FetchingMarkup()
        parser.feed(html)
        assert parser.found == []
        assert re.search(r"https?:|@import|url\(|fetch\(|XMLHttpRequest|innerHTML", html, re.IGNORECASE) is None


def test_policy_admits_exactly_the_inline_script_and_style(page):
    policy = unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1))
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'"
    for tag, directive in (("script", "script-src"), ("style", "style-src")):
        [body] = re.findall(rf"<{tag}>(.*?)</{tag}>", page, re.DOTALL)
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert directives[directive] == f"'sha256-{digest}'"


def test_header_says_when_which_run_and_what_was_not_read(page):
    assert "2024-06-30 12:00:00 UTC" in page
    assert "9.9.9" in page
    assert "<dt>Run</dt><dd>9</dd>" in page
    assert f"<dt>Audit log head</dt><dd><code>{'9f' * 32}</code></dd>" in page
    assert "3 (incomplete: some source, account, log object or input row could not be used)" in page
    assert "Incomplete data: 2 source/account entries partial or failed, 2 unreadable inputs." in page
    assert "AccessDenied: not authorized to perform sts:AssumeRole (sts, AssumeRole)" in page
    assert "s3://trail-bucket/AWSLogs/o-1/111122223333/x.json.gz" in page
    assert "hr.csv line 7" in page
    # the CloudTrail coverage window for the production account: 1 May to 30 June noon
    assert re.search(
        r"<td>cloudtrail</td><td>111122223333 <span[^>]*>prod</span></td><td>.*?partial.*?</td>"
        r"<td>2024-05-01 00:00:00 UTC</td><td>2024-06-30 12:00:00 UTC</td><td class=\"num\">60.5</td>",
        page,
    )


def test_complete_snapshot_says_so():
    snapshot = small_snapshot()
    snapshot.manifest.sources = [s for s in snapshot.manifest.sources if s.status == "ok"]
    snapshot.manifest.unreadable = []
    page = render_report_html([], snapshot, {"exit_status": 0}, now=AS_OF)
    assert "Every source and input was read fully." in page
    assert "Incomplete data" not in page


def test_summary_counts_open_findings_by_severity_and_category(history_page):
    summary = section(history_page, "summary")
    # new + open count; resolved and suppressed are not open
    assert re.search(
        r"<strong>2</strong> open findings \(new or still open\),\s+<strong>1</strong> new since the previous run, "
        r"<strong>1</strong> resolved,\s+<strong>1</strong> accepted as exceptions",
        summary,
    )
    for severity, count in (("critical", 1), ("high", 1), ("medium", 0), ("low", 0), ("info", 0)):
        assert f'<th scope="row">{severity}</th><td class="num">{count}</td>' in summary
    assert '<th scope="row">lifecycle</th><td class="num">1</td>' in summary
    assert '<th scope="row">credential hygiene</th><td class="num">0</td>' in summary
    for status in ("new", "open", "resolved", "suppressed"):
        assert f'<th scope="row">{status}</th><td class="num">1</td>' in summary


def test_what_is_new_and_what_was_resolved_since_the_previous_run(history_page):
    summary = section(history_page, "summary")
    new = summary[summary.index("<h4>New: 1") : summary.index("<h4>Resolved")]
    resolved = summary[summary.index("<h4>Resolved: 1") :]
    resolved = resolved[: resolved.index("</table>")]
    assert "Leaver alice keeps AdministratorAccess" in new and "Key of ci unused" not in new
    assert "(1 critical)" in new
    assert "Key of ci unused" in resolved and "(1 medium)" in resolved
    assert f'{DEV} <span class="muted">dev &lt;sandbox&gt;</span></td><td>2024-06-30 12:00:00 UTC</td>' in resolved
    assert 'data-status="new"' in new and 'data-status="resolved"' in summary


def test_trend_draws_one_bar_per_recorded_run_with_the_severities_stacked(history_page):
    svg = history_page[
        history_page.index('<svg class="trend"') : history_page.index(
            "</svg>", history_page.index('<svg class="trend"')
        )
    ]
    runs = re.findall(r"<title>(run \d+), (\S+): (\d+) unresolved", svg)
    assert runs == [("run 7", "2024-06-28", "10"), ("run 8", "2024-06-29", "5"), ("run 9", "2024-06-30", "3")]
    assert "this report" not in svg  # run 9 is this run: not drawn twice
    # run 7's 10 findings fill the 10-high axis: its segments stack from the baseline to the top
    first = svg[svg.index("run 7") : svg.index("run 8")]
    heights = [float(h) for h in re.findall(r'height="([\d.]+)"', first)]
    assert sum(heights) == pytest.approx(230 - 12 - 42)
    assert re.findall(r'<rect class="sev-(\w+)"', first) == ["critical", "high", "low"]
    assert "(incomplete run)" in svg and "06-29*" in svg
    assert "* incomplete run (exit 3)" in history_page


def test_trend_adds_an_unrecorded_analysis_and_is_absent_without_history():
    info = {**RUN_INFO, "run_id": "(not recorded)"}
    page = render_report_html(lifecycle_findings(), small_snapshot(), info, now=AS_OF, history=HISTORY)
    # this report (exit 3): new critical, open high, suppressed low are unresolved; the resolved one is not
    assert re.search(
        r"<title>this report, 2024-06-30: 3 unresolved; 1 critical; 1 high; 1 low \(incomplete run\)</title>", page
    )
    without = render_report_html(lifecycle_findings(), small_snapshot(), RUN_INFO, now=AS_OF)
    assert "<h3>Trend</h3>" not in without and '<svg class="trend"' not in without


def test_time_to_resolve_from_the_state_store(history_page):
    table = history_page[history_page.index("Time to resolve") :]
    table = table[: table.index("</table>")]
    rows = re.findall(
        r'sev-(\w+)">\w+</span></td><td class="num">(\d+)</td><td class="num">([\d.]+)</td>'
        r'<td class="num">([\d.]+)</td>',
        table,
    )
    assert rows == [("critical", "1", "0.5", "0.5"), ("medium", "4", "12.5", "29.0")]


def test_top_accounts_and_identities_by_risk(history_page):
    summary = section(history_page, "summary")
    accounts = summary[summary.index("Top accounts by risk") : summary.index("Top identities by risk")]
    # production: the new critical (10) and the open high (5); the resolved and accepted ones do not count
    assert re.search(rf"<td>{PROD} <span class=\"muted\">prod</span></td><td class=\"num\">15</td>", accounts)
    assert DEV not in accounts
    identities = summary[summary.index("Top identities by risk") :]
    assert re.search(
        r"alice <span class=\"muted\">idc user</span></td><td class=\"num\">1</td><td class=\"num\">15</td>", identities
    )


def test_findings_travel_as_rows_worst_first_with_evidence(page):
    rows = finding_rows(page)
    assert [(r["severity"], r["category"], r["account"], r["status"], r["ie"]) for r in rows] == [
        ("critical", "lifecycle", PROD, "new", 0),
        ("medium", "orphaned", "", "open", 0),
        ("low", "credential_hygiene", DEV, "new", 0),
        ("info", "inactive", DEV, "new", 1),
    ]
    critical = rows[0]
    assert critical["evidence"] == {"end_date": "2024-05-01", "hr_status": "terminated"}
    assert critical["recommendation"] == "Remove the assignment."
    assert critical["controls"] == ["CIS-AWS-1.12", "SOC2-CC6.2"]
    assert critical["account_name"] == "prod"
    assert rows[2]["account_name"] == "dev <sandbox>"
    # the filters offer every account present, the organisation-wide ones as "-"
    assert '<option value="-">organisation-wide</option>' in page
    assert f'<option value="{DEV}">{DEV} dev &lt;sandbox&gt;</option>' in page


def test_first_seen_and_resolution_times_are_shown(history_page):
    rows = {r["id"]: r for r in finding_rows(history_page)}
    assert rows["f-open"]["first_seen"] == "2024-06-01 06:00:00 UTC"
    assert rows["f-gone"]["resolved_at"] == "2024-06-30 12:00:00 UTC"
    assert rows["f-new"]["resolved_at"] == ""


def test_inventory_resolves_who_can_reach_what(page):
    inventory = embedded(page)["inventory"]
    access = [dict(zip(inventory["access"]["columns"], row, strict=True)) for row in inventory["access"]["rows"]]
    assert [(a["User name"], a["Via"], a["Account id"], a["Permission set"], a["HR status"]) for a in access] == [
        ("alice", "direct", PROD, "AdministratorAccess", "active"),
        (HOSTILE_IMG, "group admins", DEV, "AdministratorAccess", "not in HR"),
    ]
    people = [dict(zip(inventory["people"]["columns"], row, strict=True)) for row in inventory["people"]["rows"]]
    assert people[0]["Identity Center user"] == "alice" and people[0]["Accounts reachable"] == 1
    accounts = {
        row[0]: dict(zip(inventory["accounts"]["columns"], row, strict=True)) for row in inventory["accounts"]["rows"]
    }
    assert accounts[DEV]["People with access"] == 1 and accounts[DEV]["Name"] == "dev <sandbox>"
    assert accounts[PROD]["Management"] == "yes"
    [ps] = inventory["permission_sets"]["rows"]
    assert ps[0] == "AdministratorAccess" and ps[-3:] == [2, 2, 2]
    for label, count in (
        ("AWS accounts", 2),
        ("Identity Center users", 2),
        ("Group memberships", 1),
        ("Account assignments", 2),
        ("IAM users", 1),
        ("HR people", 1),
    ):
        assert f"<dt>{label}</dt><dd>{count}</dd>" in page


def test_exceptions_in_force_show_who_accepted_the_risk_and_until_when(history_page):
    table = history_page[history_page.index('<h3 id="exceptions">Exceptions in force (1)</h3>') :]
    table = table[: table.index("</table>")]
    assert "<td>2024-12-31</td>" in table
    assert EXCEPTION["owner"] in table and "Rotated by the vendor&#39;s schedule" in table
    assert "Key of deploy older than 90 days" not in table and "deploy" in table


def test_structured_evidence_keeps_its_structure():
    finding = make_finding("f-1", evidence={"policies": ["<AdministratorAccess>", "ReadOnly"]})
    page = render_report_html([finding], small_snapshot(), {}, now=AS_OF)
    [row] = finding_rows(page)
    assert row["evidence"] == {"policies": ["<AdministratorAccess>", "ReadOnly"]}


def test_empty_findings_render(tmp_path):
    path = tmp_path / "report.html"
    write_report_html([], small_snapshot(), {}, path, now=AS_OF)
    page = path.read_text(encoding="utf-8")
    assert "No findings." in page
    assert "<h2>Findings (0)</h2>" in page
    assert 'id="findings-table"' not in page
    assert embedded(page)["findings"]["rows"] == []


def test_same_inputs_render_the_same_page():
    first = render_report_html(sample_findings(), small_snapshot(), RUN_INFO, now=AS_OF, history=HISTORY)
    second = render_report_html(
        list(reversed(sample_findings())), small_snapshot(), RUN_INFO, now=AS_OF, history=HISTORY
    )
    assert first == second


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="naive"):
        render_report_html([], small_snapshot(), {"started_at": datetime(2024, 6, 30, 12)}, now=AS_OF)


def test_thousands_of_findings_stay_one_row_each_in_the_data():
    findings = [make_finding(f"f-{i:05d}", title=f"finding {i}") for i in range(3000)]
    page = render_report_html(findings, small_snapshot(), {}, now=AS_OF)
    assert len(finding_rows(page)) == 3000
    assert "<h2>Findings (3000)</h2>" in page
    assert len(page) < 3000 * 600  # rows are data, not markup


def test_runs_of_the_same_day_are_told_apart_on_the_axis():
    history = {
        "runs": [
            {"id": 1, "as_of": "2024-06-30T06:00:00+00:00", "exit_code": 0, "by_severity": {"low": 1}},
            {"id": 2, "as_of": "2024-06-30T12:00:00+00:00", "exit_code": 0, "by_severity": {"low": 2}},
        ]
    }
    page = render_report_html([], small_snapshot(), {"run_id": 2}, now=AS_OF, history=history)
    assert re.findall(r'text-anchor="middle">([^<]+)</text>', page) == ["06-30 #1", "06-30 #2"]


def test_the_first_recorded_run_says_everything_is_new():
    history = {"runs": [{"id": 1, "as_of": "2024-06-30T12:00:00+00:00", "exit_code": 0, "by_severity": {"high": 1}}]}
    first = render_report_html(lifecycle_findings()[:1], small_snapshot(), {"run_id": 1}, now=AS_OF, history=history)
    assert "This is the first run the state store records: every finding is new." in first
    later = render_report_html(lifecycle_findings(), small_snapshot(), RUN_INFO, now=AS_OF, history=HISTORY)
    assert "This is the first run" not in later


def test_exempt_identities_are_named_as_such_in_the_inventory():
    from auditor.model import IdcUser

    snapshot = small_snapshot()
    snapshot.tables["idc_users"] = [
        *snapshot.tables["idc_users"],
        IdcUser(user_id="bg-1", user_name="breakglass-1", display_name="Break Glass"),
    ]
    info = {"exit_status": 0, "exempt_identities": {"bg-1": "break-glass identity"}}
    page = render_report_html([], snapshot, info, now=AS_OF)
    assert "exempt: break-glass identity" in page
    assert "exempt_identities" not in page  # an input, not a header field


def test_a_grant_held_directly_and_through_a_group_is_listed_both_ways_in_the_inventory():
    from auditor.model import AccountAssignment
    from auditor.report.inventory import inventory

    snapshot = small_snapshot()
    admin_via_group = snapshot.tables["account_assignments"][1]
    snapshot.tables["account_assignments"] = [
        *snapshot.tables["account_assignments"],
        AccountAssignment(
            account_id=admin_via_group.account_id,
            permission_set_arn=admin_via_group.permission_set_arn,
            principal_type="USER",
            principal_id="u-2",
        ),
    ]
    rows = inventory(snapshot, [])["access"]["rows"]
    assert [row[3] for row in rows if row[0] == HOSTILE_IMG] == ["direct", "group admins"]
    assert "group admins" in render_report_html([], snapshot, {"exit_status": 0}, now=AS_OF)
