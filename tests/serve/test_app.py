"""`auditor serve` in-process: sign-in links, sessions, CSRF, decisions with the reviewer as actor, the owner's page."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from html import unescape

import msgspec
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from auditor.campaign import create_campaign
from auditor.campaign.state import item_states
from auditor.cli import main
from auditor.serve import ServeConfig, create_app
from auditor.serve.auth import issue_link
from auditor.store import Store, audit_log
from tests.campaign.estate import NOW, build_world, make_settings, save_run, spec

BOSS = "boss@example.com"
OWNER = "owner@example.com"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture
def served(tmp_path, store_url):
    store = Store.open(store_url)
    settings = make_settings(fallback_reviewer="")
    run_dir = save_run(build_world(), tmp_path / "run", settings)
    campaign = create_campaign(
        store, settings, msgspec.structs.replace(spec(), owner=OWNER), now=NOW, run_dir=run_dir
    ).campaign
    clock = Clock()
    settings.values["campaigns"]["outbox_dir"] = str(tmp_path / "outbox")
    app = create_app(
        ServeConfig(
            store=store, settings=settings, base_url="http://testserver", evidence_dir=tmp_path / "ev", clock=clock
        )
    )
    return store, campaign.id, clock, app


def link(store, cid, email=BOSS, role="reviewer", days=14) -> str:
    return issue_link(store, cid, email, role=role, now=NOW, valid_for=timedelta(days=days))


def sign_in(client: TestClient, token: str):
    page = client.get(f"/signin/{token}")
    if page.status_code != 200:
        return page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post("/signin", data={"token": token, "csrf": csrf}, follow_redirects=False)


def csrf_of(page: str) -> str:
    return unescape(re.search(r'name="csrf" value="([^"]+)"', page).group(1))


def actors(store, action="campaign.decision") -> list[tuple[str, dict]]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(audit_log.c.actor, audit_log.c.details).where(audit_log.c.action == action))
        return [(r.actor, json.loads(r.details)) for r in rows]


def test_a_link_signs_in_once_and_a_replay_is_refused_and_logged(served, caplog):
    store, cid, _, app = served
    token = link(store, cid)
    with TestClient(app) as client:
        done = sign_in(client, token)
        assert done.status_code == 303 and done.headers["location"] == "/review"
        cookie = done.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        page = client.get("/review")
        assert page.status_code == 200 and "Your access review" in page.text
        assert "'unsafe-inline'" not in page.headers["content-security-policy"]
    with TestClient(app) as other, caplog.at_level(logging.WARNING, "auditor.serve"):
        assert sign_in(other, token).status_code == 403
        assert other.get("/review").status_code == 401
    assert "already used" in caplog.text
    with store.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT token_sha256 FROM campaign_links")).scalar()
    assert token not in stored and len(stored) == 64


def test_an_expired_link_and_an_expired_session_let_nobody_in(served):
    store, cid, clock, app = served
    token = link(store, cid, days=1)
    with TestClient(app) as client:
        clock.now = NOW + timedelta(days=2)
        assert sign_in(client, token).status_code == 403
    token = link(store, cid)
    with TestClient(app) as client:
        clock.now = NOW
        assert sign_in(client, token).status_code == 303
        clock.now = NOW + timedelta(hours=9)
        assert client.get("/review").status_code == 401


def test_decisions_are_saved_at_once_with_the_reviewer_as_actor_and_need_csrf(served):
    store, cid, _, app = served
    mine = [s for s in item_states(store, cid) if s.reviewer == BOSS]
    admin = next(s.item.item_id for s in mine if s.item.admin)
    plain = [s.item.item_id for s in mine if not s.item.admin]
    with TestClient(app) as client:
        sign_in(client, link(store, cid))
        csrf = csrf_of(client.get("/review").text)
        forged = client.post("/review/decide", data={"item": plain[0], "decision": "revoke"}, follow_redirects=False)
        assert forged.status_code == 403
        refused = client.post("/review/decide", data={"item": admin, "decision": "keep", "csrf": csrf})
        assert refused.status_code == 400 and "needs a justification" in refused.text
        kept = client.post(
            "/review/decide",
            data={"item": admin, "decision": "keep", "justification": "on call", "csrf": csrf},
            follow_redirects=False,
        )
        assert kept.status_code == 303
        unconfirmed = client.post("/review/bulk", data={"item": plain[:2], "decision": "revoke", "csrf": csrf})
        assert unconfirmed.status_code == 400
        bulk = client.post(
            "/review/bulk",
            data={"item": plain[:2], "decision": "revoke", "confirm": "yes", "csrf": csrf},
            follow_redirects=False,
        )
        assert bulk.status_code == 303
        moved = client.post(
            "/review/decide",
            data={"item": plain[2], "decision": "reassign", "reassign_to": "ceo@example.com", "csrf": csrf},
            follow_redirects=False,
        )
        assert moved.status_code == 303
        assert f"{plain[2]}</h3>" not in client.get("/review").text
    now = {s.item.item_id: s for s in item_states(store, cid)}
    assert now[admin].decision.decision == "keep" and now[plain[2]].reviewer == "ceo@example.com"
    assert {(a, d["decision"]) for a, d in actors(store)} == {(BOSS, "keep"), (BOSS, "revoke"), (BOSS, "reassign")}
    assert store.audit_report().intact


def test_the_owner_sees_progress_assigns_the_unrouted_and_closes(served):
    store, cid, _, app = served
    with TestClient(app) as client:
        sign_in(client, link(store, cid))
        csrf = csrf_of(client.get("/review").text)
        item = next(s.item.item_id for s in item_states(store, cid) if s.reviewer == BOSS and not s.item.admin)
        client.post("/review/decide", data={"item": item, "decision": "revoke", "csrf": csrf})
    with TestClient(app) as owner:
        assert sign_in(owner, link(store, cid, OWNER, "owner")).headers["location"] == "/owner"
        page = owner.get("/owner")
        assert "1 of 9</strong> items decided" in page.text and "eve@example.com" in page.text
        csrf = csrf_of(page.text)
        assert owner.get("/review", follow_redirects=False).headers["location"] == "/owner"
        waiting = next(s.item.item_id for s in item_states(store, cid) if s.reviewer == OWNER)
        owner.post("/owner/assign", data={"item": [waiting], "to": "ceo@example.com", "csrf": csrf})
        assert {s.item.item_id: s.reviewer for s in item_states(store, cid)}[waiting] == "ceo@example.com"
        closed = owner.post("/owner/close", data={"undecided": "keep_flagged", "confirm": "yes", "csrf": csrf})
        assert "Closed." in closed.text and "1 revocation(s) for the remediation plan" in unescape(closed.text)
        assert "Attacker" not in owner.get("/owner?done=Attacker+says+hello").text  # nothing reflected
        pack = owner.get("/owner/evidence.zip")
        assert pack.status_code == 200 and pack.headers["content-type"] == "application/zip"
    assert store.audit_report().intact


def test_reassigning_needs_someone_hr_knows_or_the_organisations_domain(served):
    store, cid, _, app = served
    item = next(s.item.item_id for s in item_states(store, cid) if s.reviewer == BOSS and not s.item.admin)
    with TestClient(app) as client:
        sign_in(client, link(store, cid))
        csrf = csrf_of(client.get("/review").text)
        outside = {"item": item, "decision": "reassign", "reassign_to": "friend@elsewhere.test", "csrf": csrf}
        refused = client.post("/review/decide", data=outside)
        assert refused.status_code == 400 and "not a person HR knows" in unescape(refused.text)
        inside = {**outside, "reassign_to": "new.hire@example.com"}
        assert client.post("/review/decide", data=inside, follow_redirects=False).status_code == 303


def test_campaign_invite_sends_each_reviewer_a_link_that_signs_them_in(served, tmp_path, store_url, capsys):
    store, cid, _, app = served
    config = tmp_path / "config.toml"
    config.write_text(f'[campaigns]\noutbox_dir = "{tmp_path / "outbox"}"\n')
    state = ["--state", store_url, "--config", str(config)]
    assert main(["campaign", "invite", str(cid), *state, "--base-url", "http://testserver"]) == 0
    sent = sorted((tmp_path / "outbox").glob("*.eml"))
    names = [p.name.split("-signin-")[1] for p in sent]  # the owner reviews what reached them (eve's access)
    assert names == ["boss-at-example.com.eml", "ceo-at-example.com.eml", "owner-at-example.com.eml"]
    token = re.search(r"/signin/(\S+)", sent[0].read_text()).group(1)
    with TestClient(app) as client:
        assert sign_in(client, token).headers["location"] == "/review"
    capsys.readouterr()
    assert main(["campaign", "invite", str(cid), *state, "--owner", "--print"]) == 0
    assert re.fullmatch(r"owner@example.com \(owner\): http://127.0.0.1:8000/signin/\S+\n", capsys.readouterr().out)


def test_over_tls_the_cookie_is_secure_and_signing_out_ends_the_session(served):
    store, cid, _, app = served
    with TestClient(app, base_url="https://testserver") as client:
        done = sign_in(client, link(store, cid))
        assert "Secure" in done.headers["set-cookie"]
        csrf = csrf_of(client.get("/review").text)
        assert client.post("/signout", data={"csrf": csrf}).status_code == 200
        assert client.get("/review").status_code == 401


def test_keep_but_right_size_is_offered_for_permission_set_access_only_and_the_owner_sees_it(served):
    store, cid, _, app = served
    mine = [s.item for s in item_states(store, cid) if s.reviewer == BOSS]
    developer = [i.item_id for i in mine if i.permission_set == "Developer" and not i.flagged]
    bot = next(i.item_id for i in mine if i.kind == "iam_user")
    with TestClient(app) as client:
        sign_in(client, link(store, cid))
        page = client.get("/review").text
        assert f'id="rightsize-{developer[0]}"' in page and f'id="rightsize-{bot}"' not in page
        csrf = csrf_of(page)
        refused = client.post("/review/decide", data={"item": bot, "decision": "rightsize", "csrf": csrf})
        assert refused.status_code == 400
        assert f"item {bot}: rightsize applies only to access from a permission set" in unescape(refused.text)
        admin = next(i.item_id for i in mine if i.admin)
        unjustified = client.post("/review/decide", data={"item": admin, "decision": "rightsize", "csrf": csrf})
        assert unjustified.status_code == 400 and "needs a justification" in unjustified.text
        mixed = {"item": [developer[0], bot], "decision": "rightsize", "confirm": "yes", "csrf": csrf}
        assert client.post("/review/bulk", data=mixed).status_code == 400  # all or none
        saved = client.post(
            "/review/decide",
            data={"item": developer[0], "decision": "rightsize", "justification": "EC2 reads only", "csrf": csrf},
            follow_redirects=False,
        )
        assert saved.status_code == 303
        bulk = {"item": developer[1:], "decision": "rightsize", "confirm": "yes", "csrf": csrf}
        assert client.post("/review/bulk", data=bulk, follow_redirects=False).status_code == 303
    now = {s.item.item_id: s.decision for s in item_states(store, cid)}
    assert [now[i].decision for i in developer] == ["rightsize"] * len(developer) and now[bot] is None
    assert {(a, d["decision"]) for a, d in actors(store)} == {(BOSS, "rightsize")}
    with TestClient(app) as owner:
        sign_in(owner, link(store, cid, OWNER, "owner"))
        page = unescape(owner.get("/owner").text)
        assert "Right-sizing requested (1)" in page
        assert f"{', '.join(developer)}</td><td>{BOSS}</td>" in page
        assert "auditor remediate plan --rightsize Developer --out rightsize-Developer.json" in page
