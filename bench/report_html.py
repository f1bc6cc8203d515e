"""Benchmark report.html on a large estate: render time, page size, and (optionally) the browser.

Builds an estate of --users people (default 100,000, each in the HR feed and
Identity Center, in two of --groups groups) over --accounts accounts (default
1,000), each group assigned a few permission sets in a few accounts, so each
person reaches about ten (account, permission set) pairs; and N synthetic
findings (default 50,000) shaped like the rules' findings (evidence with
times, counts and policy lists, a share of insufficient-evidence ones).
Renders the page as ``auditor run`` does, and prints:

  render           seconds to build the page (views, people, inventory, template)
  size             bytes of report.html, and of each part of its embedded data
  browser          with --browser and a local Chromium: first paint and first
                   contentful paint, the seconds until the people and findings
                   tables are drawn, then the time of a person search, a search,
                   a filter and a sort over every finding

    python bench/report_html.py [FINDINGS] [--users N] [--accounts N] [--browser] [--chromium PATH] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from auditor import snapshot as snapshot_store
from auditor.model import (
    Account,
    AccountAssignment,
    Finding,
    GroupMembership,
    HrPerson,
    IdcGroup,
    IdcUser,
    PermissionSet,
    Principal,
)
from auditor.report.html import write_report_html
from auditor.rules import RULES
from auditor.snapshot import SourceResult, SourceStatus

AS_OF = datetime(2026, 6, 30, 6, 0, tzinfo=UTC)
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


def synthetic(count: int, seed: int, *, users: int = 100_000, accounts: int = 1_000, groups: int = 500):
    rng = random.Random(seed)
    n_users, n_accounts, n_groups = users, accounts, groups
    accounts = [Account(account_id=f"{100000000000 + n * 7919:012d}", name=f"acct-{n:04d}") for n in range(n_accounts)]
    users = [
        IdcUser(
            user_id=f"u-{n:06d}",
            user_name=f"person{n:06d}",
            display_name=f"Person {n}",
            email=f"person{n:06d}@example.com",
        )
        for n in range(n_users)
    ]
    departments = ["engineering", "finance", "sales", "platform", "security", "support", "data", "legal"]
    people = [
        HrPerson(
            line=n + 2,
            employee_id=f"E{n:06d}",
            email=u.email or "",
            user_name=u.user_name,
            display_name=u.display_name or "",
            department=rng.choice(departments),
            title="Engineer",
            manager_email=f"person{rng.randrange(n_users):06d}@example.com",
            status=rng.choices(["active", "leave", "terminated"], [96, 2, 2])[0],
            employment_type=rng.choices(["employee", "contractor"], [9, 1])[0],
        )
        for n, u in enumerate(users)
    ]
    groups = [IdcGroup(group_id=f"g-{n:04d}", display_name=f"team-{n:04d}") for n in range(n_groups)]
    sets = [PermissionSet(arn=f"arn:aws:sso:::permissionSet/ssoins-1/ps-{n:04d}", name=f"Role{n}") for n in range(60)]
    memberships = [
        GroupMembership(group_id=g.group_id, user_id=u.user_id) for u in users for g in rng.sample(groups, 2)
    ]
    assignments = [
        AccountAssignment(
            account_id=rng.choice(accounts).account_id,
            permission_set_arn=rng.choice(sets).arn,
            principal_type="GROUP",
            principal_id=g.group_id,
        )
        for g in groups
        for _ in range(5)
    ]
    result = SourceResult(
        tables={
            "accounts": accounts,
            "idc_users": users,
            "idc_groups": groups,
            "idc_memberships": memberships,
            "permission_sets": sets,
            "account_assignments": assignments,
            "hr_people": people,
        },
        statuses=[
            SourceStatus(source="organizations"),
            SourceStatus(source="identity_center"),
            SourceStatus(source="hr"),
        ],
    )
    snapshot = snapshot_store.build([result], as_of=AS_OF, collected_at=AS_OF, tool_version="bench")
    rules = sorted(RULES.values(), key=lambda r: r.id)
    findings = []
    for n in range(count):
        rule = rules[n % len(rules)]
        user = rng.choice(users)
        account = rng.choice(accounts)
        insufficient = rng.random() < 0.05
        last_seen = AS_OF - timedelta(days=rng.randint(1, 400))
        evidence = {
            "last_seen": last_seen,
            "days_idle": (AS_OF - last_seen).days,
            "permission_set": rng.choice(sets).name,
            "policies": [f"arn:aws:iam::aws:policy/Policy{rng.randint(1, 50)}" for _ in range(rng.randint(0, 3))],
        }
        if insufficient:
            evidence.update({"insufficient_evidence": True, "missing": "cloudtrail was partial for the account"})
        findings.append(
            Finding(
                finding_id=f"{n:024x}",
                rule_id=rule.id,
                category=rule.category.value,
                severity="info" if insufficient else rule.severity.value,
                principal=Principal(type="idc_user", id=user.user_id, name=user.user_name),
                account_id=account.account_id,
                resource=rng.choice(sets).arn,
                title=f"{rule.title}: {user.user_name} in {account.name}",
                evidence=evidence,
                controls=list(rule.controls),
                status=rng.choice(["new", "open", "open", "open", "resolved", "suppressed"]),
                recommendation=rule.recommendation,
                first_seen=AS_OF - timedelta(days=rng.randint(0, 90)),
            )
        )
    return findings, snapshot


def browser(path: Path, chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="bench-profile-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=chromium, headless=True, args=BROWSER_ARGS, offline=True
            )
            page = context.new_page()
            began = time.perf_counter()
            page.goto(path.as_uri())
            page.wait_for_function("document.getElementById('f-count').value.indexOf(' of ') > 0")
            page.wait_for_function("document.getElementById('p-count').value.indexOf(' of ') > 0")
            print(f"browser open     {time.perf_counter() - began:7.2f} s  (to the people and findings tables drawn)")
            paints = page.evaluate(
                "() => Object.fromEntries(performance.getEntriesByType('paint').map(e => [e.name, e.startTime]))"
            )
            for name in ("first-paint", "first-contentful-paint"):
                if name in paints:
                    print(f"browser {name:22} {paints[name] / 1000:7.2f} s")
            for label, script in (
                (
                    "person",
                    "f = document.getElementById('p-search'); f.value = 'person000123';"
                    " document.getElementById('people-controls').dispatchEvent(new Event('submit', {cancelable: true}));",
                ),
                (
                    "search",
                    "f = document.getElementById('f-search'); f.value = 'person000123';"
                    " document.getElementById('controls').dispatchEvent(new Event('submit', {cancelable: true}));",
                ),
                (
                    "filter",
                    "f = document.getElementById('f-search'); f.value = ''; s = document.getElementById('f-sev');"
                    " s.value = 'high'; s.dispatchEvent(new Event('change'));",
                ),
                ("sort", "document.querySelector('#findings-table thead th:nth-child(4) button').click();"),
            ):
                took = page.evaluate(
                    f"() => {{ let f, s; const t = performance.now(); {script} return performance.now() - t; }}"
                )
                shown = page.eval_on_selector("#p-count" if label == "person" else "#f-count", "e => e.value")
                print(f"browser {label:8} {took / 1000:7.2f} s  ({shown})")
            context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("findings", nargs="?", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--users", type=int, default=100_000, help="people (HR rows and Identity Center users)")
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--browser", action="store_true", help="also time the page in headless Chromium")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--keep", type=Path, help="write report.html here instead of a temporary directory")
    args = parser.parse_args()

    findings, snapshot = synthetic(args.findings, args.seed, users=args.users, accounts=args.accounts)
    out = args.keep or Path(tempfile.mkdtemp(prefix="bench-report-"))
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.html"
    began = time.perf_counter()
    write_report_html(findings, snapshot, {"exit_status": 0}, path, now=AS_OF)
    elapsed = time.perf_counter() - began
    print(f"findings         {len(findings):7d}")
    print(f"render           {elapsed:7.2f} s")
    print(f"people           {args.users:7d}  accounts {args.accounts}")
    print(f"size             {path.stat().st_size / 1e6:7.1f} MB")
    data = json.loads(re.search(r'id="report-data">(.*?)</script>', path.read_text(encoding="utf-8"), re.S).group(1))
    for part in ("findings", "people", "inventory"):
        print(f"  data {part:10} {len(json.dumps(data[part], separators=(',', ':'))) / 1e6:7.1f} MB")
    html = path.read_text(encoding="utf-8")
    static = html[html.find('<div id="people-static">') : html.find('<section id="findings">')]
    print(f"  people listed  {len(static.encode()) / 1e6:7.1f} MB  (without JavaScript)")
    if args.browser:
        browser(path, args.chromium)
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
