"""The steps of the Step Functions workflow (deploy/template.yaml): the nightly run, fanned out.

One Lambda function serves every step; the state machine names the step in
the payload (``{"step": "accounts", ...}``). Each step is a thin wrapper over
the library calls ``auditor run`` makes, and hands over through S3 (the data
bucket, under ``<prefix>stepfunctions/<run id>/``, expired after a week by the
bucket's lifecycle), never through the state machine's payloads, which stay
a few hundred bytes:

1. ``accounts``: the HR feed (refused before any AWS call when unusable),
   Organizations, the accounts in scope and the trail; returns the run and
   the account ids the Distributed Map fans out over.
2. ``iam`` (one per account, in the Distributed Map): IAM and Access Advisor
   of that account, a shard each.
3. ``identity_center``: Identity Center and its identity store.
4. ``cloudtrail``: CloudTrail through Athena (``[cloudtrail.athena]``), one
   query for the whole estate.
5. ``merge``: the shards, in the pipeline's source order, into one snapshot, with the
   AWS managed policies the principals reference (read here, as the pipeline reads them).
6. ``analyse``: the configured run job (``[[scheduler.jobs]]``, "nightly" by
   default) on that snapshot, as the scheduled Lambda runs it: under its
   lock, recorded, reported, published to the bucket, notifications sent.

Environment: that of ``auditor.deploy.lambda_handler``, plus
``AUDITOR_ATHENA_OUTPUT``: where Athena writes results when ``[cloudtrail.athena]
output_location`` is empty (the template's results bucket).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from auditor import __version__, configure, pipeline
from auditor import snapshot as snapshots
from auditor.aws import AwsContext, context_from_settings
from auditor.collect import COLLECTORS
from auditor.collect.aws_policies import collect_aws_policies, referenced_aws_policies
from auditor.collect.cloudtrail import TrailLocation, collect_cloudtrail
from auditor.collect.cloudtrail_athena import AthenaSettings
from auditor.collect.iam import collect_iam
from auditor.collect.identity_center import collect_identity_center
from auditor.collect.organizations import collect_organizations
from auditor.config import Settings
from auditor.deploy import lambda_handler
from auditor.hr_history import with_moves
from auditor.model import Account
from auditor.progress import Progress
from auditor.schedule.clock import Clock, system_clock
from auditor.schedule.logs import configure_logging
from auditor.snapshot import TABLES, SourceResult, SourceStatus, Unreadable

STEPS = ("accounts", "iam", "identity_center", "cloudtrail", "merge", "analyse")


class _Shard(msgspec.Struct):
    """A collector's result as it is handed from one step to a later one."""

    tables: dict[str, list[msgspec.Raw]] = {}
    statuses: list[SourceStatus] = []
    unreadable: list[Unreadable] = []


class _Plan(msgspec.Struct):
    """What the first step decided for the whole run."""

    accounts: list[Account]
    trail: TrailLocation | None


class _Merged(msgspec.Struct):
    """The merged snapshot, as the merge step hands it to the analysis."""

    manifest: snapshots.Manifest
    tables: dict[str, list[msgspec.Raw]]


def handler(event: Mapping[str, Any], context: object = None) -> dict:
    """Lambda's handler for every step: ``auditor.deploy.stepfunctions.handler``."""
    configure_logging("json")
    return handle_step(event, os.environ)


