"""CloudTrail through Athena: one aggregation query per run, the same activity and coverage as the S3 reader.

For an estate whose logs no single machine can read in a night, Athena reads
them where they lie. The product keeps one table over the trail's bucket
(``sql/cloudtrail_table.sql``: AWS's documented CloudTrail table with
partition projection, at the organisation trail's layout), creating it when
it is missing and reusing it when it is there. Each run submits one query
(``sql/cloudtrail_activity.sql``) that groups the window's records by the
fields attribution reads, so what comes back is small: a row per distinct
(principal fields, event kind) with the first and last event time and a
count, and a row per account and region saying which log objects were read.
The rows go through the same attribution as the S3 reader's records
(``cloudtrail_rows``), so both engines produce the same ``activity``,
``action_usage`` and ``lifecycle_events`` tables and the same coverage per
account.

The query's execution id, its ``DataScannedInBytes`` and the workgroup are
recorded in each account's status detail in the manifest.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import TYPE_CHECKING

import boto3
import botocore.exceptions

from auditor.aws import AwsContext, describe_error
from auditor.aws.paging import pages
from auditor.aws.polling import Backoff, Sleep, jittered_sleep, poll
from auditor.collect.cloudtrail_lifecycle import EVENTS as CHANGE_EVENTS
from auditor.collect.cloudtrail_lifecycle import sort_events
from auditor.collect.cloudtrail_rows import changes_from_rows, reduce_rows, usage_from_rows
from auditor.model import Account
from auditor.progress import Progress
from auditor.snapshot import COMPLETE, SourceResult, SourceStatus

if TYPE_CHECKING:
    from auditor.collect.cloudtrail import TrailLocation

SOURCE = "cloudtrail"
QUERY_TASK = "cloudtrail athena query"
# What the engine calls. Athena also checks, as the caller, Glue's catalog (reading and creating the
# table), the trail bucket (reading) and the results location (writing): see auditor.deploy.scopes.
PERMISSIONS = (
    "athena:GetTableMetadata",
    "athena:StartQueryExecution",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:StopQueryExecution",
)
DAY = timedelta(days=1)
TABLES = ("activity", "lifecycle_events", "action_usage")  # what an account's CloudTrail status vouches for
PAGE_SIZE = 1000  # GetQueryResults' largest page
FINAL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")
_EVENT_TIME = "%Y-%m-%dT%H:%M:%SZ"


class AthenaQueryError(Exception):
    """A query that did not succeed: the message names the query id, its state and Athena's reason."""


@dataclass(frozen=True)
class AthenaSettings:
    """``[cloudtrail.athena]``: where the table lives and where Athena writes results."""

    workgroup: str = "primary"
    database: str = "default"
    table: str = "auditor_cloudtrail"
    output_location: str = ""  # s3://bucket/prefix/; empty: the workgroup's own result location
    regions: tuple[str, ...] = ()  # the trail's regions; empty: every region of the partition
    timeout_seconds: int = 1800
    catalog: str = "AwsDataCatalog"

    @classmethod
    def from_section(cls, section: Mapping[str, object]) -> AthenaSettings:
        values = {key: section[key] for key in cls.__dataclass_fields__ if key in section}
        if "regions" in values:
            values["regions"] = tuple(values["regions"])  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]


def athena_settings(settings) -> AthenaSettings | None:
    """``[cloudtrail.athena]`` when ``[cloudtrail] engine = "athena"``, else None (the S3 reader)."""
    if settings.get("cloudtrail", "engine") != "athena":
        return None
    return AthenaSettings.from_section(settings.get("cloudtrail", "athena"))


def sql_text(name: str) -> str:
    """A query shipped in ``auditor/collect/sql/``, without its comment lines (Athena's DDL parser takes none)."""
    text = resources.files("auditor.collect").joinpath("sql", name).read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--")).strip() + "\n"


def literal(value: str) -> str:
    """A SQL string literal (quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def logs_location(bucket: str, prefix: str | None, organization_id: str | None) -> str:
    """``s3://bucket/[prefix/]AWSLogs/[o-id/]``: where the trail's accounts' folders are."""
    root = f"{prefix.strip('/')}/" if prefix and prefix.strip("/") else ""
    org = f"{organization_id}/" if organization_id else ""
    return f"s3://{bucket}/{root}AWSLogs/{org}"


def table_ddl(settings: AthenaSettings, location: str, regions: Iterable[str]) -> str:
    template = location + "${account}/CloudTrail/${region}/${timestamp}"
    return sql_text("cloudtrail_table.sql").format(
        table=settings.table, location=location, regions=",".join(regions), template=template
    )


