"""`auditor serve`: the reviewer and campaign-owner pages, served until interrupted (parse, build, serve)."""

from __future__ import annotations

import argparse
import os
import socket
import sys
from datetime import timedelta
from pathlib import Path

import uvicorn

from auditor.cli import common
from auditor.exit_codes import EXIT_OK
from auditor.serve import ServeConfig, create_app
from auditor.serve.oidc import OidcConfig, OidcUnavailable

EXAMPLES = {"serve": "auditor serve --port 8000 --base-url https://review.example.com"}
MORE = """\
  auditor campaign invite 1 --owner --print      # the owner's sign-in link
  auditor campaign invite 1 --base-url https://review.example.com   # each reviewer's link, sent ([campaigns] delivery)
  AUDITOR_EVENTS_TOKEN=... auditor serve --state s.db   # also POST /events: HR lifecycle events (docs/EVENTS.md)
"""


# POST /events takes HR lifecycle events from the HR system when this holds a token (sent as a bearer token)
EVENTS_TOKEN_ENV = "AUDITOR_EVENTS_TOKEN"


def register(commands: common.Commands) -> None:
    parser = common.add_command(
        commands, "serve", "Serve the reviewer and campaign-owner pages (sign in with a link).", EXAMPLES["serve"], MORE
    )
    common.add_config(parser)
    common.add_state(parser)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--base-url", help="the address reviewers use, for the links the owner's page sends (default http://HOST:PORT)"
    )
    parser.add_argument(
        "--evidence-dir",
        type=Path,
        default=Path("campaign-evidence"),
        help="closing writes each campaign's pack into DIR/campaign-ID (default ./campaign-evidence)",
    )
    parser.add_argument("--session-hours", type=float, default=8.0, help="a signed-in session lasts this long")
    parser.add_argument("--link-days", type=float, default=14.0, help="sign-in links sent from the owner's page last")
    parser.add_argument(
        "--secure-cookies",
        action="store_true",
        help="mark cookies Secure even on plain HTTP (behind a TLS-terminating proxy that does not say so)",
    )
    parser.add_argument(
        "--oidc-issuer",
        help="also sign in through this OpenID Connect provider (client secret in $AUDITOR_OIDC_CLIENT_SECRET)",
    )
    parser.add_argument("--oidc-client-id", help="this server's client id at the provider")
    parser.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        help="proxies whose X-Forwarded-Proto/For are trusted (default 127.0.0.1)",
    )


def _listen(host: str, port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise common.UsageError(f"cannot serve on {host}:{port}: {exc.strerror} (choose another --port)") from exc
    listener.listen(128)
    return listener


def cmd_serve(args: argparse.Namespace) -> int:
    settings, store = common.settings_and_store(args)
    if args.session_hours <= 0 or args.link_days <= 0:
        raise common.UsageError("--session-hours and --link-days must be greater than 0")
    base_url = args.base_url or f"http://{args.host}:{args.port}"
    identity = None
    if args.oidc_issuer:
        secret = os.environ.get("AUDITOR_OIDC_CLIENT_SECRET", "")
        if not (args.oidc_client_id and secret):
            raise common.UsageError("--oidc-issuer needs --oidc-client-id and $AUDITOR_OIDC_CLIENT_SECRET")
        identity = OidcConfig(args.oidc_issuer, args.oidc_client_id, secret)
    try:
        app = create_app(
            ServeConfig(
                store=store,
                settings=settings,
                base_url=base_url,
                evidence_dir=args.evidence_dir,
                session_for=timedelta(hours=args.session_hours),
                link_valid_for=timedelta(days=args.link_days),
                secure_cookies=args.secure_cookies,
                oidc=identity,
                events_token=os.environ.get(EVENTS_TOKEN_ENV) or None,
                events_dir=settings.output_dir(None) / "events",
            )
        )
    except OidcUnavailable as exc:
        raise common.UsageError(str(exc)) from exc
    listener = _listen(args.host, args.port)  # bound before saying so: a client that connects next is queued
    print(f"Serving access reviews at {base_url} (state store {store.display_url})", flush=True)
    print("Ctrl-C to stop.", flush=True)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            proxy_headers=True,
            forwarded_allow_ips=args.forwarded_allow_ips,
            log_level="warning",
            server_header=False,
        )
    )
    server.run(sockets=[listener])
    print("stopped", file=sys.stderr)
    return EXIT_OK
