"""Micro-certification: a mover or a new administrator gets a small campaign for their manager."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from auditor import snapshot as snapshots
from auditor.campaign import list_campaigns, open_micro_campaigns
from auditor.campaign.state import item_states
from auditor.model import Finding
from auditor.store import runs
from tests.campaign.estate import AS_OF, NOW, make_settings


@pytest.fixture
def nightly(run_dir):
    snapshot = snapshots.load(run_dir / "snapshot")
    findings = msgspec.json.decode((run_dir / "findings.json").read_bytes(), type=list[Finding])
    return snapshot, findings


EARLIER = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


def record_earlier_run(store) -> None:
    with store.engine.begin() as conn:
        conn.execute(runs.insert().values(kind="run", started_at=EARLIER, as_of=EARLIER))


def test_movers_and_new_admins_get_a_campaign_for_their_manager(store, settings, nightly, run_dir):
    record_earlier_run(store)
    snapshot, findings = nightly
    opened = open_micro_campaigns(store, snapshot, findings, settings, NOW, run_dir=run_dir)
    assert [(r.user_name, r.reviewer) for r in opened] == [("ana", "boss@example.com"), ("dana", "boss@example.com")]
    by_user = {r.user_name: r for r in opened}
    dana = [s.item for s in item_states(store, by_user["dana"].campaign_id)]
    assert sorted(i.permission_set for i in dana) == ["Billing", "Developer"]  # all of a mover's access
    ana = [s.item for s in item_states(store, by_user["ana"].campaign_id)]
    assert [i.permission_set for i in ana] == ["AdministratorAccess"]  # only the admin grant
    campaigns = {c.campaign.name: c.campaign for c in list_campaigns(store, now=NOW)}
    micro = campaigns["Micro-certification: dana moved department"]
    assert micro.kind == "micro"
    assert (micro.due_at - NOW).days == settings.get("campaigns", "default_duration_days")

    again = open_micro_campaigns(store, snapshot, findings, settings, NOW, run_dir=run_dir)
    assert again == [] and len(list_campaigns(store, now=NOW)) == 2


def test_only_new_findings_open_a_campaign(store, settings, nightly):
    record_earlier_run(store)
    snapshot, findings = nightly
    seen = [msgspec.structs.replace(f, status="open") for f in findings]
    assert open_micro_campaigns(store, snapshot, seen, settings, NOW) == []


def test_the_first_run_is_a_baseline(store, settings, nightly):
    snapshot, findings = nightly
    assert snapshot.manifest.as_of == AS_OF
    assert open_micro_campaigns(store, snapshot, findings, settings, NOW) == []


def test_micro_certification_can_be_turned_off(store, nightly):
    record_earlier_run(store)
    snapshot, findings = nightly
    assert open_micro_campaigns(store, snapshot, findings, make_settings(micro_certification=False), NOW) == []
