"""The demo's report in a real Chromium, as a reviewer uses it: find a person, open their section, see all of
their findings and access, export the filtered findings; and the demo's progress when its output is redirected.

One `auditor demo` (tiny) for the module, run as a user runs it with stderr redirected (not a terminal).
Playwright for Python drives the system Chromium, never a downloaded browser.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from auditor import snapshot as snapshots
from auditor.access import AccessModel

from .test_report_browser import ARGS, CHROMIUM

pytestmark = pytest.mark.e2e
REPOSITORY = Path(__file__).resolve().parents[2]
AS_OF = "2026-10-15T06:00:00Z"
WIDTH = 1280


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "auditor.cli",
            "demo",
            "--size",
            "tiny",
            "--seed",
            "3",
            "--as-of",
            AS_OF,
            "--out",
            str(out),
        ],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done


def test_redirected_demo_reports_each_long_phase_on_stderr_only(demo):
    _, done = demo
    lines = done.stderr.splitlines()
    for phase in (
        "building the tiny sandbox organisation (seed 3)",
        "collecting",
        "running the rules",
        "writing the reports",
    ):
        assert f"auditor: {phase}..." in lines
        assert any(re.fullmatch(rf"auditor: {re.escape(phase)}: done in \d+\.\d s", line) for line in lines), phase
    assert lines.index("auditor: building the tiny sandbox organisation (seed 3)...") < lines.index(
        "auditor: running the rules..."
    )
    assert "auditor:" not in done.stdout and "\r" not in done.stderr and "\x1b" not in done.stderr


def _expected(out: Path) -> tuple[str, str, set[str], set[tuple[str, str, str]]]:
    """The person with the most findings, by the access model: (name, user name, finding ids, reach)."""
    access = AccessModel(snapshots.load(out / "snapshot"))
    findings = json.loads((out / "findings.json").read_text())
    best = None
    for user in access.snapshot.table("idc_users"):
        hr = access.hr_person(user)
        if hr is None:
            continue
        iam = [u for u in access.snapshot.table("iam_users") if access.iam_user_person(u) == hr]
        ids = {
            f["finding_id"]
            for f in findings
            if (f["principal"]["type"] == "idc_user" and f["principal"]["id"] == user.user_id)
            or any(
                f["account_id"] == u.account_id
                and (
                    (f["principal"]["type"] == "iam_user" and f["principal"]["id"] in (u.user_id, u.user_name))
                    or (f["principal"]["type"] == "access_key" and f["principal"]["name"] == u.user_name)
                )
                for u in iam
            )
        }
        reach = {
            (
                p.account_id,
                access.permission_set_name(p.permission_set_arn),
                "direct" if p.direct else f"group {p.group_name}",
            )
            for p in access.paths_of(user.user_id)
        }
        if best is None or len(ids) > len(best[2]):
            best = (hr.display_name, user.user_name, ids, reach)
    assert best is not None and len(best[2]) >= 3 and best[3]
    return best


@pytest.fixture(scope="module")
def chromium():
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(demo, chromium):
    context = chromium.new_context(offline=True, accept_downloads=True, viewport={"width": WIDTH, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((demo[0] / "report.html").as_uri())
    page.wait_for_selector("#p-count:not(:empty)")
    yield page
    assert errors == []
    context.close()


@pytest.mark.browser
def test_a_reviewer_finds_a_person_sees_all_they_reach_and_exports_their_findings(demo, page):
    out = demo[0]
    name, user_name, finding_ids, reach = _expected(out)
    page.fill("#p-search", user_name)
    page.dispatch_event("#people-controls", "submit")
    with page.expect_download() as download:
        page.click("#p-export")
    listed = list(csv.reader(io.StringIO(Path(download.value.path()).read_bytes().decode("utf-8-sig"))))
    assert listed[0][:2] == ["name", "user_name"] and user_name in [row[1] for row in listed[1:]]
    page.locator("#people-table a.name", has_text=re.compile(rf"^{re.escape(name)}$")).first.click()
    section = page.locator(f'section.person[id="person-{user_name}"]')
    section.wait_for()

    shown_findings = section.locator("table.their-findings tr[data-finding]").evaluate_all(
        "rows => rows.map(r => r.getAttribute('data-finding'))"
    )
    assert sorted(shown_findings) == sorted(finding_ids)
    shown_reach = section.locator("table.reach tbody tr").evaluate_all(
        "rows => rows.map(r => Array.from(r.cells, c => c.innerText))"
    )
    assert {(row[0].split()[0], row[1], row[2]) for row in shown_reach} == reach

    section.locator("button.show-person").click()
    total = len(json.loads((out / "findings.json").read_text()))
    assert page.eval_on_selector("#f-count", "e => e.value") == f"{len(finding_ids)} of {total} findings shown"
    with page.expect_download() as download:
        page.click("#f-export")
    exported = Path(download.value.path()).read_bytes()
    # exactly findings.csv's header and its rows for this person, byte for byte (BOM, quoting, guard)
    written = (out / "findings.csv").read_bytes()
    header, *rows = written.decode("utf-8-sig").split("\r\n")[:-1]
    ids = [r[0] for r in csv.reader(io.StringIO("\r\n".join(rows)))]
    expected = [row for row, finding_id in zip(rows, ids, strict=True) if finding_id in finding_ids]
    assert exported.decode("utf-8-sig").split("\r\n")[:-1] == [header, *expected]
    assert exported.startswith(b"\xef\xbb\xbf")

    page.click("#f-expand")  # every detail on the page open: still no horizontal scroll
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH


@pytest.mark.browser
def test_the_whole_report_fits_1280_px_and_names_do_not_break_inside_a_word(demo, page):
    page.click("#f-reset")
    page.select_option("#f-size", "500")
    page.click("#f-expand")
    cells = page.eval_on_selector_all(
        "#findings-table > tbody > tr:not(.detail-row)",
        "rows => rows.map(r => [r.cells[3].innerText, r.cells[4].innerText])",
    )
    assert len(cells) == len(json.loads((demo[0] / "findings.json").read_text()))
    about_people = [account for principal, account in cells if "Identity Center user" in principal]
    assert "organisation-wide" not in about_people  # an Identity Center finding says so, and how far the user reaches
    assert any(re.fullmatch(r"Identity Center\nreaches \d+ accounts?", account) for account in about_people)
    assert page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]") == [
        WIDTH,
        WIDTH,
    ]
    broken = page.evaluate(
        """() => {
          const broken = [];
          const names = document.querySelectorAll('.name');
          for (const element of names) {
            const text = element.firstChild;
            if (!text || text.nodeType !== Node.TEXT_NODE) continue;
            for (const word of text.data.matchAll(/[^\\s\\-]+/g)) {
              if (word[0].length > 24) continue;  // longer than any column: may break
              const range = document.createRange();
              range.setStart(text, word.index);
              range.setEnd(text, word.index + word[0].length);
              if (range.getClientRects().length > 1) broken.push(word[0]);
            }
          }
          return [names.length, broken];
        }"""
    )
    assert broken[0] > 50 and broken[1] == []


@pytest.mark.browser
def test_without_javascript_a_link_to_a_person_opens_their_section(demo, chromium):
    name, user_name, finding_ids, reach = _expected(demo[0])
    context = chromium.new_context(java_script_enabled=False, offline=True, viewport={"width": WIDTH, "height": 900})
    page = context.new_page()
    page.goto(f"{(demo[0] / 'report.html').as_uri()}#person-{user_name}")
    body = page.locator(f'div.person-body[id="person-{user_name}"]')
    assert body.evaluate("e => e.parentElement.open") is True
    shown = body.locator("table.their-findings tr[data-finding]").evaluate_all(
        "rows => rows.map(r => r.getAttribute('data-finding'))"
    )
    assert sorted(shown) == sorted(finding_ids)
    rows = body.locator("table.reach tbody tr").evaluate_all(
        "rows => rows.map(r => Array.from(r.cells, c => c.innerText))"
    )
    assert {(row[0].split()[0], row[1], row[2]) for row in rows} == reach
    assert page.locator("nav.az a").count() > 5  # an A-Z index of everyone listed
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    context.close()