def activity_query(settings: AthenaSettings, account_ids: Iterable[str], start: datetime, end: datetime) -> str:
    """The aggregation query for ``[start, end]``, reading the day folders one day wider on each side."""
    first_day, last_day = (start - DAY).date(), (end + DAY).date()
    return sql_text("cloudtrail_activity.sql").format(
        table=f'"{settings.database}"."{settings.table}"',
        accounts=", ".join(literal(a) for a in account_ids),
        change_events=", ".join(literal(name) for name in sorted(CHANGE_EVENTS)),
        start=literal(start.astimezone(UTC).strftime(_EVENT_TIME)),
        end=literal(end.astimezone(UTC).strftime(_EVENT_TIME)),
        first_day=literal(first_day.strftime("%Y/%m/%d")),
        last_day=literal(last_day.strftime("%Y/%m/%d")),
    )


def partition_regions(ctx: AwsContext) -> list[str]:
    """Every CloudTrail region of the caller's partition, from botocore's endpoint data (no call)."""
    return sorted(boto3.Session().get_available_regions("cloudtrail", partition_name=ctx.partition))


@dataclass(frozen=True)
class QueryRun:
    query_execution_id: str
    data_scanned_bytes: int
    rows: list[dict[str, str | None]]


class AthenaRunner:
    """Submits a statement, waits for it with backoff and a deadline, and pages its results."""

    def __init__(self, client, settings: AthenaSettings, *, sleep: Sleep = jittered_sleep) -> None:
        self.client = client
        self.settings = settings
        self.sleep = sleep

    def start(self, statement: str) -> str:
        params: dict = {
            "QueryString": statement,
            "QueryExecutionContext": {"Catalog": self.settings.catalog, "Database": self.settings.database},
            "WorkGroup": self.settings.workgroup,
        }
        if self.settings.output_location:
            params["ResultConfiguration"] = {"OutputLocation": self.settings.output_location}
        return self.client.start_query_execution(**params)["QueryExecutionId"]

    def wait(self, query_id: str) -> dict:
        """The finished execution; raises ``AthenaQueryError`` unless it succeeded (stopping it at the deadline)."""

        def check() -> dict:
            return self.client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]

        polled = poll(
            check,
            lambda e: e["Status"]["State"] in FINAL_STATES,
            deadline=self.settings.timeout_seconds,
            backoff=Backoff(first=1.0, cap=15.0),
            sleep=self.sleep,
        )
        execution = polled.answer
        state = execution["Status"]["State"]
        if not polled.done:
            self.client.stop_query_execution(QueryExecutionId=query_id)
            raise AthenaQueryError(
                f"Athena query {query_id} still {state} after {self.settings.timeout_seconds} s; stopped it "
                "(raise [cloudtrail.athena] timeout_seconds)"
            )
        if state != "SUCCEEDED":
            reason = execution["Status"].get("StateChangeReason") or "no reason given"
            raise AthenaQueryError(f"Athena query {query_id} {state}: {reason}")
        return execution

    def run(self, statement: str) -> QueryRun:
        query_id = self.start(statement)
        execution = self.wait(query_id)
        scanned = int(execution.get("Statistics", {}).get("DataScannedInBytes") or 0)
        return QueryRun(query_id, scanned, list(self.rows(query_id)))

    def rows(self, query_id: str) -> Iterator[dict[str, str | None]]:
        """Every result row by column name; the first row of a SELECT's first page repeats the header."""
        names: list[str] | None = None
        for page in pages(self.client, "get_query_results", page_size=PAGE_SIZE, QueryExecutionId=query_id):
            result = page["ResultSet"]
            data = result.get("Rows", [])
            if names is None:
                names = [c["Name"] for c in result["ResultSetMetadata"]["ColumnInfo"]]
                data = data[1:]
            for row in data:
                yield {name: cell.get("VarCharValue") for name, cell in zip(names, row["Data"], strict=True)}


def ensure_table(runner: AthenaRunner, location: str, regions: Iterable[str]) -> str:
    """The table over ``location``: reused when it is there, else created. Returns "reused" or "created".

    A table of the same name over another location is not touched: the run
    stops with an error naming both, rather than read another trail.
    """
    settings = runner.settings
    try:
        table = runner.client.get_table_metadata(
            CatalogName=settings.catalog, DatabaseName=settings.database, TableName=settings.table
        )["TableMetadata"]
    except botocore.exceptions.ClientError as exc:
        if not _not_found(exc):
            raise
    else:
        expected = location + "${account}/CloudTrail/${region}/${timestamp}"
        found = table.get("Parameters", {}).get("storage.location.template")
        if found != expected:
            raise AthenaQueryError(
                f"Athena table {settings.database}.{settings.table} reads {found or 'another location'}, not "
                f"{expected}; set [cloudtrail.athena] table to another name or drop that table"
            )
        return "reused"
    runner.run(table_ddl(settings, location, regions))
    return "created"


