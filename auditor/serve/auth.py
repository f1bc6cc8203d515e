"""Sign-in for `auditor serve`: single-use links exchanged for expiring sessions, and CSRF tokens.

A link's token and a session's token exist only in the link and in the
cookie; the store keeps their SHA-256. A link is bound to one person, one
role (reviewer or owner) and one campaign, expires, and is marked used
inside the transaction that exchanges it, so a second use (a forwarded or
replayed link) is refused, audit-logged and gives nothing. CSRF tokens are
an HMAC of the session token: nothing more to store, and worthless without
the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from auditor.campaign.model import CampaignError, looks_like_email
from auditor.campaign.schema import campaign_items, campaign_links, campaign_sessions, iso
from auditor.campaign.state import get_campaign
from auditor.store import Store

ROLES = ("reviewer", "owner")
REFUSED = (
    "This sign-in link cannot be used: it was already used, has expired, or is not one this server issued. "
    "Ask the campaign owner for a new link."
)
log = logging.getLogger("auditor.serve")


class SignInRefused(Exception):
    """A link that is unknown, expired or already used; the message is safe to show."""


@dataclass(frozen=True)
class Session:
    id: int
    campaign_id: int
    email: str
    role: str  # reviewer | owner
    expires_at: datetime
    token: str  # as the cookie holds it

    @property
    def csrf(self) -> str:
        return csrf_token(self.token)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token(session_token: str) -> str:
    return hmac.new(session_token.encode("utf-8"), b"auditor serve csrf", hashlib.sha256).hexdigest()


def csrf_ok(session: Session, given: str) -> bool:
    return bool(given) and hmac.compare_digest(session.csrf, given)


def issue_link(
    store: Store,
    campaign_id: int,
    email: str,
    *,
    role: str,
    now: datetime,
    valid_for: timedelta,
    actor: str = "auditor",
) -> str:
    """A new sign-in token for ``email`` on campaign ``campaign_id``; only its SHA-256 is kept."""
    email = email.strip().lower()
    if role not in ROLES:
        raise CampaignError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if not looks_like_email(email):
        raise CampaignError(f"a sign-in link needs an email address, got {email!r}")
    campaign = get_campaign(store, campaign_id)
    if campaign.status != "open" and role == "reviewer":
        raise CampaignError(f"campaign {campaign_id} is closed; reviewers have nothing left to decide")
    token = secrets.token_urlsafe(32)
    expires = now + valid_for
    with store.engine.begin() as conn:
        link_id = conn.execute(
            campaign_links.insert().values(
                campaign_id=campaign_id,
                email=email,
                role=role,
                token_sha256=digest(token),
                created_at=now,
                created_by=actor,
                expires_at=expires,
            )
        ).inserted_primary_key[0]
        store.audit_in(
            conn,
            "serve.link_issued",
            f"campaign {campaign_id}",
            {"link_id": link_id, "email": email, "role": role, "expires_at": iso(expires)},
            actor=actor,
        )
    return token


def exchange(store: Store, token: str, *, now: datetime, session_for: timedelta, client: str = "") -> Session:
    """Spend a link: mark it used and open a session, in one transaction; refuse (and log) anything else."""
    hashed = digest(token)
    with store.engine.begin() as conn:
        link = conn.execute(
            sa.select(campaign_links).where(campaign_links.c.token_sha256 == hashed).with_for_update()
        ).first()
        reason = _refusal(link, now)
        if reason is None:
            conn.execute(campaign_links.update().where(campaign_links.c.id == link.id).values(used_at=now))
            return _open(
                store,
                conn,
                link.campaign_id,
                link.email,
                link.role,
                now,
                session_for,
                via=f"link {link.id}",
                client=client,
            )
    log.warning("sign-in refused (%s) for link %s from %s", reason, hashed[:12], client or "unknown client")
    if link is not None:  # a real link, spent or expired: whoever holds it is on record
        store.audit(
            "serve.sign_in_refused",
            f"campaign {link.campaign_id}",
            {"link_id": link.id, "email": link.email, "reason": reason, "client": client},
            actor="anonymous",
        )
    raise SignInRefused(REFUSED)


def link_problem(store: Store, token: str, now: datetime) -> str | None:
    """Why a link cannot be used now (None: it can), without spending it."""
    with store.engine.connect() as conn:
        link = conn.execute(sa.select(campaign_links).where(campaign_links.c.token_sha256 == digest(token))).first()
    return _refusal(link, now)


def open_session(
    store: Store,
    campaign_id: int,
    email: str,
    role: str,
    *,
    now: datetime,
    session_for: timedelta,
    via: str,
    client: str,
) -> Session:
    """A session for someone an identity provider vouched for (the link path opens its own)."""
    with store.engine.begin() as conn:
        return _open(store, conn, campaign_id, email, role, now, session_for, via=via, client=client)


def _open(store, conn, campaign_id, email, role, now, session_for, *, via: str, client: str) -> Session:
    token = secrets.token_urlsafe(32)
    expires = now + session_for
    session_id = conn.execute(
        campaign_sessions.insert().values(
            campaign_id=campaign_id,
            email=email,
            role=role,
            token_sha256=digest(token),
            created_at=now,
            expires_at=expires,
            via=via,
        )
    ).inserted_primary_key[0]
    store.audit_in(
        conn,
        "serve.signed_in",
        f"campaign {campaign_id}",
        {"via": via, "session_id": session_id, "role": role, "client": client},
        actor=email,
    )
    return Session(session_id, campaign_id, email, role, expires, token)


def role_in(store: Store, campaign_id: int, email: str) -> str | None:
    """What ``email`` may do in the campaign: "owner", "reviewer" (has items), or None."""
    campaign = get_campaign(store, campaign_id)
    if campaign.owner and email == campaign.owner:
        return "owner"
    with store.engine.connect() as conn:
        mine = conn.execute(
            sa.select(campaign_items.c.item_id)
            .where(campaign_items.c.campaign_id == campaign_id, campaign_items.c.reviewer == email)
            .limit(1)
        ).first()
    return "reviewer" if mine and campaign.status == "open" else None


def _refusal(link, now: datetime) -> str | None:
    if link is None:
        return "unknown link"
    if link.used_at is not None:
        return f"already used at {iso(link.used_at)}"
    if now >= link.expires_at:
        return f"expired at {iso(link.expires_at)}"
    return None


def session_from(store: Store, token: str | None, *, now: datetime) -> Session | None:
    """The live session a cookie names, or None (unknown, expired or signed out)."""
    if not token:
        return None
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(campaign_sessions).where(campaign_sessions.c.token_sha256 == digest(token))
        ).first()
    if row is None or now >= row.expires_at:
        return None
    return Session(row.id, row.campaign_id, row.email, row.role, row.expires_at, token)


def end_session(store: Store, session: Session, *, now: datetime) -> None:
    """Sign out: the session expires now (the row stays, as every sign-in does)."""
    with store.engine.begin() as conn:
        conn.execute(campaign_sessions.update().where(campaign_sessions.c.id == session.id).values(expires_at=now))
