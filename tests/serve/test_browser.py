"""The demo's review, end to end in a real Chromium: owner, reviewer, close, remediation plan, audit log.

`auditor demo` builds the tiny estate; the owner creates a campaign on its
state with no config; a reviewer signs in with their link, sees their items
with evidence, keeps one (justified), revokes two (one in bulk) and
reassigns one; the link does not work twice; the owner's page shows the
progress and closes the campaign; the remediation plan (read from the same
estate served by `auditor sandbox serve`) holds exactly the two revokes;
`audit verify` holds and names the reviewer. axe-core checks every page.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from auditor.campaign.state import item_states
from auditor.store import Store, audit_log

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
axe_module = pytest.importorskip("axe_playwright_python.sync_playwright", reason="axe-playwright-python is missing")
CHROMIUM = os.environ.get("AUDITOR_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run", "--disable-sync"]
AS_OF = "2026-11-02T06:00:00Z"
OWNER = "grc@example.com"


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _started(argv: list[str], env: dict, cwd: Path) -> subprocess.Popen:
    """A background `auditor` process, returned once it says it is serving ("Ctrl-C to stop.")."""
    process = subprocess.Popen(
        [sys.executable, "-m", "auditor.cli", *argv], cwd=cwd, env=env, stdout=subprocess.PIPE, text=True
    )
    for line in process.stdout:
        if line.startswith("Ctrl-C to stop"):
            return process
    raise AssertionError(f"{argv[0]} ended before serving (exit {process.wait()})")


class Demo:
    def __init__(self, root: Path) -> None:
        self.root, self.state = root, root / "demo" / "state.db"
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, "HOME": str(root)}
        self.env["XDG_DATA_HOME"] = str(root / "data")
        self.processes: list[subprocess.Popen] = []

    def cli(self, *argv: str, env: dict | None = None) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "auditor.cli", *argv],
            cwd=self.root,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, (argv, done.stdout[-2000:], done.stderr[-2000:])
        return done.stdout

    def background(self, *argv: str) -> None:
        self.processes.append(_started(list(argv), self.env, self.root))

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            process.wait(timeout=30)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("served-demo")
    demo = Demo(root)
    aws = _port()
    try:
        # the same estate, served for the remediation plan, built while the demo runs
        sandbox = subprocess.Popen(
            [sys.executable, "-m", "auditor.cli", "sandbox", "serve", "--size", "tiny", "--seed", "1"]
            + ["--as-of", AS_OF, "--port", str(aws), "--workdir", str(root / "sandbox")],
            cwd=root,
            env=demo.env,
            stdout=subprocess.PIPE,
            text=True,
        )
        demo.processes.append(sandbox)
        demo.cli("demo", "--out", "demo", "--size", "tiny", "--seed", "1", "--as-of", AS_OF)
        demo.cli("campaign", "create", "--state", str(demo.state), "--name", "Q4 review", "--owner", OWNER)
        demo.web = _port()
        demo.background("serve", "--state", str(demo.state), "--port", str(demo.web), "--evidence-dir", "evidence")
        for line in sandbox.stdout:
            if line.startswith("Ctrl-C to stop"):
                break
        demo.aws = {
            **demo.env,
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{aws}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        yield demo
    finally:
        demo.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield launched
        launched.close()


class Watched:
    """A page in a fresh context (its own cookies), with console errors (a CSP refusal among them) recorded."""

    def __init__(self, browser) -> None:
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def accessible(self, refused: bool = False) -> None:
        """No critical or serious axe-core violation, the page's style applied, no console error.

        ``refused``: the page is a refusal (403), which the console reports as a failed load, and only that.
        """
        results = axe_module.Axe().run(self.page)
        bad = [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
            for v in results.response["violations"]
            if v["impact"] in ("critical", "serious")
        ]
        assert not bad, bad
        styled = self.page.eval_on_selector("body", "b => getComputedStyle(b).fontFamily")
        assert "system-ui" in styled, "the page's own style is admitted by its CSP hash"
        errors = [
            e
            for e in self.errors
            if not (refused and e.startswith("Failed to load resource: the server responded with a status of 403"))
        ]
        assert not errors, errors


def _link(demo: Demo, *argv: str) -> str:
    out = demo.cli(
        "campaign", "invite", "1", "--state", str(demo.state), "--print", "--base-url", demo_url(demo), *argv
    )
    return re.search(r"(http://\S+/signin/\S+)", out).group(1)


def demo_url(demo: Demo) -> str:
    return f"http://127.0.0.1:{demo.web}"


def _choose(demo: Demo):
    """A reviewer with two directly assigned accesses to revoke, one to keep and one to reassign."""
    store = Store.open(demo.state)
    states = item_states(store, 1)
    reviewers = sorted({s.reviewer for s in states}, key=lambda r: sum(s.reviewer == r for s in states))
    for reviewer in reviewers:
        mine = [s for s in states if s.reviewer == reviewer]
        direct = [
            s
            for s in mine
            if s.item.kind == "idc_assignment" and s.item.group is None and not s.item.break_glass and s.item.revokes
        ]
        if len(mine) >= 4 and len(direct) >= 2:
            rest = [s for s in mine if s not in direct[:2]]
            other = next(r for r in reviewers if r != reviewer and r not in {s.item.subject_email for s in rest[1:2]})
            return reviewer, [s.item.item_id for s in direct[:2]], rest[0].item.item_id, rest[1].item.item_id, other
    raise AssertionError("no reviewer in the demo campaign has two direct assignments")


def test_a_reviewer_decides_in_the_browser_and_the_owner_closes_into_a_plan(demo, browser):
    reviewer, (revoke_one, revoke_bulk), keep, move, other = _choose(demo)
    link = _link(demo, "--reviewer", reviewer)

    you = Watched(browser)
    you.page.goto(link)
    you.accessible()
    you.page.click("text=Continue to the review")
    you.page.wait_for_selector("h1:has-text('Your access review')")
    assert you.page.locator("article.item").count() >= 4
    you.page.keyboard.press("j")  # keyboard navigation: j moves to the first item, x selects it
    assert you.page.evaluate("document.activeElement.className").startswith("item")
    you.page.keyboard.press("j")
    you.page.keyboard.press("k")
    assert you.page.evaluate("document.activeElement.id") == you.page.locator("article.item").first.get_attribute("id")
    evidence = you.page.inner_text(f"#item-{keep}")
    assert "Last used" in evidence and "Recommendation" in evidence and "Path" in evidence
    you.accessible()

    you.page.check(f"#keep-{keep}")
    you.page.fill(f"#why-{keep}", "runs the quarterly close")
    you.page.click(f"#item-{keep} button[type=submit]")
    you.page.wait_for_selector(f"text=Saved: {keep}.")
    you.page.check(f"#revoke-{revoke_one}")
    you.page.click(f"#item-{revoke_one} button[type=submit]")
    you.page.wait_for_selector(f"text=Saved: {revoke_one}.")
    you.page.check(f"#select-{revoke_bulk}")
    you.page.check("#bulk-revoke")
    you.page.check("#bulk-confirm")
    you.page.click("text=Apply to the selected items")
    you.page.wait_for_selector(f"text=Saved: {revoke_bulk}.")
    you.page.check(f"#reassign-{move}")
    you.page.fill(f"#to-{move}", other)
    you.page.click(f"#item-{move} button[type=submit]")
    you.page.wait_for_selector(f"text=Saved: {move}.")
    assert you.page.locator(f"#item-{move}").count() == 0  # it went to {other}
    assert you.page.locator("#progress").get_attribute("value") == "3"
    you.accessible()

    again = Watched(browser)
    again.page.goto(link)
    assert "This link cannot be used" in again.page.inner_text("h1")
    again.accessible(refused=True)
    assert again.page.goto(f"{demo_url(demo)}/review").status == 401

    owner = Watched(browser)
    owner.page.goto(_link(demo, "--owner"))
    owner.page.click("text=Continue to the review")
    row = owner.page.inner_text(f"tr:has(td:text-is('{reviewer}'))")
    assert "67%" in row  # two revokes of three decisions
    assert "3 of " in owner.page.inner_text("main p")
    owner.accessible()
    owner.page.select_option("#undecided", "keep_flagged")
    owner.page.check("#close-confirm")
    owner.page.click("text=Close campaign")
    owner.page.wait_for_selector("text=Download the evidence pack")
    assert "2 revocation(s)" in owner.page.inner_text("main")
    with owner.page.expect_download() as download:
        owner.page.click("text=Download the evidence pack")
    assert download.value.suggested_filename == "campaign-1-evidence.zip"
    owner.accessible()

    demo.cli("remediate", "plan", "--campaign", "1", "--state", str(demo.state), "--out", "plan.json", env=demo.aws)
    plan = json.loads((demo.root / "plan.json").read_text())
    planned = {i for a in plan["actions"] + plan["excluded"] for r in a["reasons"] for i in r.get("item_ids", [])}
    assert planned == {revoke_one, revoke_bulk}

    assert "intact" in demo.cli("audit", "verify", "--state", str(demo.state))
    with Store.open(demo.state).engine.connect() as conn:
        decided = conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.details).where(audit_log.c.action == "campaign.decision")
        ).all()
    by_reviewer = [json.loads(d)["decision"] for a, d in decided if a == reviewer]
    assert sorted(by_reviewer) == ["keep", "reassign", "revoke", "revoke"]