def _not_found(exc: botocore.exceptions.ClientError) -> bool:
    error = exc.response.get("Error", {})
    text = f"{error.get('Code', '')} {error.get('Message', '')}"
    return "EntityNotFound" in text or "not found" in text.lower()


def collect_cloudtrail_athena(
    ctx: AwsContext,
    accounts: list[Account],
    trail: TrailLocation,
    progress: Progress,
    *,
    as_of: datetime,
    lookback_days: int,
    settings: AthenaSettings,
    sleep: Sleep = jittered_sleep,
) -> SourceResult:
    """Activity and per-account coverage for ``accounts`` from one Athena query over ``trail``'s bucket."""
    start = as_of - timedelta(days=lookback_days)
    location = logs_location(trail.bucket, trail.prefix, trail.organization_id)
    if not accounts:  # the query must name the accounts it reads (injected projection)
        return SourceResult()
    runner = AthenaRunner(ctx.client("athena", region=trail.home_region), settings, sleep=sleep)
    progress.start(QUERY_TASK, 1)
    try:
        table = ensure_table(runner, location, settings.regions or partition_regions(ctx))
        run = runner.run(activity_query(settings, [a.account_id for a in accounts], start, as_of))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        return _failed(accounts, describe_error(exc, "athena", _operation(exc)))
    except AthenaQueryError as exc:
        return _failed(accounts, str(exc))
    finally:
        progress.finish(QUERY_TASK)
    result = SourceResult()
    activity_rows = [r for r in run.rows if r["part"] == "activity"]
    result.add("activity", reduce_rows(activity_rows))
    result.add("lifecycle_events", sort_events(changes_from_rows(activity_rows)))
    result.add("action_usage", usage_from_rows(activity_rows))
    coverage = [r for r in run.rows if r["part"] == "coverage"]
    query = {
        "engine": "athena",
        "query_execution_id": run.query_execution_id,
        "data_scanned_bytes": run.data_scanned_bytes,
        "workgroup": settings.workgroup,
        "table": f"{settings.database}.{settings.table}",
        "table_action": table,
    }
    for account in accounts:
        mine = [r for r in coverage if r["account"] == account.account_id]
        result.statuses.append(_status(account.account_id, mine, location, query, start, as_of))
    return result


def _failed(accounts: list[Account], error: str) -> SourceResult:
    """Every account failed with the query: nothing is claimed about any of them."""
    statuses = [
        SourceStatus(
            source=SOURCE,
            account_id=a.account_id,
            status="failed",
            error=error,
            tables=dict.fromkeys(TABLES, "failed"),
        )
        for a in accounts
    ]
    return SourceResult(statuses=statuses)


def _operation(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return exc.operation_name
    return "StartQueryExecution"


def _stamp(value: str) -> datetime:
    """A delivery time from the log file's name (``20261101T0105Z``)."""
    return datetime.strptime(value, "%Y%m%dT%H%MZ").replace(tzinfo=UTC)


def _status(
    account_id: str, rows: list[dict], location: str, query: dict, start: datetime, end: datetime
) -> SourceStatus:
    """The account's coverage as the S3 reader states it: the span of log objects read, clipped to the window."""
    where = f"{location}{account_id}/CloudTrail/"
    objects = sum(int(r["objects"]) for r in rows)
    detail = {
        **query,
        "prefixes": [where],
        "regions": sorted(r["region"] for r in rows),
        "objects_read": objects,
        "records": sum(int(r["records"]) for r in rows),
        "records_in_window": sum(int(r["events"]) for r in rows),
    }
    coverage_start = coverage_end = None
    if rows:
        first = min(_stamp(r["first_seen"]) for r in rows)
        last = max(_stamp(r["last_seen"]) for r in rows)
        coverage_start, coverage_end = max(first, start), min(last, end)
        if coverage_start > coverage_end:
            coverage_start = coverage_end = None
        gap = max((int(r["largest_gap_seconds"]) for r in rows if r["largest_gap_seconds"] is not None), default=0)
        detail["largest_gap_hours"] = round(gap / 3600, 1)
    error = None
    if not rows:
        error = f"no CloudTrail log objects from {start.date()} to {end.date()} found under {where}"
    elif coverage_start is None:
        error = f"no log object read was delivered between {start.isoformat()} and {end.isoformat()}"
    state = "partial" if error else "ok"
    return SourceStatus(
        source=SOURCE,
        account_id=account_id,
        status=state,
        error=error,
        coverage_start=coverage_start,
        coverage_end=coverage_end,
        detail=detail,
        tables=dict.fromkeys(TABLES, COMPLETE if state == "ok" else state),
    )
