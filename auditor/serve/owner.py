"""The campaign owner's page: progress, signals, unrouted items to assign, links to send, close, evidence."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from auditor.campaign.close import close_campaign
from auditor.campaign.decide import assign
from auditor.campaign.deliver import delivery_from_settings
from auditor.campaign.model import CampaignError
from auditor.campaign.state import get_campaign
from auditor.report.common import format_time
from auditor.serve import auth
from auditor.serve.invite import invite
from auditor.serve.pages import render
from auditor.serve.views import owner_view
from auditor.serve.web import SECURITY_HEADERS, Handlers, message, page, redirect

OWNER_NOTICES = {"assigned": "Assigned.", "closed": "Closed."}


class Owner(Handlers):
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
