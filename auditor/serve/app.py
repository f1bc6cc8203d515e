"""The `auditor serve` application: reviewer and campaign-owner pages over the campaign library.

Every route is registered in ``routes`` below, in one place. Handlers parse
the request, check the session and the form's CSRF token, call one library
function (in a worker thread: the store is synchronous), and render a page
or redirect (POST, then 303 to a page: a reload never repeats a decision).
"""

from __future__ import annotations

import io
import re
import secrets
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from auditor.campaign.close import close_campaign
from auditor.campaign.decide import Choice, assign, decide
from auditor.campaign.deliver import delivery_from_settings
from auditor.campaign.model import CampaignError
from auditor.campaign.state import get_campaign
from auditor.config import Settings
from auditor.report.common import format_time
from auditor.serve import auth, oidc
from auditor.serve.invite import invite
from auditor.serve.oidc import OidcConfig
from auditor.serve.pages import content_security_policy, render
from auditor.serve.views import owner_view, reviewer_view
from auditor.store import Store

SESSION_COOKIE = "auditor_session"
ITEM_ID = re.compile(r"C\d+-\d+")
OWNER_NOTICES = {"assigned": "Assigned.", "closed": "Closed."}
SIGNIN_COOKIE = "auditor_signin"  # the sign-in form's CSRF token, before there is a session


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class ServeConfig:
    store: Store
    settings: Settings
    base_url: str  # how reviewers reach this server: the sign-in links it sends
    evidence_dir: Path  # a closed campaign's pack goes to evidence_dir/campaign-ID
    session_for: timedelta = timedelta(hours=8)
    link_valid_for: timedelta = timedelta(days=14)
    secure_cookies: bool = False  # also set when a request arrives over TLS (or a proxy says so)
    clock: Callable[[], datetime] = _utc_now
    oidc: OidcConfig | None = None  # sign-in through the identity provider too


def create_app(config: ServeConfig) -> Starlette:
    handlers = Handlers(config)
    middleware = []
    if config.oidc is not None:  # the provider's round trip keeps its state and nonce in a signed cookie
        middleware.append(
            Middleware(
                SessionMiddleware,
                secret_key=secrets.token_urlsafe(32),
                session_cookie="auditor_oidc",
                max_age=900,
                same_site="lax",
                https_only=config.secure_cookies,
            )
        )
    app = Starlette(routes=routes(handlers), middleware=middleware)
    app.state.config = config
    app.state.handlers = handlers
    return app


def routes(h: Handlers) -> list[Route]:
    """Every route of the server, in one place."""
    oidc = [
        Route("/signin/oidc", h.oidc_start, methods=["GET"]),
        Route("/signin/oidc/callback", h.oidc_callback, methods=["GET"]),
    ]
    return [
        *(oidc if h.config.oidc is not None else []),
        Route("/", h.home, methods=["GET"]),
        Route("/signin/{token}", h.signin_page, methods=["GET"]),
        Route("/signin", h.signin, methods=["POST"]),
        Route("/signout", h.signout, methods=["POST"]),
        Route("/review", h.review_page, methods=["GET"]),
        Route("/review/decide", h.review_decide, methods=["POST"]),
        Route("/review/bulk", h.review_bulk, methods=["POST"]),
        Route("/owner", h.owner_page, methods=["GET"]),
        Route("/owner/assign", h.owner_assign, methods=["POST"]),
        Route("/owner/invite", h.owner_invite, methods=["POST"]),
        Route("/owner/close", h.owner_close, methods=["POST"]),
        Route("/owner/evidence.zip", h.owner_evidence, methods=["GET"]),
    ]


