"""Lambda handlers of the event path (deploy/offboarding.yaml): thin wrappers over ``auditor.events``.

- ``event_handler``: an EventBridge event (an HR event other than a leaver, or
  a CloudTrail call that granted access) is accepted as `auditor event` accepts it.
- ``step_handler``: one step of the offboarding state machine, named by the
  state's ``step`` (``check``, ``retain``, ``request_approval``, ``apply``,
  ``deny``, ``notify``); ``run_step`` is the same without the environment.

The steps of one execution run in separate invocations, so they share the
state database named by the secret ``AUDITOR_STATE_SECRET_ARN`` (required
here: a SQLite file copied to and from S3 cannot be shared by concurrent
invocations). Environment: ``AUDITOR_CONFIG`` and ``AUDITOR_HR_FEED`` (paths
or ``s3://`` URIs), ``AUDITOR_STATE_SECRET_ARN``, ``AUDITOR_AUDIT_KEY_SECRET_ARN``,
``AUDITOR_RETENTION_BUCKET`` (the retention copy's bucket), ``AUDITOR_WORKDIR``.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditor import configure
from auditor.aws import AwsContext
from auditor.config import Settings
from auditor.deploy.lambda_handler import lambda_settings
from auditor.events import workflow
from auditor.events.intake import accept, complete
from auditor.events.workflow import Services
from auditor.store import Store

STEPS = ("check", "retain", "request_approval", "apply", "deny", "notify")


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def run_step(
    step: str, state: Mapping[str, Any], *, store: Store, settings: Settings, services: Services, now: datetime
) -> dict:
    """One step of the state machine on ``state`` (the check's output, or the EventBridge event for ``check``)."""
    if step == "check":
        outcome = accept(
            dict(state["event"]),
            store=store,
            settings=settings,
            origin="eventbridge",
            now=now,
            services=services,
            plan_only=True,
        )
        offboarding = outcome.detail.get("offboarding") or {}
        return {
            "event_id": outcome.event_id,
            "status": outcome.status,
            "immediate": bool(offboarding.get("immediate")),
            "reason": outcome.reason,
        }
    if step not in STEPS:
        raise ValueError(f"unknown step {step!r} (the steps: {', '.join(STEPS)})")
    event_id = state["event_id"]
    if step == "retain":
        done = workflow.retain(event_id, store=store, settings=settings, services=services, now=now)
    elif step == "request_approval":
        done = workflow.request_approval(event_id, store=store, services=services, task_token=state.get("task_token"))
    elif step == "apply":
        done = workflow.apply(event_id, store=store, settings=settings, services=services)
    elif step == "deny":
        done = workflow.deny(event_id, store=store, services=services, reason=state.get("reason"))
    else:
        done = workflow.notify(event_id, store=store, settings=settings, services=services, now=now)
        complete(store, event_id, actor=services.actor)
    return {"event_id": event_id, "status": done["status"]}


def event_handler(event: Mapping[str, Any], context: object = None) -> dict:
    """Lambda: an EventBridge event, accepted (the outcome, also for a rejected one)."""
    settings, store, services = open_environment(os.environ)
    outcome = accept(dict(event), store=store, settings=settings, origin="eventbridge", now=_now(), services=services)
    return outcome.to_json()


def step_handler(event: Mapping[str, Any], context: object = None) -> dict:
    """Lambda: one offboarding step; the state machine passes ``{"step": ..., ...}``."""
    settings, store, services = open_environment(os.environ)
    return run_step(event["step"], event, store=store, settings=settings, services=services, now=_now())


def open_environment(environ: Mapping[str, str]) -> tuple[Settings, Store, Services]:
    """Settings, the shared state database and the services, from the function's environment."""
    workdir = Path(environ.get("AUDITOR_WORKDIR") or "/tmp/auditor").resolve()  # noqa: S108 - Lambda's only disk
    workdir.mkdir(parents=True, exist_ok=True)
    context = AwsContext.from_environment()
    s3 = context.client("s3")
    config = _fetch(s3, environ.get("AUDITOR_CONFIG", "config.toml"), workdir / "config.toml")
    feed = environ.get("AUDITOR_HR_FEED")
    hr_feed = _fetch(s3, feed, workdir / "hr.csv") if feed else None
    settings = lambda_settings(configure.load(config, required=True), workdir, environ, hr_feed)
    if environ.get("AUDITOR_RETENTION_BUCKET"):
        values = copy.deepcopy(settings.values)
        values["events"]["retention_bucket"] = environ["AUDITOR_RETENTION_BUCKET"]
        settings = Settings(values=values, source=settings.source, raw_text=settings.raw_text)
    secrets = context.client("secretsmanager")
    state_arn = environ.get("AUDITOR_STATE_SECRET_ARN")
    if not state_arn:
        raise ValueError("AUDITOR_STATE_SECRET_ARN must name the state database's URL secret (steps share it)")
    url = secrets.get_secret_value(SecretId=state_arn)["SecretString"].strip()
    key_file = None
    if environ.get("AUDITOR_AUDIT_KEY_SECRET_ARN"):
        key_file = workdir / "keys" / "audit.key"
        key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.get_secret_value(SecretId=environ["AUDITOR_AUDIT_KEY_SECRET_ARN"])["SecretString"])
    store = Store.open(url, key_file=key_file, auto_upgrade=settings.get("state", "auto_upgrade"))
    services = Services(context=context, hr_feed=hr_feed, s3_client=s3, actor="auditor:offboarding")
    return settings, store, services


def _fetch(s3, location: str, target: Path) -> Path:
    if not location.startswith("s3://"):
        return Path(location)
    bucket, _, key = location.removeprefix("s3://").partition("/")
    s3.download_file(bucket, key, str(target))
    return target
