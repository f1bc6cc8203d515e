"""The reviewer's page: their items grouped by person, each decision saved at once with them as actor."""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from auditor.campaign.decide import Choice, decide
from auditor.campaign.model import CampaignError
from auditor.serve import auth
from auditor.serve.pages import render
from auditor.serve.views import reviewer_view
from auditor.serve.web import Handlers, page, redirect

ITEM_ID = re.compile(r"C\d+-\d+")


class Review(Handlers):
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
        if form.get("decision") not in ("keep", "rightsize", "revoke"):
            return await run_in_threadpool(
                lambda: self._review(session, 400, error="Choose keep, keep but right-size, or revoke.")
            )
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
