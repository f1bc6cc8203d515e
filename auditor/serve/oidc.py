"""Optional sign-in through the organisation's identity provider: OpenID Connect by Authlib, not by hand.

Authlib reads the provider's discovery document, runs the authorization
code flow with PKCE and checks the ID token (signature, issuer, audience,
nonce, expiry); this module only decides what a verified email may do in a
campaign (owner, reviewer with items, or nothing) and opens the same kind of
session a sign-in link does. It needs the optional dependencies
(``pip install 'auditor[oidc]'``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class OidcUnavailable(Exception):
    """--oidc-issuer without the optional dependencies installed."""


@dataclass(frozen=True)
class OidcConfig:
    issuer: str  # https://idp.example.com: its /.well-known/openid-configuration is read
    client_id: str
    client_secret: str


def client(config: OidcConfig) -> Any:
    """Authlib's Starlette client for the provider (imported here: the dependency is optional)."""
    try:
        from authlib.integrations.starlette_client import OAuth
    except ImportError as exc:
        raise OidcUnavailable("OpenID Connect sign-in needs: pip install 'auditor[oidc]'") from exc
    oauth = OAuth()
    oauth.register(
        "idp",
        server_metadata_url=config.issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_id=config.client_id,
        client_secret=config.client_secret,
        client_kwargs={"scope": "openid email", "code_challenge_method": "S256"},
    )
    return oauth.idp


def oauth_errors() -> tuple[type[Exception], ...]:
    """What a failed exchange raises (Authlib's OAuthError), for the callback to refuse it."""
    from authlib.integrations.base_client import OAuthError

    return (OAuthError,)


def verified_email(token: dict) -> str | None:
    """The email the provider vouches for (``email_verified`` true in the ID token's claims), else None."""
    claims = token.get("userinfo") or {}
    email = str(claims.get("email") or "").strip().lower()
    return email if email and claims.get("email_verified") is True else None
