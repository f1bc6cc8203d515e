"""The AWS Lambda entry point: one scheduled event runs one job, as `auditor scheduler --run JOB` does.

EventBridge Scheduler sends ``{"job": "nightly"}`` (a job id of
``[[scheduler.jobs]]``); the schedules live in the template, so the cron
expressions in config.toml only matter to a long-running scheduler. The
job goes through the same runner as everywhere (claimed once, under its
locks, recorded in ``job_runs``).

Environment (set by deploy/template.yaml):

- ``AUDITOR_CONFIG``: config.toml, a path in the package or ``s3://bucket/key``;
- ``AUDITOR_HR_FEED``: the HR feed, a path or ``s3://bucket/key``;
- ``AUDITOR_BUCKET`` / ``AUDITOR_PREFIX``: where run directories, evidence
  and outbox files are published, and the SQLite state file is kept;
- ``AUDITOR_STATE_SECRET_ARN``: a Secrets Manager secret whose value is a
  SQLAlchemy URL, used instead of the SQLite file in S3; read once per
  container (at its cold start), so the URL and its password are never in
  the function's configuration;
- ``AUDITOR_AUDIT_KEY_SECRET_ARN``: a Secrets Manager secret holding the
  audit key file (the JSON that keys the audit chain and seals campaign
  signing keys); written 0600 to the working directory at cold start, never
  to the data bucket. Without it every cold start would make a new key and
  earlier entries and campaign keys could no longer be verified or opened;
- ``AUDITOR_DIGEST_TOPIC``: the SNS topic for the digest, unless
  ``[notifications] sns_topic_arn`` names one;
- ``AUDITOR_WORKDIR``: the local working directory (default /tmp/auditor).
"""

from __future__ import annotations

import copy
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from auditor import configure
from auditor.aws import AwsContext
from auditor.config import Settings
from auditor.deploy.s3state import S3Workspace
from auditor.schedule.clock import Clock, system_clock
from auditor.schedule.logs import configure_logging
from auditor.schedule.service import SchedulerService
from auditor.store import Store

log = logging.getLogger("auditor.deploy")
_SECRETS: dict[str, str] = {}  # secret ARN -> its value, for the container's life (read at cold start)


class JobFailed(Exception):
    """The job failed: raised so the invocation counts as an error (metrics, alarms)."""


def handler(event: Mapping[str, Any], context: object = None) -> dict:
    """Lambda's handler: ``auditor.deploy.lambda_handler.handler``."""
    configure_logging("json")
    return handle_event(event, os.environ)


