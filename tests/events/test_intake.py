"""Rejected events are kept as dead letters with the reason, and journaled, before anything reads AWS."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from auditor import config
from auditor.events.intake import accept
from auditor.events.schema import event_dead_letters
from auditor.store import Store, audit_log

NOW = datetime(2026, 11, 2, 7, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    return Store.open(tmp_path / "state.db")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "not JSON"),
        ([1, 2], "an event is a JSON object, not list"),
        ({"detail-type": "HR lifecycle event", "source": "auditor.hr", "detail": {"type": "leaver"}}, "$: "),
        (
            {"detail-type": "AWS API Call via CloudTrail", "detail": {"eventID": "x", "eventName": "ListUsers"}},
            "is not a call the auditor follows",
        ),
    ],
)
def test_a_malformed_event_is_kept_with_its_reason_and_journaled(store, payload, reason):
    outcome = accept(payload, store=store, settings=config.defaults(), origin="http", now=NOW)
    assert outcome.status == "rejected" and reason in outcome.reason and outcome.http_status == 400
    with store.engine.connect() as conn:
        letter = conn.execute(sa.select(event_dead_letters)).one()
        entry = conn.execute(sa.select(audit_log).order_by(audit_log.c.id.desc())).first()
    assert letter.reason == outcome.reason and letter.origin == "http"
    kept = payload.decode() if isinstance(payload, bytes) else json.dumps(payload, sort_keys=True)
    assert letter.payload == kept
    assert entry.action == "event.rejected" and json.loads(entry.details)["reason"] == outcome.reason
    assert store.verify_audit()[1] is None
