"""The `auditor serve` application: reviewer and campaign-owner pages over the campaign library.

Every route is registered in ``routes`` below, in one place. Handlers (sign-in,
reviewer, owner: one module each) parse the request, check the session and the
form's CSRF token, call one library function (in a worker thread: the store is
synchronous), and render a page or redirect.
"""

from __future__ import annotations

import secrets

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Route

from auditor.serve.events import Events
from auditor.serve.owner import Owner
from auditor.serve.review import Review
from auditor.serve.signin import SignIn
from auditor.serve.web import ServeConfig


def create_app(config: ServeConfig) -> Starlette:
    signin = SignIn(config)
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
    app = Starlette(routes=routes(signin, Review(config), Owner(config), Events(config)), middleware=middleware)
    app.state.config = config
    app.state.signin = signin
    return app


def routes(signin: SignIn, review: Review, owner: Owner, events: Events) -> list[Route]:
    """Every route of the server, in one place."""
    oidc = [
        Route("/signin/oidc", signin.oidc_start, methods=["GET"]),
        Route("/signin/oidc/callback", signin.oidc_callback, methods=["GET"]),
    ]
    return [
        *(oidc if signin.idp is not None else []),
        Route("/", signin.home, methods=["GET"]),
        Route("/signin/{token}", signin.signin_page, methods=["GET"]),
        Route("/signin", signin.signin, methods=["POST"]),
        Route("/signout", signin.signout, methods=["POST"]),
        Route("/review", review.review_page, methods=["GET"]),
        Route("/review/decide", review.review_decide, methods=["POST"]),
        Route("/review/bulk", review.review_bulk, methods=["POST"]),
        Route("/owner", owner.owner_page, methods=["GET"]),
        Route("/owner/assign", owner.owner_assign, methods=["POST"]),
        Route("/owner/invite", owner.owner_invite, methods=["POST"]),
        Route("/owner/close", owner.owner_close, methods=["POST"]),
        Route("/owner/evidence.zip", owner.owner_evidence, methods=["GET"]),
        Route("/events", events.receive, methods=["POST"]),
    ]
