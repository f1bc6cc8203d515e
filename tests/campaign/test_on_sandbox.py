"""A quarterly campaign on the simulated organisation: real collected shapes, real AWS ids in revocations."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from auditor import config
from auditor.campaign import (
    CampaignSpec,
    OutboxDelivery,
    close_campaign,
    create_campaign,
    export_packets,
    import_decisions,
    remind,
    revocations,
    verify_evidence,
)
from auditor.campaign.state import item_states
from auditor.pipeline import run
from auditor.store import Store
from tests.campaign.estate import decide_xlsx, read_csv

pytestmark = pytest.mark.e2e

AS_OF = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
FALLBACK = "grc@kestrel.example"
DELEGATE = "delegate@kestrel.example"


@pytest.fixture(scope="module")
def estate(tmp_path_factory):
    """The sandbox, audited by `auditor run` into a state store (the run a campaign starts from)."""
    from auditor.sandbox import start_sandbox

    workdir = tmp_path_factory.mktemp("sandbox")
    settings = config.defaults()
    settings.values["campaigns"]["fallback_reviewer"] = FALLBACK
    store = Store.open(workdir / "state.db")
    with (
        start_sandbox(size="tiny", seed=3, as_of=AS_OF, workdir=workdir) as sandbox,
        pytest.MonkeyPatch.context() as mp,
    ):
        mp.delenv("AWS_PROFILE", raising=False)
        for key, value in sandbox.env().items():
            mp.setenv(key, value)
        run(settings, out_dir=workdir / "run", as_of=AS_OF, hr_feed=sandbox.hr_feed, store=store)
    return sandbox, settings, store


def test_a_quarterly_campaign_on_the_sandbox(estate, tmp_path):
    sandbox, settings, store = estate
    now = AS_OF + timedelta(hours=1)
    created = create_campaign(store, settings, CampaignSpec(name="Q4", due=AS_OF + timedelta(days=14)), now=now)
    cid = created.campaign.id
    assert created.items > 20 and len(created.by_reviewer) > 2

    packets = export_packets(store, cid, tmp_path / "packets", now=now)
    reviewed = [p for p in packets if p.reviewer != FALLBACK]  # the fallback's items stay undecided
    reassigned = None
    files = []
    for packet in reviewed:
        decisions = {}
        for row in read_csv(packet.csv)[1]:
            if reassigned is None and row["recommendation"] == "keep":
                reassigned = row["item_id"]
                decisions[row["item_id"]] = (f"reassign:{DELEGATE}", "")
            else:
                decisions[row["item_id"]] = (row["recommendation"], "")
        files.append(decide_xlsx(packet.xlsx, tmp_path / f"{packet.xlsx.stem}-back.xlsx", decisions))
    result = import_decisions(store, cid, files, now=now + timedelta(days=1))
    assert result.ok, [str(r) for r in result.rejections]
    (delegate,) = export_packets(store, cid, tmp_path / "delegate", now=now, reviewer=DELEGATE)
    back = decide_xlsx(delegate.xlsx, tmp_path / "delegate.xlsx", {reassigned: ("keep", "needed for the migration")})
    assert import_decisions(store, cid, [back], now=now + timedelta(days=2)).ok

    reminded = remind(
        store,
        settings,
        cid,
        now=AS_OF + timedelta(days=13),
        delivery=OutboxDelivery(tmp_path / "outbox", AS_OF + timedelta(days=13)),
    )
    assert {s.reviewer for s in reminded.sent} == ({FALLBACK} if created.fallback else set())

    closed = close_campaign(
        store, cid, now=AS_OF + timedelta(days=15), out_dir=tmp_path / "evidence", undecided="revoke"
    )
    assert verify_evidence(tmp_path / "evidence", store) == []

    states = item_states(store, cid)
    decided = Counter(s.decision.decision for s in states)
    assert decided["keep"] and decided["revoke"]
    revoked = {s.item.item_id for s in states if s.decision.decision == "revoke"}
    planned = revocations(store, cid)
    in_plan = {i for r in planned for i in r.reason["item_ids"]}
    withheld = {c.item_id for c in closed.conflicts}
    nothing = {s.item.item_id for s in states if s.item.item_id in revoked and not s.item.revokes}
    assert in_plan | withheld | nothing == revoked and not in_plan & withheld
    for revocation in planned:
        target = revocation.target
        if revocation.kind == "idc_account_assignment":
            assert target["instance_arn"] == sandbox.instance_arn
        if revocation.kind == "idc_group_membership":
            assert target["identity_store_id"] == sandbox.identity_store_id
