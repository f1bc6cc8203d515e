"""What every page handler of `auditor serve` shares: its settings, the session and CSRF checks, the responses.

Every response carries the security headers (the page's Content-Security-Policy
among them); a POST is accepted only with a live session of the right role and
the form's CSRF token, and answers with a page or a 303 to one (a reload never
repeats a decision).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from auditor.config import Settings
from auditor.serve import auth
from auditor.serve.oidc import OidcConfig
from auditor.serve.pages import content_security_policy, render
from auditor.store import Store

SESSION_COOKIE = "auditor_session"
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
    events_token: str | None = None  # POST /events takes HR events from whoever holds it; None: refused
    events_dir: Path | None = None  # where each event's check writes its findings and plan


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
    """The shared part of each group of handlers (sign-in, reviewer, owner)."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.store = config.store

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


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""
