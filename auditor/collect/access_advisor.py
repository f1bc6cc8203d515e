"""IAM Access Advisor: which granted services each IAM user and role actually used.

A two-phase asynchronous job per entity (GenerateServiceLastAccessedDetails,
then GetServiceLastAccessedDetails): every job of an account is started
first, then all are polled with backoff until each is COMPLETED or FAILED
or a deadline passes, so N entities cost one round of waiting, not N.
Service-linked and Identity Center roles are skipped: nobody right-sizes them.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

from auditor.aws import AwsContext, Backoff, Clock, Sleep, jittered_sleep, poll, utc
from auditor.collect.completeness import Completeness, all_failed
from auditor.collect.concurrency import Problems
from auditor.collect.registry import collector
from auditor.model import Account, IamRole, IamUser, ServiceLastAccessed
from auditor.progress import Progress
from auditor.snapshot import FAILED, PARTIAL, SourceResult

SOURCE = "access_advisor"
JOB_TIMEOUT = 600.0  # seconds an account's jobs may take in all
JOB_BACKOFF = Backoff(first=0.5, cap=10.0)  # one round of asking every pending job, then a pause
PERMISSIONS = ("iam:GenerateServiceLastAccessedDetails", "iam:GetServiceLastAccessedDetails")
SKIPPED_ROLE_PATHS = ("/aws-service-role/", "/aws-reserved/")
TABLE = "service_access"


@collector(SOURCE, PERMISSIONS)
def collect_access_advisor(
    ctx: AwsContext,
    accounts: list[Account],
    users: list[IamUser],
    roles: list[IamRole],
    progress: Progress,
    *,
    max_workers: int = 8,
    sleep: Sleep = jittered_sleep,
    clock: Clock = time.monotonic,
    timeout: float = JOB_TIMEOUT,
) -> SourceResult:
    """One status per account that has entities; entities come from the IAM collection."""
    feed = AccountByAccount(ctx, accounts, progress, max_workers=max_workers, sleep=sleep, clock=clock, timeout=timeout)
    users_of: dict[str, list[IamUser]] = {}
    roles_of: dict[str, list[IamRole]] = {}
    for user in users:
        users_of.setdefault(user.account_id, []).append(user)
    for role in roles:
        roles_of.setdefault(role.account_id, []).append(role)
    for account in accounts:
        feed.add(account.account_id, users_of.get(account.account_id, []), roles_of.get(account.account_id, []))
    return feed.result()


class AccountByAccount:
    """Access Advisor started for each account as soon as its IAM entities are known.

    The nightly run hands over each account when IAM has read it, so an
    organisation's jobs wait on AWS while other accounts' IAM is still read,
    instead of after the last one. ``result`` waits for every account added.
    """

    def __init__(
        self,
        ctx: AwsContext,
        accounts: list[Account],
        progress: Progress,
        *,
        max_workers: int = 8,
        sleep: Sleep = jittered_sleep,
        clock: Clock = time.monotonic,
        timeout: float = JOB_TIMEOUT,
    ) -> None:
        self._job = lambda account_id, entities: _account(ctx, account_id, entities, sleep, clock, timeout)
        self._order = dict.fromkeys(a.account_id for a in accounts if a.status == "ACTIVE")
        self._progress = progress
        self._pool = ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="access-advisor")
        self._futures: dict[str, Future[SourceResult]] = {}
        progress.start(SOURCE, len(self._order))

    def __enter__(self) -> AccountByAccount:
        return self

    def __exit__(self, *_exc: object) -> None:
        """On the way out of a failed run: no new jobs start (``result`` has waited for them otherwise)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def add(self, account_id: str, users: list[IamUser], roles: list[IamRole]) -> None:
        """Start the jobs of the account's own ``users`` and ``roles``; an account without any has none."""
        if account_id not in self._order or account_id in self._futures:
            return
        entities = [(u.arn, "user") for u in users]
        entities += [(r.arn, "role") for r in roles if not r.path.startswith(SKIPPED_ROLE_PATHS)]
        if not entities:
            self._progress.advance(SOURCE)
            return
        future = self._pool.submit(self._job, account_id, entities)
        future.add_done_callback(lambda _: self._progress.advance(SOURCE))
        self._futures[account_id] = future

    def result(self) -> SourceResult:
        """Every added account's outcome, in the accounts' order; a failed account is recorded, never lost."""
        result = SourceResult()
        try:
            for account_id in self._order:
                future = self._futures.get(account_id)
                if future is None:
                    continue
                try:
                    result.merge(future.result())
                except Exception as exc:  # a defect, not an AWS answer: still recorded against its account
                    problems = Problems()
                    problems.add(exc, "iam", "GenerateServiceLastAccessedDetails")
                    status = problems.status(SOURCE, account_id, failed=True, detail={})
                    result.statuses.append(all_failed(status, (TABLE,)))
        finally:
            self._pool.shutdown(wait=True)
            self._progress.finish(SOURCE)
        return result