def _s3_parts(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def fetch(s3, location: str, target: Path) -> Path:
    """A local copy of ``location`` (s3://bucket/key), or the path itself."""
    if not location.startswith("s3://"):
        return Path(location)
    bucket, key = _s3_parts(location)
    target.parent.mkdir(parents=True, exist_ok=True)
    s3.download_file(bucket, key, str(target))
    return target


def lambda_settings(base: Settings, workdir: Path, environ: Mapping[str, str], hr_feed: Path | None) -> Settings:
    """The configured settings with every output inside the working directory and the feed fetched."""
    values = copy.deepcopy(base.values)
    values["output"]["dir"] = str(workdir / "runs")
    for section in ("campaigns", "notifications"):
        values[section]["outbox_dir"] = str(workdir / "outbox")
    if hr_feed is not None:
        values["hr"]["feed"] = str(hr_feed)
    if environ.get("AUDITOR_DIGEST_TOPIC") and not values["notifications"]["sns_topic_arn"]:
        values["notifications"]["sns_topic_arn"] = environ["AUDITOR_DIGEST_TOPIC"]
    return Settings(values=values, source=base.source, raw_text=base.raw_text)


def handle_event(
    event: Mapping[str, Any],
    environ: Mapping[str, str],
    *,
    clock: Clock = system_clock,
    s3: object | None = None,
    secrets: object | None = None,
    run_pipeline=None,
) -> dict:
    """Run the event's job with S3-backed storage; returns what the job did."""
    job_id = event.get("job") if isinstance(event, Mapping) else None
    if not isinstance(job_id, str) or not job_id:
        raise ValueError('the event must name a job: {"job": "<id in [[scheduler.jobs]]>"}')
    workdir = Path(environ.get("AUDITOR_WORKDIR") or "/tmp/auditor").resolve()  # noqa: S108 - Lambda's only disk
    workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)  # relative job directories (packets, evidence) land in the mirrored tree
    started = time.time()
    s3 = s3 or _s3_client()
    config_path = fetch(s3, environ.get("AUDITOR_CONFIG", "config.toml"), workdir / "config" / "config.toml")
    feed = environ.get("AUDITOR_HR_FEED")
    hr_feed = fetch(s3, feed, workdir / "input" / "hr.csv") if feed else None
    settings = lambda_settings(configure.load(config_path, required=True), workdir, environ, hr_feed)

    workspace = S3Workspace(s3, environ["AUDITOR_BUCKET"], environ.get("AUDITOR_PREFIX", "auditor/"), workdir)
    state_url = _secret(environ, "AUDITOR_STATE_SECRET_ARN", secrets)
    store = Store.open(
        state_url or workspace.pull_state(),
        key_file=_audit_key_file(environ, workdir, secrets),
        auto_upgrade=settings.get("state", "auto_upgrade"),
    )
    try:
        _pull_latest_run(store, workspace)
        service = SchedulerService(settings, store, clock=clock)
        if run_pipeline is not None:
            service.runner.run_pipeline = run_pipeline
        service.runner.publish = workspace.publish
        service.runner.heartbeat = False  # one invocation at a time (reserved concurrency 1); the lease suffices
        if job_id not in service.jobs:
            raise ValueError(f"no job {job_id!r} in [[scheduler.jobs]] (configured: {', '.join(service.jobs)})")
        result = service.fire_now(job_id, wait_seconds=0)
    finally:
        if not state_url:
            _close_sqlite(store)
    if not state_url:
        workspace.push_state()
    wal = tuple(workdir / f"{workspace.state_path.name}{suffix}" for suffix in ("-wal", "-shm", "-journal"))
    keys = (workdir / "keys", store.key_file)  # the audit key stays off S3
    skip = (workdir / "config", workdir / "input", workdir / "runs", *wal, *keys)
    uploaded = workspace.push_changed(started, skip=skip)
    answer = {"job": job_id, "status": result.status, "detail": result.detail, "uploaded": uploaded}
    log.info("lambda job done", extra={"job": job_id, "status": result.status})
    if result.status == "failed":
        raise JobFailed(f"job {job_id} failed: {result.detail.get('error', result.detail)}")
    return answer


def _secret(environ: Mapping[str, str], variable: str, secrets: object | None) -> str | None:
    """The value of the secret ``variable`` names, fetched once per container (its cold start)."""
    arn = environ.get(variable)
    if not arn:
        return None
    if arn not in _SECRETS:
        client = secrets or AwsContext.from_environment().client("secretsmanager")
        _SECRETS[arn] = client.get_secret_value(SecretId=arn)["SecretString"].strip()
    return _SECRETS[arn]


def _audit_key_file(environ: Mapping[str, str], workdir: Path, secrets: object | None) -> Path | None:
    """The audit key file from its secret, written 0600 where only this function reads it (None: not configured)."""
    value = _secret(environ, "AUDITOR_AUDIT_KEY_SECRET_ARN", secrets)
    if value is None:
        return None
    path = workdir / "keys" / "audit.key"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value)
    return path


def _pull_latest_run(store: Store, workspace: S3Workspace) -> None:
    """A job reviewing the latest run (the quarterly campaign) reads its directory: fetch it back."""
    latest = store.latest_run()
    if not latest or not latest.get("out_dir"):
        return
    out_dir = Path(latest["out_dir"])
    if out_dir.exists() or workspace.root.resolve() not in out_dir.resolve().parents:
        return
    workspace.pull(out_dir)


def _close_sqlite(store: Store) -> None:
    """Fold the write-ahead log into the file and close, so the uploaded file holds every write."""
    if store.engine.dialect.name == "sqlite":
        raw = store.engine.raw_connection()  # autocommit (the store's connect hook): no transaction around it
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
    store.engine.dispose()


def _s3_client():
    return AwsContext.from_environment().client("s3")
