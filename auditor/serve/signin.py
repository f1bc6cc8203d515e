"""Signing in and out: single-use links exchanged for a session, and optionally the identity provider."""

from __future__ import annotations

import secrets

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from auditor.campaign.model import CampaignError
from auditor.serve import auth, oidc
from auditor.serve.web import SESSION_COOKIE, SIGNIN_COOKIE, Handlers, ServeConfig, client_of, message, redirect
from auditor.store import Store


class SignIn(Handlers):
    def __init__(self, config: ServeConfig) -> None:
        super().__init__(config)
        self.idp = oidc.client(config.oidc) if config.oidc is not None else None

    async def home(self, request: Request) -> Response:
        session = await run_in_threadpool(self._session, request)
        if session is not None:
            return redirect("/owner" if session.role == "owner" else "/review")
        return message("Access review", "Open the sign-in link you were sent to review access.", oidc=bool(self.idp))

    async def oidc_start(self, request: Request) -> Response:
        number = request.query_params.get("campaign", "")
        if not number.isdigit():
            return message("Which campaign?", "Give the campaign number from your invitation.", status=400)
        request.session["campaign"] = int(number)
        return await self.idp.authorize_redirect(request, f"{self.config.base_url.rstrip('/')}/signin/oidc/callback")

    async def oidc_callback(self, request: Request) -> Response:
        campaign_id = request.session.pop("campaign", None)
        try:
            token = await self.idp.authorize_access_token(request)
        except oidc.oauth_errors() as exc:
            auth.log.warning("identity provider sign-in refused (%s) from %s", exc, client_of(request))
            return message("Sign-in failed", "The identity provider did not sign you in; try again.", status=403)
        email = oidc.verified_email(token)
        role = None
        if email and isinstance(campaign_id, int):
            role = await run_in_threadpool(lambda: _role(self.store, campaign_id, email))
        if role is None:
            auth.log.warning("identity provider sign-in of %s has no role in campaign %s", email, campaign_id)
            return message(
                "Nothing to review here",
                "Your organisation account has no items and is not the owner in this campaign "
                "(or its email address is not verified).",
                status=403,
            )
        session = await run_in_threadpool(
            lambda: auth.open_session(
                self.store,
                campaign_id,
                email,
                role,
                now=self.config.clock(),
                session_for=self.config.session_for,
                via="oidc",
                client=client_of(request),
            )
        )
        return self._signed_in(request, session)

    async def signin_page(self, request: Request) -> Response:
        """Show a button, not sign in: link scanners that fetch URLs must not spend a single-use link."""
        token = request.path_params["token"]
        problem = await run_in_threadpool(auth.link_problem, self.store, token, self.config.clock())
        if problem:
            auth.log.warning("sign-in link refused on open (%s) from %s", problem, client_of(request))
            return message("This link cannot be used", auth.REFUSED, status=403)
        form_token = secrets.token_urlsafe(24)
        response = message(
            "Sign in to your access review",
            "This link signs you in once. Continue to open your review.",
            signin_token=token,
            signin_csrf=form_token,
        )
        response.set_cookie(
            SIGNIN_COOKIE, form_token, max_age=900, httponly=True, samesite="strict", secure=self._secure(request)
        )
        return response

    async def signin(self, request: Request) -> Response:
        form = await request.form()
        expected = request.cookies.get(SIGNIN_COOKIE, "")
        if not expected or not secrets.compare_digest(expected, str(form.get("csrf", ""))):
            return message("Form expired", "Open your sign-in link again.", status=403)
        try:
            session = await run_in_threadpool(
                lambda: auth.exchange(
                    self.store,
                    str(form.get("token", "")),
                    now=self.config.clock(),
                    session_for=self.config.session_for,
                    client=client_of(request),
                )
            )
        except auth.SignInRefused as exc:
            return message("This link cannot be used", str(exc), status=403)
        response = self._signed_in(request, session)
        response.delete_cookie(SIGNIN_COOKIE)
        return response

    async def signout(self, request: Request) -> Response:
        session, _, refused = await self._posted(request, "")
        if refused:
            return refused
        await run_in_threadpool(auth.end_session, self.store, session, now=self.config.clock())
        response = message("Signed out", "You are signed out. Your decisions are saved.")
        response.delete_cookie(SESSION_COOKIE)
        return response


def _role(store: Store, campaign_id: int, email: str) -> str | None:
    try:
        return auth.role_in(store, campaign_id, email)
    except CampaignError:  # no such campaign
        return None