def _account(
    ctx: AwsContext,
    account_id: str,
    entities: list[tuple[str, str]],
    sleep: Sleep,
    clock: Clock,
    timeout: float,
) -> SourceResult:
    iam = ctx.client("iam", account_id)
    book = Completeness((TABLE,))
    problems = book.problems

    def unread(kind: str, arns: list[str], exc: Exception, operation: str, where: str | None = None) -> None:
        """An entity without its services: the table lacks its rows, the entity its attribute."""
        book.mark(TABLE, PARTIAL)
        book.attribute_error(f"iam_{kind}.{TABLE}", arns, exc, "iam", operation, where)

    jobs: dict[str, tuple[str, str]] = {}
    for arn, kind in entities:
        try:
            jobs[iam.generate_service_last_accessed_details(Arn=arn)["JobId"]] = (arn, kind)
        except Exception as exc:  # recorded; the other entities go on
            unread(kind, [arn], exc, "GenerateServiceLastAccessedDetails", arn)
    records: list[ServiceLastAccessed] = []
    pending = dict(jobs)

    def one_round() -> dict[str, tuple[str, str]]:
        """Ask every pending job once; the jobs still IN_PROGRESS."""
        for job_id, (arn, kind) in list(pending.items()):
            try:
                services = _finished(iam, job_id)
            except Exception as exc:
                unread(kind, [arn], exc, "GetServiceLastAccessedDetails", arn)
                del pending[job_id]
                continue
            if services is None:
                continue
            del pending[job_id]
            records.extend(_record(account_id, arn, kind, s) for s in services)
        return pending

    polled = poll(one_round, lambda left: not left, deadline=timeout, backoff=JOB_BACKOFF, sleep=sleep, clock=clock)
    if not polled.done:
        error = (
            f"JobsTimedOut: {len(pending)} Access Advisor job(s) not complete after {timeout:.0f}s "
            f"(iam, GetServiceLastAccessedDetails)"
        )
        problems.note(error)
        book.mark(TABLE, PARTIAL)
        for arn, kind in pending.values():
            book.attribute_unknown(f"iam_{kind}.{TABLE}", [arn], error)
    failed = not records and bool(problems)
    if failed:
        book.mark(TABLE, FAILED)
    status = book.status(
        SOURCE, account_id, failed=failed, detail={"entities": len(entities), "services": len(records)}
    )
    return SourceResult(tables={TABLE: records}, statuses=[status])


def _finished(iam, job_id: str) -> list[dict] | None:
    """The job's services when COMPLETED (every page), None while IN_PROGRESS; raises when FAILED."""
    services: list[dict] = []
    marker = None
    while True:
        params = {"JobId": job_id, **({"Marker": marker} if marker else {})}
        page = iam.get_service_last_accessed_details(**params)
        status = page["JobStatus"]
        if status == "IN_PROGRESS":
            return None
        if status == "FAILED":
            error = page.get("Error") or {}
            raise RuntimeError(f"job failed: {error.get('Code', '')} {error.get('Message', '')}".strip())
        services.extend(page.get("ServicesLastAccessed", []))
        if not page.get("IsTruncated"):
            return services
        marker = page["Marker"]


def _record(account_id: str, arn: str, kind: str, service: dict) -> ServiceLastAccessed:
    last: datetime | None = utc(service.get("LastAuthenticated"))
    return ServiceLastAccessed(
        account_id=account_id,
        entity_arn=arn,
        entity_type=kind,
        service_namespace=service["ServiceNamespace"],
        service_name=service.get("ServiceName"),
        last_authenticated=last,
        last_authenticated_region=service.get("LastAuthenticatedRegion"),
    )