def page(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


SECURITY_HEADERS = {
    "Content-Security-Policy": content_security_policy(),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # a sign-in link's token never leaves in a Referer
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


def message(heading: str, *lines: str, status: int = 200, session=None, **extra) -> HTMLResponse:
    return page(render("serve_message.html.j2", heading=heading, lines=lines, session=session, **extra), status)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


class Handlers:
    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.store = config.store
        self.idp = oidc.client(config.oidc) if config.oidc is not None else None

    # --- sessions ----------------------------------------------------------------------

    def _secure(self, request: Request) -> bool:
        return self.config.secure_cookies or request.url.scheme == "https"

    def _session(self, request: Request) -> auth.Session | None:
        return auth.session_from(self.store, request.cookies.get(SESSION_COOKIE), now=self.config.clock())

    async def _posted(self, request: Request, role: str) -> tuple[auth.Session | None, dict, Response | None]:
        """The session and form of a POST, or the response refusing it (no session, wrong role, bad CSRF)."""
        session = await run_in_threadpool(self._session, request)
        form = await request.form()
        if session is None:
            return None, {}, self._signed_out()
        if role and session.role != role:
            return None, {}, message("Not for this sign-in", f"This page is for the campaign {role}.", status=403)
        if not auth.csrf_ok(session, str(form.get("csrf", ""))):
            return None, {}, message("Form expired", "Reload the page and try again.", status=403, session=session)
        return session, {"items": form.getlist("item"), **{k: str(v) for k, v in form.items()}}, None

    def _signed_out(self) -> HTMLResponse:
        return message(
            "Please sign in",
            "Your session has ended or you are not signed in.",
            "Open the sign-in link you were sent; ask the campaign owner for a new one if it was used or expired.",
            status=401,
        )

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
            auth.log.warning("identity provider sign-in refused (%s) from %s", exc, _client(request))
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
                client=_client(request),
            )
        )
        return self._signed_in(request, session)

    async def signin_page(self, request: Request) -> Response:
        """Show a button, not sign in: link scanners that fetch URLs must not spend a single-use link."""
        token = request.path_params["token"]
        problem = await run_in_threadpool(auth.link_problem, self.store, token, self.config.clock())
        if problem:
            auth.log.warning("sign-in link refused on open (%s) from %s", problem, _client(request))
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
                    client=_client(request),
                )
            )
        except auth.SignInRefused as exc:
            return message("This link cannot be used", str(exc), status=403)
        response = self._signed_in(request, session)
        response.delete_cookie(SIGNIN_COOKIE)
        return response

    def _signed_in(self, request: Request, session: auth.Session) -> Response:
        response = redirect("/owner" if session.role == "owner" else "/review")
        response.set_cookie(
            SESSION_COOKIE,
            session.token,
            max_age=int(self.config.session_for.total_seconds()),
            httponly=True,
            samesite="strict",
            secure=self._secure(request),
        )
        return response

    async def signout(self, request: Request) -> Response:
        session, _, refused = await self._posted(request, "")
        if refused:
            return refused
        await run_in_threadpool(auth.end_session, self.store, session, now=self.config.clock())
        response = message("Signed out", "You are signed out. Your decisions are saved.")
        response.delete_cookie(SESSION_COOKIE)
        return response

    # --- the reviewer ------------------------------------------------------------------

    def _review(self, session: auth.Session, status: int = 200, **extra) -> HTMLResponse:
        view = reviewer_view(self.store, session.campaign_id, session.email, now=self.config.clock())
        return page(render("serve_review.html.j2", view=view, session=session, **extra), status)

    async def review_page(self, request: Request) -> Response:
        session = await run_in_threadpool(self._session, request)
        if session is None:
            return self._signed_out()
        if session.role != "reviewer":
            return redirect("/owner")
        saved = [i for i in request.query_params.get("saved", "").split(",") if ITEM_ID.fullmatch(i)]
        notice = f"Saved: {', '.join(saved)}." if saved else None  # only item ids: no text is reflected
        return await run_in_threadpool(lambda: self._review(session, notice=notice))

    async def review_decide(self, request: Request) -> Response:
        session, form, refused = await self._posted(request, "reviewer")
        if refused:
            return refused
        choice = Choice(
            form.get("item", ""), form.get("decision", ""), form.get("justification", ""), form.get("reassign_to")
        )
        return await run_in_threadpool(self._decide, session, [choice])

    async def review_bulk(self, request: Request) -> Response:
        session, form, refused = await self._posted(request, "reviewer")
        if refused:
            return refused
        if form.get("confirm") != "yes":
            return await run_in_threadpool(
                lambda: self._review(session, 400, error="Confirm the bulk decision (the checkbox) to apply it.")
            )
        if not form["items"]:
            return await run_in_threadpool(
                lambda: self._review(session, 400, error="Select the items to decide first.")
            )
        if form.get("decision") not in ("keep", "revoke"):
            return await run_in_threadpool(lambda: self._review(session, 400, error="Choose keep or revoke."))
        choices = [Choice(i, form["decision"], form.get("justification", "")) for i in form["items"]]
        return await run_in_threadpool(self._decide, session, choices)

    def _decide(self, session: auth.Session, choices: list[Choice]) -> Response:
        try:
            done = decide(
                self.store,
                session.campaign_id,
                choices,
                reviewer=session.email,
                now=self.config.clock(),
                source=f"web session {session.id}",
            )
        except CampaignError as exc:
            return self._review(session, 400, error=f"Not saved: {exc}")
        anchor = f"#item-{done[0]}" if len(done) == 1 else ""
        return redirect(f"/review?saved={','.join(done)}{anchor}")

    # --- the campaign owner ------------------------------------------------------------

    def _owner(self, session: auth.Session, status: int = 200, **extra) -> HTMLResponse:
        view = owner_view(self.store, session.campaign_id, now=self.config.clock())
        closed = format_time(view.campaign.closed_at) if view.campaign.closed_at else ""
        channel = self.config.settings.get("campaigns", "delivery")
        return page(
            render("serve_owner.html.j2", view=view, session=session, closed=closed, channel=channel, **extra), status
        )

    async def owner_page(self, request: Request) -> Response:
        session = await run_in_threadpool(self._session, request)
        if session is None:
            return self._signed_out()
        if session.role != "owner":
            return redirect("/review")
        notice = OWNER_NOTICES.get(request.query_params.get("done", ""))  # fixed texts: nothing is reflected
        return await run_in_threadpool(lambda: self._owner(session, notice=notice))

    async def owner_assign(self, request: Request) -> Response:
        session, form, refused = await self._posted(request, "owner")
        if refused:
            return refused

        def run() -> Response:
            try:
                assign(
                    self.store,
                    session.campaign_id,
                    form["items"],
                    form.get("to", ""),
                    owner=session.email,
                    now=self.config.clock(),
                    source=f"web session {session.id}",
                )
            except CampaignError as exc:
                return self._owner(session, 400, error=f"Not assigned: {exc}")
            return redirect("/owner?done=assigned")

        return await run_in_threadpool(run)

    async def owner_invite(self, request: Request) -> Response:
        session, _, refused = await self._posted(request, "owner")
        if refused:
            return refused

        def run() -> Response:
            now = self.config.clock()
            sent = invite(
                self.store,
                session.campaign_id,
                base_url=self.config.base_url,
                now=now,
                valid_for=self.config.link_valid_for,
                delivery=delivery_from_settings(self.config.settings, now=now),
                actor=session.email,
            )
            failed = [i.email for i in sent if i.error]
            text = f"Sent {len(sent) - len(failed)} sign-in link(s)." + (
                f" Not sent: {', '.join(failed)}." if failed else ""
            )
            return redirect(f"/owner?done={text}")

        return await run_in_threadpool(run)

    async def owner_close(self, request: Request) -> Response:
        session, form, refused = await self._posted(request, "owner")
        if refused:
            return refused
        if form.get("confirm") != "yes":
            return await run_in_threadpool(lambda: self._owner(session, 400, error="Confirm closing (the checkbox)."))

        def run() -> Response:
            try:
                close_campaign(
                    self.store,
                    session.campaign_id,
                    now=self.config.clock(),
                    out_dir=self._evidence(session.campaign_id),
                    undecided=form.get("undecided") or None,
                    actor=session.email,
                )
            except CampaignError as exc:
                return self._owner(session, 400, error=f"Not closed: {exc}")
            return redirect("/owner?done=closed")

        return await run_in_threadpool(run)

    def _evidence(self, campaign_id: int) -> Path:
        return self.config.evidence_dir / f"campaign-{campaign_id}"

    async def owner_evidence(self, request: Request) -> Response:
        session = await run_in_threadpool(self._session, request)
        if session is None:
            return self._signed_out()
        if session.role != "owner":
            return message("Not for this sign-in", "This page is for the campaign owner.", status=403)
        campaign = await run_in_threadpool(get_campaign, self.store, session.campaign_id)
        directory = self._evidence(campaign.id)
        if campaign.status != "closed" or not (directory / "manifest.json").is_file():
            return message("No evidence pack yet", "The pack is written when the campaign closes.", status=404)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(p for p in directory.iterdir() if p.is_file()):
                archive.write(path, f"campaign-{campaign.id}-evidence/{path.name}")
        return Response(
            buffer.getvalue(),
            media_type="application/zip",
            headers={
                **SECURITY_HEADERS,
                "Content-Disposition": f'attachment; filename="campaign-{campaign.id}-evidence.zip"',
            },
        )


def _role(store: Store, campaign_id: int, email: str) -> str | None:
    try:
        return auth.role_in(store, campaign_id, email)
    except CampaignError:  # no such campaign
        return None


def _client(request: Request) -> str:
    return request.client.host if request.client else ""