class Steps:
    """The steps of one run, with their settings, AWS context and S3 hand-over place."""

    def __init__(self, environ: Mapping[str, str], *, s3=None, clock: Clock = system_clock) -> None:
        self.environ = environ
        self.clock = clock
        self.workdir = Path(environ.get("AUDITOR_WORKDIR") or "/tmp/auditor").resolve()  # noqa: S108 - Lambda's disk
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.s3 = s3 or AwsContext.from_environment().client("s3")
        self.bucket = environ["AUDITOR_BUCKET"]
        self.prefix = environ.get("AUDITOR_PREFIX", "auditor/")
        config = lambda_handler.fetch(
            self.s3, environ.get("AUDITOR_CONFIG", "config.toml"), self.workdir / "config.toml"
        )
        self.settings: Settings = configure.load(config, required=True)

    def context(self) -> AwsContext:
        return context_from_settings(self.settings)

    # --- hand-over through S3

    def _key(self, run: Mapping[str, Any], name: str) -> str:
        return f"{self.prefix}stepfunctions/{run['id']}/{name}.json"

    def put(self, run: Mapping[str, Any], name: str, value: object) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=self._key(run, name), Body=msgspec.json.encode(value))

    def get(self, run: Mapping[str, Any], name: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=self._key(run, name))["Body"].read()

    def put_result(self, run: Mapping[str, Any], name: str, result: SourceResult) -> None:
        self.put(run, name, {"tables": result.tables, "statuses": result.statuses, "unreadable": result.unreadable})

    def get_result(self, run: Mapping[str, Any], name: str) -> SourceResult:
        shard = msgspec.json.decode(self.get(run, name), type=_Shard)
        tables = {t: [msgspec.json.decode(r, type=TABLES[t]) for r in rows] for t, rows in shard.tables.items()}
        return SourceResult(tables=tables, statuses=list(shard.statuses), unreadable=list(shard.unreadable))

    def plan(self, run: Mapping[str, Any]) -> _Plan:
        return msgspec.json.decode(self.get(run, "plan"), type=_Plan)

    # --- the steps

    def accounts(self, event: Mapping[str, Any]) -> dict:
        started = datetime.now(UTC)
        given = (event.get("input") or {}).get("as_of")
        as_of = datetime.fromisoformat(given).astimezone(UTC) if given else pipeline.as_of_now(self.clock())
        feed = self.environ.get("AUDITOR_HR_FEED")
        hr_feed = lambda_handler.fetch(self.s3, feed, self.workdir / "input" / "hr.csv") if feed else None
        hr = pipeline.hr_or_failure(hr_feed)  # an unusable feed stops the run here, before any AWS call
        context = self.context()
        home_account = context.own_account_id()
        org_result, organization = collect_organizations(context, Progress())
        accounts = pipeline.in_scope(organization.accounts, self.settings)
        trail = pipeline.trail_location(self.settings, context, organization.organization_id)
        run = {
            "id": f"run-{as_of:%Y%m%dT%H%M%SZ}",
            "as_of": as_of.isoformat(),
            "started": started.isoformat(),
            "home_account": home_account,
        }
        self.put(run, "plan", _Plan(accounts=accounts, trail=trail if isinstance(trail, TrailLocation) else None))
        self.put_result(run, "hr", hr)
        self.put_result(run, "organizations", org_result)
        if not isinstance(trail, TrailLocation):
            self.put_result(run, "cloudtrail", trail)  # no trail: the failure, as the pipeline records it
        return {"run": run, "accounts": [a.account_id for a in accounts]}

    def iam(self, event: Mapping[str, Any]) -> dict:
        run, account_id = event["run"], event["account_id"]
        (account,) = [a for a in self.plan(run).accounts if a.account_id == account_id]
        context = self.context()
        workers = self.settings.get("aws", "max_workers")
        result = collect_iam(context, [account], Progress(), max_workers=workers)
        self.put_result(run, f"iam/{account_id}", result)
        advisor = pipeline.access_advisor(self.settings, context, [account], result, Progress())
        self.put_result(run, f"access_advisor/{account_id}", advisor)
        return {"account_id": account_id, "status": [s.status for s in result.statuses]}

    def identity_center(self, event: Mapping[str, Any]) -> dict:
        run = event["run"]
        section = self.settings.section("identity_center")
        result = collect_identity_center(
            self.context(),
            self.plan(run).accounts,
            Progress(),
            instance_arn=section["instance_arn"] or None,
            identity_store_id=section["identity_store_id"] or None,
            max_workers=self.settings.get("aws", "max_workers"),
        )
        self.put_result(run, "identity_center", pipeline.with_home_account(result, run["home_account"]))
        return {"status": [s.status for s in result.statuses]}

    def cloudtrail(self, event: Mapping[str, Any]) -> dict:
        run = event["run"]
        plan = self.plan(run)
        if plan.trail is None:
            return {"status": ["failed"]}  # recorded by the first step
        athena = AthenaSettings.from_section(self.settings.get("cloudtrail", "athena"))
        if not athena.output_location and self.environ.get("AUDITOR_ATHENA_OUTPUT"):
            athena = replace(athena, output_location=self.environ["AUDITOR_ATHENA_OUTPUT"])
        result = collect_cloudtrail(
            self.context(),
            plan.accounts,
            plan.trail,
            Progress(),
            as_of=datetime.fromisoformat(run["as_of"]),
            lookback_days=self.settings.get("cloudtrail", "lookback_days"),
            athena=athena,
        )
        self.put_result(run, "cloudtrail", result)
        return {"status": sorted({s.status for s in result.statuses})}

    def merge(self, event: Mapping[str, Any]) -> dict:
        """The shards in the pipeline's order (its sources, then HR), as one snapshot."""
        run = event["run"]
        accounts = self.plan(run).accounts
        collected: dict[str, SourceResult] = {}
        for source in ("organizations", "identity_center", "cloudtrail"):
            collected[source] = self.get_result(run, source)
        for source in ("iam", "access_advisor"):
            merged = SourceResult()
            for account in accounts:
                merged.merge(self.get_result(run, f"{source}/{account.account_id}"))
            collected[source] = merged
        # the AWS managed policies the principals reference, as the pipeline reads them after IAM and Identity Center
        referenced = referenced_aws_policies([collected["iam"].tables, collected["identity_center"].tables])
        collected["iam"].merge(collect_aws_policies(self.context(), referenced))
        results = [collected[source] for source in COLLECTORS] + [self.get_result(run, "hr")]
        snapshot = snapshots.build(
            results,
            as_of=datetime.fromisoformat(run["as_of"]),
            collected_at=datetime.fromisoformat(run["started"]),
            tool_version=__version__,
        )
        self.put(run, "snapshot", {"manifest": snapshot.manifest, "tables": snapshot.tables})
        return {"counts": snapshot.manifest.counts}

    def snapshot(self, run: Mapping[str, Any]) -> snapshots.Snapshot:
        shard = msgspec.json.decode(self.get(run, "snapshot"), type=_Merged)
        tables = {t: [msgspec.json.decode(r, type=TABLES[t]) for r in rows] for t, rows in shard.tables.items()}
        return snapshots.Snapshot(manifest=shard.manifest, tables=tables)

    def analyse(self, event: Mapping[str, Any], **job_options: Any) -> dict:
        """The run job on the merged snapshot: as the scheduled function runs it, with collection already done."""
        run = event["run"]
        began = time.monotonic()
        snapshot = self.snapshot(run)
        as_of = snapshot.manifest.as_of

        def conclude(settings, *, out_dir, store, fail_on=None, **_):
            remembered, people = store.previous_hr_roles(), snapshot.table("hr_people")
            snapshot.manifest.sources = pipeline.check_hr(
                snapshot.manifest.sources, people, remembered, snapshot.table("idc_users"), settings
            )
            snapshot.tables["hr_people"] = with_moves(people, remembered)
            snapshots.save(snapshot, Path(out_dir) / "snapshot")
            pipeline.record_settings(settings, Path(out_dir) / "snapshot")
            return pipeline.conclude(
                snapshot,
                settings,
                out_dir=Path(out_dir),
                as_of=as_of,
                store=store,
                fail_on=fail_on,
                began=began,
                record_started=datetime.fromisoformat(run["started"]),
            )

        job = {"job": event.get("job") or "nightly"}
        return lambda_handler.handle_event(job, self.environ, s3=self.s3, run_pipeline=conclude, **job_options)


def handle_step(event: Mapping[str, Any], environ: Mapping[str, str], *, s3=None, clock: Clock = system_clock, **job):
    """Run the step the event names; returns what the state machine passes on."""
    step = event.get("step") if isinstance(event, Mapping) else None
    if step not in STEPS:
        raise ValueError(f"the event must name a step, one of {', '.join(STEPS)}: {{'step': ...}}")
    steps = Steps(environ, s3=s3, clock=clock)
    if step == "analyse":
        return steps.analyse(event, clock=clock, **job)
    return getattr(steps, step)(event)
