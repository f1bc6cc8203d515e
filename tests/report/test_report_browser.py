"""report.html in a real headless Chromium: offline, filters and search work, hostile names stay text.

Driven by Playwright for Python against the system Chromium (Debian's
package), never a downloaded browser. Skipped, with the reason, where
either is missing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from auditor.model import Principal
from auditor.report import write_all

from .builders import AS_OF, DEV, HISTORY, HOSTILE_IMG, HOSTILE_SCRIPT, PROD, small_snapshot
from .builders import finding as make_finding

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright for Python is not installed (pip install playwright)"
)
CHROMIUM = os.environ.get("AUDITOR_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]

ARGS = [
    "--no-sandbox",  # Chromium refuses to start as root with its sandbox
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
HYPERLINK = '=HYPERLINK("http://x")'
TOTAL = 124


def findings():
    hostile = [
        make_finding(
            "h-img",
            severity="critical",
            principal=Principal(type="idc_user", id="u-2", name=HOSTILE_IMG),
            title="Image name",
            evidence={"note": HOSTILE_IMG},
        ),
        make_finding(
            "h-link",
            severity="high",
            principal=Principal(type="iam_user", id="AIDA9", name=HYPERLINK),
            account_id=DEV,
            category="credential_hygiene",
            title="Hyperlink name",
            evidence={"user": HYPERLINK},
        ),
        make_finding(
            "h-script",
            severity="medium",
            account_id=None,
            category="orphaned",
            principal=Principal(type="idc_user", id="u-3", name="mallory"),
            title=f"Script {HOSTILE_SCRIPT}",
            evidence={"user_name": HOSTILE_SCRIPT},
            status="open",
        ),
    ]
    ordinary = [
        make_finding(
            f"f-{n:03d}",
            severity="low",
            principal=Principal(type="idc_user", id=f"u-{n}", name=f"person{n:03d}"),
            title=f"Ordinary finding {n}",
            status="resolved" if n % 11 == 0 else "open",
        )
        for n in range(TOTAL - len(hostile))
    ]
    return hostile + ordinary


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    write_all(
        out,
        findings(),
        small_snapshot(),
        {"exit_status": 0, "run_id": 9},
        save_snapshot=False,
        now=AS_OF,
        history=HISTORY,
    )
    return out / "report.html"


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh user data dir
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=ARGS, offline=True
        )
        yield context
        context.close()


class Watched:
    """A page with every dialog, outside request, script error and console error recorded."""

    def __init__(self, context, url: str):
        self.dialogs, self.requests, self.errors = [], [], []
        self.page = context.new_page()
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.page.on("request", lambda request: request.url.startswith("file:") or self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.goto(url)
        self.page.wait_for_selector("#f-count:not(:empty)")

    def count(self) -> str:
        return self.page.eval_on_selector("#f-count", "e => e.value")

    def rows(self) -> list[list[str]]:
        return self.page.eval_on_selector_all(
            "#findings-table tbody tr:not(.detail-row)", "rows => rows.map(r => Array.from(r.cells, c => c.innerText))"
        )

    def search(self, text: str) -> None:
        self.page.fill("#f-search", text)
        self.page.dispatch_event("#controls", "submit")

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def watched(browser_context, report):
    page = Watched(browser_context, report.as_uri())
    yield page
    page.close()
    assert page.requests == [], "the report tried to reach the network"
    assert page.dialogs == [], "a script from the data ran"
    assert page.errors == []


def test_opens_offline_with_the_first_page_of_findings(watched):
    assert watched.count() == f"{TOTAL} of {TOTAL} findings shown"
    assert len(watched.rows()) == 50
    assert watched.page.inner_text("#findings-pager .page-of") == "Page 1 of 3"
    watched.page.click("#findings-pager button:has-text('Next')")
    assert watched.page.inner_text("#findings-pager .page-of") == "Page 2 of 3"
    assert watched.rows()[0][5].startswith("Ordinary finding")


def test_hostile_names_show_as_text_and_run_nothing(watched):
    assert watched.page.locator("img").count() == 0
    first, second, third = watched.rows()[:3]
    assert first[3].startswith(HOSTILE_IMG)
    assert second[3].startswith(HYPERLINK)
    assert third[5] == f"Script {HOSTILE_SCRIPT}"
    for title in ("Image name", "Hyperlink name", f"Script {HOSTILE_SCRIPT}"):
        watched.page.locator("button.expand").filter(has_text=title).click()
    evidence = watched.page.inner_text("#findings-table")
    assert HOSTILE_IMG in evidence and HYPERLINK in evidence and HOSTILE_SCRIPT in evidence
    assert watched.page.locator("#findings-table script").count() == 0
    watched.search(HYPERLINK)
    assert watched.count() == f"1 of {TOTAL} findings shown"
    assert watched.rows()[0][3].startswith(HYPERLINK)


def test_search_and_filters_narrow_the_table(watched):
    watched.search("person007")
    assert watched.count() == f"1 of {TOTAL} findings shown"
    watched.search("")
    watched.page.select_option("#f-sev", "low")
    assert watched.count() == f"{TOTAL - 3} of {TOTAL} findings shown"
    watched.page.select_option("#f-status", "resolved")
    assert watched.count() == f"11 of {TOTAL} findings shown"
    assert {row[6] for row in watched.rows()} == {"resolved"}
    watched.page.click("#f-reset")
    sync_api.expect(watched.page.locator("#f-count")).to_have_text(f"{TOTAL} of {TOTAL} findings shown")
    watched.page.select_option("#f-acct", "-")
    assert [row[5] for row in watched.rows()] == [f"Script {HOSTILE_SCRIPT}"]
    watched.page.select_option("#f-acct", DEV)
    watched.page.select_option("#f-cat", "credential_hygiene")
    assert [row[5] for row in watched.rows()] == ["Hyperlink name"]


def test_a_search_applied_with_enter_is_not_redrawn_when_the_typing_pause_ends(browser_context, report):
    """The pause after typing re-filters only text not applied yet: redrawing the same rows after Enter
    pulled the row from under a reviewer's click (the page's clock is driven, not waited on)."""
    page = browser_context.new_page()
    try:
        page.clock.install()
        page.goto(report.as_uri())
        page.wait_for_selector("#f-count:not(:empty)")
        page.fill("#f-search", "person007")  # typing: a re-filter is due after the pause
        page.dispatch_event("#controls", "submit")  # Enter: applied at once
        row = "#findings-table tbody tr:not(.detail-row)"
        page.eval_on_selector(row, "r => { r.dataset.seen = 'before the pause'; }")
        page.clock.run_for(1000)
        assert page.eval_on_selector(row, "r => r.dataset.seen || 'redrawn'") == "before the pause"
        page.fill("#f-search", "person00")  # new text: the pause applies it
        page.clock.run_for(1000)
        assert page.eval_on_selector("#f-count", "e => e.value") == f"10 of {TOTAL} findings shown"
    finally:
        page.close()


def test_columns_sort_and_summary_buttons_filter(watched):
    watched.page.click("#findings-table thead button:has-text('Principal')")
    principals = [row[3].split("\n")[0] for row in watched.rows()]
    assert principals == sorted(principals, key=str.lower)
    watched.page.click("button.show-status[data-status='resolved']")
    sync_api.expect(watched.page.locator("#f-count")).to_have_text(f"11 of {TOTAL} findings shown")
    assert watched.page.eval_on_selector("#f-status", "e => e.value") == "resolved"


def test_inventory_tables_render_and_search(watched):
    block = "div.inventory-table[data-table='access']"
    rows = watched.page.eval_on_selector_all(
        f"{block} tbody tr", "rows => rows.map(r => Array.from(r.cells, c => c.innerText))"
    )
    assert [(r[0], r[3], r[4]) for r in rows] == [("alice", "direct", PROD), (HOSTILE_IMG, "group admins", DEV)]
    watched.page.fill(f"{block} input.g-search", "admins")
    sync_api.expect(watched.page.locator(f"{block} output")).to_have_text("1 of 2 rows shown")
    assert watched.page.locator("svg.trend g.run").count() == 3


def test_the_exported_view_is_guarded_against_formulas_as_findings_csv_is(browser_context, report):
    watched = Watched(browser_context, report.as_uri())
    watched.search("hyperlink")
    assert watched.count() == f"1 of {TOTAL} findings shown"
    with watched.page.expect_download() as download:
        watched.page.click("#f-export")
    exported = Path(download.value.path()).read_bytes().decode("utf-8-sig").split("\r\n")
    written = (report.parent / "findings.csv").read_bytes().decode("utf-8-sig").split("\r\n")
    [row] = [line for line in written if line.startswith("h-link,")]
    assert exported == [written[0], row, ""]
    assert "'=HYPERLINK" in row  # the cell a spreadsheet would evaluate, neutralised
    watched.close()


def test_evidence_reads_as_labelled_facts(watched):
    watched.page.locator("button.expand").filter(has_text="Image name").click()
    labels = watched.page.eval_on_selector_all("table.evidence th", "cells => cells.map(c => c.innerText)")
    assert labels == ["Note"]
    watched.page.locator("button.expand").filter(has_text=f"Script {HOSTILE_SCRIPT}").click()
    labels = watched.page.eval_on_selector_all("table.evidence th", "cells => cells.map(c => c.innerText)")
    assert "User name" in labels and not any("_" in label for label in labels)
    assert watched.page.locator("table.evidence pre").count() == 0
