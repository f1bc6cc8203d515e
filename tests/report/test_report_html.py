import base64
import hashlib
import re
from datetime import datetime
from html import unescape
from html.parser import HTMLParser

import pytest

from auditor.report import write_report_html
from auditor.report.html import render_report_html

from .builders import AS_OF, HOSTILE_IMG, HOSTILE_SCRIPT, sample_findings, small_snapshot
from .builders import finding as make_finding

RUN_INFO = {"exit_status": 3, "config_path": "config.toml", "started_at": AS_OF, "finished_at": AS_OF}


@pytest.fixture(scope="module")
def page():
    return render_report_html(sample_findings(), small_snapshot(), RUN_INFO, now=AS_OF)


def test_hostile_names_show_as_text(page):
    assert HOSTILE_IMG not in page and HOSTILE_SCRIPT not in page
    assert "<img" not in page
    assert page.count("<script") == 1
    assert "alert(1)</script>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "dev &lt;sandbox&gt;" in page


class _FetchingMarkup(HTMLParser):
    """Collects every element or attribute through which a browser could load something."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        if tag in {"link", "img", "iframe", "object", "embed", "base", "audio", "video", "source"}:
            self.found.append(tag)
        self.found += [f"{tag} {name}" for name, _ in attrs if name in {"src", "href", "srcset", "action", "poster"}]


def test_nothing_is_fetched_from_anywhere(page):
    parser = _FetchingMarkup()
    parser.feed(page)
    assert parser.found == []
    assert re.search(r"https?:|@import|url\(|fetch\(|XMLHttpRequest", page, re.IGNORECASE) is None


def test_policy_admits_exactly_the_inline_script_and_style(page):
    policy = unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1))
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'"
    for tag, directive in (("script", "script-src"), ("style", "style-src")):
        [body] = re.findall(rf"<{tag}>(.*?)</{tag}>", page, re.DOTALL)
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert directives[directive] == f"'sha256-{digest}'"


def test_header_says_when_and_what_was_not_read(page):
    assert "2024-06-30 12:00:00 UTC" in page
    assert "9.9.9" in page
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


def test_summary_and_inventory_counts(page):
    for severity, count in (("critical", 1), ("high", 0), ("medium", 1), ("low", 1), ("info", 1)):
        assert f'<th scope="row">{severity}</th><td class="num">{count}</td>' in page
    assert '<th scope="row">credential hygiene</th><td class="num">1</td>' in page
    assert '<th scope="row">emergency access</th><td class="num">0</td>' in page
    for label, count in (
        ("AWS accounts", 2),
        ("Identity Center users", 2),
        ("Permission sets", 1),
        ("Account assignments", 1),
        ("IAM users", 1),
        ("IAM roles", 1),
        ("IAM access keys", 1),
        ("HR people", 1),
    ):
        assert f"<dt>{label}</dt><dd>{count}</dd>" in page


def test_each_finding_is_a_row_with_expandable_evidence(page):
    rows = re.findall(
        r'<tr data-sev="(\w+)" data-cat="(\w+)" data-acct="([\d-]+)" data-status="(\w+)" data-ie="(\d)"', page
    )
    assert rows == [
        ("critical", "lifecycle", "111122223333", "new", "0"),
        ("medium", "orphaned", "-", "open", "0"),
        ("low", "credential_hygiene", "444455556666", "new", "0"),
        ("info", "inactive", "444455556666", "new", "1"),
    ]
    assert page.count("<details>") == 4
    assert '<th scope="row">hr_status</th><td>terminated</td>' in page
    assert '<p class="wrap">Remove the assignment.</p>' in page


def test_insufficient_evidence_is_marked(page):
    row = page[page.index('data-ie="1"') :]
    row = row[: row.index("</details>")]
    assert "Cannot tell whether role batch is used" in row
    assert '<span class="pill ie">insufficient evidence</span>' in row
    assert "iam for account 444455556666 failed" in row
    assert page.count('<span class="pill ie">') == 1


def test_structured_evidence_is_shown_as_json():
    finding = make_finding("f-1", evidence={"policies": ["<AdministratorAccess>", "ReadOnly"]})
    page = render_report_html([finding], small_snapshot(), {}, now=AS_OF)
    assert "<pre>[\n  &#34;&lt;AdministratorAccess&gt;&#34;,\n  &#34;ReadOnly&#34;\n]</pre>" in page


def test_empty_findings_render(tmp_path):
    path = tmp_path / "report.html"
    write_report_html([], small_snapshot(), {}, path, now=AS_OF)
    page = path.read_text(encoding="utf-8")
    assert "No findings." in page
    assert "Summary: 0 findings" in page
    assert 'id="findings-table"' not in page


def test_same_inputs_render_the_same_page():
    first = render_report_html(sample_findings(), small_snapshot(), RUN_INFO, now=AS_OF)
    second = render_report_html(list(reversed(sample_findings())), small_snapshot(), RUN_INFO, now=AS_OF)
    assert first == second


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="naive"):
        render_report_html([], small_snapshot(), {"started_at": datetime(2024, 6, 30, 12)}, now=AS_OF)


def test_thousands_of_findings_render():
    findings = [make_finding(f"f-{i:05d}", title=f"finding {i}") for i in range(3000)]
    page = render_report_html(findings, small_snapshot(), {}, now=AS_OF)
    assert page.count("<details>") == 3000
    assert "Summary: 3000 findings" in page
