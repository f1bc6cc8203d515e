"""The whole review-to-revocation cycle on its own sandbox, run as a separate process.

    python -m tests.e2e.remediation_cycle OUT_DIR

Run -> quarterly campaign -> reviewers decide (some keep, some revoke) -> close ->
remediation plan from the closed campaign -> apply -> verify -> rollback -> a fresh
collection. Writes OUT_DIR/cycle.json with what each step saw; the test asserts on it.
(A process of its own because a process holds one sandbox, and the cycle changes it.)
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from auditor import config
from auditor.aws import context_from_settings
from auditor.campaign import CampaignSpec, close_campaign, create_campaign, export_packets, import_decisions
from auditor.pipeline import collect, run
from auditor.remediate.clients import Clients
from auditor.remediate.executor import rollback_run
from auditor.remediate.planning import apply_plan_file, plan_revocations
from auditor.remediate.verify import verify_run
from auditor.sandbox import start_sandbox
from auditor.store import Store
from tests.campaign.estate import decide_xlsx, read_csv

AS_OF = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
FALLBACK = "grc@example.com"
TABLES = ("idc_users", "idc_memberships", "account_assignments", "access_keys", "iam_users")


def _state(snapshot) -> dict[str, list]:
    """What remediation may touch, comparable across collections (membership ids are re-issued)."""
    state = {}
    for table in TABLES:
        rows = [msgspec.to_builtins(r) for r in snapshot.table(table)]
        for row in rows:
            row.pop("membership_id", None)
            row.pop("password_last_used", None)
        state[table] = sorted(json.dumps(r, sort_keys=True) for r in rows)
    return state


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    settings = config.defaults()
    settings.values["campaigns"]["fallback_reviewer"] = FALLBACK
    settings.values["remediation"]["max_share"] = 1.0  # a review may revoke much of a tiny estate
    settings.values["remediation"]["max_actions"] = 500
    settings.values["remediation"]["max_actions_per_day"] = 500
    store = Store.open(out / "state.db")
    with start_sandbox(size="tiny", seed=11, as_of=AS_OF, workdir=out / "sandbox") as sandbox:
        os.environ.pop("AWS_PROFILE", None)
        os.environ.update(sandbox.env())
        night = run(settings, out_dir=out / "night", as_of=AS_OF, hr_feed=sandbox.hr_feed, store=store)
        before = _state(night.snapshot)

        now = datetime.now(UTC)
        created = create_campaign(store, settings, CampaignSpec(name="Q4", due=now + timedelta(days=14)), now=now)
        campaign_id = created.campaign.id
        files, decided = [], {"keep": 0, "revoke": 0}
        for packet in export_packets(store, campaign_id, out / "packets", now=now):
            decisions = {}
            for row in read_csv(packet.csv)[1]:
                decision = "revoke" if row["recommendation"] == "revoke" else "keep"
                decisions[row["item_id"]] = (decision, "" if decision == "revoke" else "still needed")
                decided[decision] += 1
            files.append(decide_xlsx(packet.xlsx, out / f"{packet.xlsx.stem}-back.xlsx", decisions))
        imported = import_decisions(store, campaign_id, files, now=now)
        closed = close_campaign(store, campaign_id, now=now, out_dir=out / "evidence", undecided="keep_flagged")

        from auditor.campaign import revocations

        revoked = revocations(store, campaign_id)
        clients = Clients(context_from_settings(settings))
        plan_file = out / "plan.json"  # as `auditor remediate plan --campaign ID --out plan.json` writes it
        plan = plan_revocations(
            store, settings, campaign_id=campaign_id, now=now, actor="test", out=plan_file, clients=clients
        ).plan
        applied = apply_plan_file(
            plan_file, store, settings, yes=True, override_reason=None, actor="test", clients=clients
        )
        verified = verify_run(applied.run_id, clients=clients, store=store, actor="test")
        during = _state(collect(settings, as_of=AS_OF, hr_feed=sandbox.hr_feed))
        rolled = rollback_run(applied.run_id, clients=clients, store=store, yes=True, actor="test")
        after = _state(collect(settings, as_of=AS_OF, hr_feed=sandbox.hr_feed))

    report = {
        "decided": decided,
        "import_ok": imported.ok,
        "revocations": len(revoked),
        "revocation_kinds": sorted({r.kind for r in revoked}),
        "plan_actions": len(plan.actions),
        "plan_excluded": [e.why for e in plan.excluded],
        "conflicts": len(closed.conflicts),
        "applied": applied.counts(),
        "verified": verified.ok,
        "changed_while_applied": before != during,
        "rolled_back": rolled.counts(),
        "restored": before == after,
        "differences": {t: sorted(set(before[t]) ^ set(after[t]))[:5] for t in TABLES if before[t] != after[t]},
    }
    (out / "cycle.json").write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
