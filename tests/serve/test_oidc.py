"""Signing in through an identity provider: a verified email with a role in the campaign gets a session, nobody else.

Authlib runs the protocol (discovery, code flow, ID token checks); the provider
here stands in for it at Authlib's client interface, so what is tested is what
the server does with the claims it is given.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import msgspec
import pytest
from starlette.responses import RedirectResponse
from starlette.testclient import TestClient

from auditor.campaign import create_campaign
from auditor.serve import ServeConfig, create_app
from auditor.serve.oidc import OidcConfig, oauth_errors
from auditor.store import Store
from tests.campaign.estate import NOW, build_world, make_settings, save_run, spec

pytest.importorskip("authlib", reason="the optional OpenID Connect dependency is not installed")


class Provider:
    """Authlib's client as the handlers use it: a redirect out, then the verified claims back."""

    def __init__(self) -> None:
        self.claims: dict = {}

    async def authorize_redirect(self, request, redirect_uri):
        request.session["state"] = "s-1"
        return RedirectResponse(f"https://idp.example.test/authorize?state=s-1&redirect_uri={redirect_uri}", 302)

    async def authorize_access_token(self, request):
        if request.query_params.get("state") != request.session.pop("state", None):
            raise oauth_errors()[0](description="mismatching state")
        return {"userinfo": self.claims}


@pytest.fixture
def app(tmp_path):
    store = Store.open(tmp_path / "state.db")
    settings = make_settings()
    run_dir = save_run(build_world(), tmp_path / "run", settings)
    owned = msgspec.structs.replace(spec(), owner="owner@example.com")
    create_campaign(store, settings, owned, now=NOW, run_dir=run_dir)
    identity = OidcConfig("https://idp.example.test", "auditor", "secret")
    served = create_app(
        ServeConfig(store=store, settings=settings, base_url="http://testserver", evidence_dir=tmp_path, oidc=identity)
    )
    served.state.signin.idp = Provider()
    return served


def sign_in(client: TestClient, app, claims: dict, campaign: str = "1"):
    app.state.signin.idp.claims = claims
    out = client.get(f"/signin/oidc?campaign={campaign}", follow_redirects=False)
    assert out.status_code == 302
    state = parse_qs(urlparse(out.headers["location"]).query)["state"][0]
    return client.get(f"/signin/oidc/callback?state={state}&code=c", follow_redirects=False)


@pytest.mark.parametrize(
    ("claims", "where"),
    [
        ({"email": "Boss@Example.com", "email_verified": True}, "/review"),
        ({"email": "owner@example.com", "email_verified": True}, "/owner"),
    ],
)
def test_a_verified_email_with_a_role_is_signed_in(app, claims, where):
    with TestClient(app) as client:
        assert "Sign in with your organisation account" in client.get("/").text
        done = sign_in(client, app, claims)
        assert done.status_code == 303 and done.headers["location"] == where
        assert client.get(where).status_code == 200


@pytest.mark.parametrize(
    "claims",
    [
        {"email": "boss@example.com", "email_verified": False},
        {"email": "stranger@example.com", "email_verified": True},
        {},
    ],
)
def test_an_unverified_or_unknown_person_is_refused(app, claims):
    with TestClient(app) as client:
        assert sign_in(client, app, claims).status_code == 403
        assert client.get("/review").status_code == 401


def test_a_callback_without_the_flow_state_is_refused(app):
    with TestClient(app) as client:
        app.state.signin.idp.claims = {"email": "boss@example.com", "email_verified": True}
        assert client.get("/signin/oidc/callback?state=forged&code=c").status_code == 403
