"""`auditor serve`'s POST /events: only a holder of the events token gets in; a bad event is refused and kept."""

from __future__ import annotations

import json
import logging

import sqlalchemy as sa
from starlette.testclient import TestClient

from auditor.events.schema import event_dead_letters
from auditor.serve import ServeConfig, create_app
from auditor.serve.events import MAX_BYTES
from auditor.store import Store, audit_log
from tests.campaign.estate import NOW, make_settings

TOKEN = "s3cret-events-token"


def app_for(tmp_path, token):
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    config = ServeConfig(
        store=store,
        settings=make_settings(),
        base_url="http://testserver",
        evidence_dir=tmp_path / "ev",
        clock=lambda: NOW,
        events_token=token,
        events_dir=tmp_path / "events",
    )
    return store, create_app(config)


def dead_letters(store) -> list:
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(event_dead_letters)))


def test_without_a_configured_token_no_event_is_taken(tmp_path):
    store, app = app_for(tmp_path, None)
    with TestClient(app) as client:
        answer = client.post("/events", content=b"{}", headers={"Authorization": "Bearer anything"})
    assert answer.status_code == 404
    assert dead_letters(store) == []


def test_a_missing_or_wrong_token_is_refused_logged_and_changes_nothing(tmp_path, caplog):
    store, app = app_for(tmp_path, TOKEN)
    caplog.set_level(logging.WARNING, logger="auditor.serve.events")
    with TestClient(app) as client:
        missing = client.post("/events", content=b"{}")
        wrong = client.post("/events", content=b"{}", headers={"Authorization": "Bearer not-it"})
    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert len([r for r in caplog.records if "refused an HR event" in r.getMessage()]) == 2
    assert "not-it" not in caplog.text and TOKEN not in caplog.text
    assert dead_letters(store) == []


def test_a_malformed_event_is_answered_400_with_the_reason_and_kept_as_a_dead_letter(tmp_path):
    store, app = app_for(tmp_path, TOKEN)
    event = {"event_type": "leaver", "employee_id": "E1"}  # no event id, no time
    with TestClient(app) as client:
        answer = client.post("/events", content=json.dumps(event), headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 400
    assert answer.json()["status"] == "rejected" and answer.json()["reason"]
    (kept,) = dead_letters(store)
    assert "E1" in kept.payload
    with store.engine.connect() as conn:
        actors = {r.actor for r in conn.execute(sa.select(audit_log.c.actor))}
    assert "http:hr-events" in actors


def test_an_oversized_body_is_refused_before_the_intake(tmp_path):
    store, app = app_for(tmp_path, TOKEN)
    with TestClient(app) as client:
        answer = client.post("/events", content=b"x" * (MAX_BYTES + 1), headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 413
    assert dead_letters(store) == []
