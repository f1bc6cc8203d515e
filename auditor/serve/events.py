"""``POST /events``: HR lifecycle events sent by the HR system, into the same intake as the CLI and EventBridge.

An event can start an offboarding, so the endpoint is off unless a token is
configured (``auditor serve`` reads it from ``$AUDITOR_EVENTS_TOKEN``) and
every request proves itself with ``Authorization: Bearer <token>``,
compared in constant time. A refused request is logged without the token it
carried. The body is JSON (an HR event, or an EventBridge envelope), at most
``MAX_BYTES``; what the intake rejects is kept as a dead letter and answered
400 with the reason, a leaver waiting for approval 202.
"""

from __future__ import annotations

import hmac
import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from auditor.events.intake import accept
from auditor.events.workflow import Services
from auditor.serve.web import SECURITY_HEADERS, ServeConfig

log = logging.getLogger(__name__)
MAX_BYTES = 256 * 1024  # an HR event is a few hundred bytes; EventBridge caps an event at 256 KB
SENDER = "http:hr-events"  # the audit log's actor: whoever holds the events token


def _json(body: dict, status: int, **headers: str) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={**SECURITY_HEADERS, **headers})


class Events:
    """The HR system's door: authenticated, bounded, and journaled like every other way in."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config

    async def receive(self, request: Request) -> JSONResponse:
        token = self.config.events_token
        if not token:
            return _json({"error": "HR events are not accepted here: the server has no events token"}, 404)
        supplied = request.headers.get("authorization", "")
        if not hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode()):
            client = request.client.host if request.client else "unknown"
            log.warning("refused an HR event from %s: missing or wrong bearer token", client)
            return _json({"error": "unauthorised"}, 401, **{"WWW-Authenticate": "Bearer"})
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > MAX_BYTES:
                return _json({"error": f"an event is at most {MAX_BYTES} bytes"}, 413)
        services = Services(actor=SENDER, hr_feed=self.config.settings.hr_feed(), out_dir=self.config.events_dir)
        outcome = await run_in_threadpool(
            accept,
            bytes(body),
            store=self.config.store,
            settings=self.config.settings,
            origin="http",
            now=self.config.clock(),
            services=services,
        )
        return _json(outcome.to_json(), outcome.http_status)
