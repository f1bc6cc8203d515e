"""Benchmark the reviewer's page of `auditor serve`: server-side render time for one reviewer's items.

Opens a campaign of N synthetic items (default 500) for one reviewer in a
fresh SQLite state store, shaped like the builder's items (people with
several paths, administrator access, findings, group context), then times
what a GET /review does: read the items from the store, group them, render
the page. Prints the median and the worst of several renders, and the size.
Target: under 300 ms for 500 items.

    python bench/review_page.py [ITEMS] [--repeat N] [--seed N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from auditor import config
from auditor.campaign import CampaignSpec, open_campaign
from auditor.campaign.model import Item, RevokeSpec
from auditor.model import Principal
from auditor.serve.pages import render
from auditor.serve.views import reviewer_view
from auditor.snapshot import Manifest, Snapshot
from auditor.store import Store

NOW = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
REVIEWER = "reviewer@example.com"
PERMISSION_SETS = ["AdministratorAccess", "ReadOnly", "Developer", "Billing", "DataScientist"]


class _Session:
    email, role, csrf, id = REVIEWER, "reviewer", "0" * 64, 1


def items(count: int, rng: random.Random) -> list[Item]:
    made = []
    for n in range(count):
        person = n // 4
        ps = rng.choice(PERMISSION_SETS)
        account = f"{111111111111 + n % 40:012d}"
        group = rng.choice([None, None, "developers", "data-team"])
        findings = [
            {"finding_id": f"f{n}", "rule_id": "idc-assignment-unused", "severity": "medium", "title": f"{ps} unused"}
        ] * rng.randrange(3)
        made.append(
            Item(
                item_id="",
                kind="idc_assignment",
                principal=Principal(type="idc_user", id=f"u-{person}", name=f"person{person}"),
                subject_email=f"person{person}@example.com",
                subject_name=f"Person {person} <b>&",
                access=f"{ps} in account-{account} ({account}), "
                + (f"via group {group}" if group else "assigned directly"),
                account_id=account,
                account_name=f"account-{account}",
                environment=rng.choice(["prod", "dev", "staging"]),
                permission_set=ps,
                permission_set_arn=f"arn:aws:sso:::permissionSet/ssoins-1/ps-{ps}",
                group=group,
                hr_status=rng.choice(["active", "active", "leave", "terminated"]),
                department="engineering",
                title="Engineer",
                manager=REVIEWER,
                end_date=None,
                last_used=(NOW - timedelta(days=rng.randrange(400))).isoformat(),
                admin=ps == "AdministratorAccess",
                related_findings=findings,
                flagged=bool(findings),
                recommendation="revoke" if findings else "keep",
                recommendation_reason="unused for 120 days" if findings else "used recently",
                revokes=[RevokeSpec(kind="idc_account_assignment", target={"account_id": account})],
                paths=[f"p{n}"],
                removes_paths=[f"p{n}"],
                context={"membership_also_grants": ["ReadOnly in account-x (1)"]} if group else {},
            )
        )
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("items", nargs="?", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "state.db")
        snapshot = Snapshot(manifest=Manifest(as_of=NOW))
        spec = CampaignSpec(name="bench", due=NOW + timedelta(days=14), reviewer=f"fixed:{REVIEWER}")
        created = open_campaign(
            store,
            config.defaults(),
            snapshot,
            [],
            spec,
            now=NOW,
            run_dir=None,
            items=items(args.items, random.Random(args.seed)),
        )
        timings, size = [], 0
        for _ in range(args.repeat):
            started = time.perf_counter()
            view = reviewer_view(store, created.campaign.id, REVIEWER, now=NOW)
            html = render("serve_review.html.j2", view=view, session=_Session())
            timings.append(time.perf_counter() - started)
            size = len(html.encode())
    print(f"items     {args.items}")
    print(
        f"render    median {statistics.median(timings) * 1000:.0f} ms, worst {max(timings) * 1000:.0f} ms (target < 300 ms)"
    )
    print(f"size      {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
