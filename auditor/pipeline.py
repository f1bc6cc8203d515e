"""The run: collect -> snapshot -> analyse -> classify -> record -> report, as separate steps.

``run`` and ``analyze_snapshot`` compose the steps; the CLI, the nightly job
and the tests call them (or the steps) without the CLI. A run opens no
campaign: the caller that wants micro-certifications opens them with the
run's result (``auditor.schedule.nightly.nightly_run``).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from auditor import __version__, heap, history, metrics
from auditor import snapshot as snapshots
from auditor.access import AccessModel
from auditor.analyze import analyze, at_or_above, exempt_identities
from auditor.aws import AwsContext, context_from_settings, describe_error
from auditor.collect import COLLECTORS
from auditor.collect.access_advisor import AccountByAccount, collect_access_advisor
from auditor.collect.aws_policies import collect_aws_policies, referenced_aws_policies
from auditor.collect.cloudtrail import TrailLocation, collect_cloudtrail, discover_trail
from auditor.collect.cloudtrail_athena import athena_settings
from auditor.collect.cloudtrail_ledger import Ledger
from auditor.collect.cloudtrail_plan import ReadPlan, plan_reads
from auditor.collect.hr import collect_hr
from auditor.collect.iam import collect_iam
from auditor.collect.identity_center import collect_identity_center
from auditor.collect.organizations import collect_organizations
from auditor.config import Settings, analysis_toml
from auditor.exit_codes import EXIT_ATTENTION, EXIT_INCOMPLETE, EXIT_OK
from auditor.files import atomic_write
from auditor.hr_history import cut_short, is_cut_short, roles, with_moves
from auditor.metrics.nights import Night
from auditor.model import Account, Finding, HrPerson, IdcUser
from auditor.progress import Progress
from auditor.report import AUDIT_HEAD, write_all
from auditor.rules import RULES
from auditor.rules.registry import trail_facts_needed
from auditor.snapshot import Snapshot, SourceResult, SourceStatus
from auditor.store import Store

# Where a run writes its snapshot until it is recorded (see ``_promote``).
STAGED_SNAPSHOT = ".snapshot.partial"
LIFECYCLE_REPORT_DAYS = 90  # the report's lifecycle section reads the recorded runs of this many days


@dataclass
class RunResult:
    snapshot: Snapshot
    findings: list[Finding]
    out_dir: Path
    outputs: dict[str, Path] = field(default_factory=dict)
    exit_code: int = EXIT_OK
    duration_seconds: float = 0.0
    run_id: int | None = None
    micro_campaigns: list = field(default_factory=list)  # filled by the caller that opens them

    @property
    def incomplete_sources(self) -> list[SourceStatus]:
        return [s for s in self.snapshot.manifest.sources if s.status != "ok"]


def as_of_now(now: datetime | None = None) -> datetime:
    """The default as-of: now (or the injected clock's now), in UTC, to the second."""
    return (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)


def collect(
    settings: Settings,
    *,
    as_of: datetime,
    hr_feed: Path | None,
    store: Store | None = None,
    context: AwsContext | None = None,
    progress: Progress | None = None,
) -> Snapshot:
    """Read every source into a snapshot. Raises HrFeedError before any AWS call on an unusable feed.

    With a store, the HR people carry the moves the store remembers (a
    department changed since the last run), so a saved snapshot analyses
    offline to the same findings as the run.
    """
    progress = progress or Progress()
    hr = _collect_hr(hr_feed)  # bad input stops the run before AWS is touched
    context = context or context_from_settings(settings)
    workers = settings.get("aws", "max_workers")
    started = datetime.now(UTC)

    home_account = context.own_account_id()  # the first contact: an unreachable endpoint stops here, quickly
    org_result, organization = collect_organizations(context, progress)
    accounts = _in_scope(organization.accounts, settings)
    trail = _trail(settings, context, organization.organization_id)

    advisor = _access_advisor(settings, context, accounts, progress)  # None when disabled
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="source") as pool, advisor or nullcontext():
        idc = pool.submit(
            collect_identity_center,
            context,
            accounts,
            progress,
            instance_arn=settings.get("identity_center", "instance_arn") or None,
            identity_store_id=settings.get("identity_center", "identity_store_id") or None,
            max_workers=workers,
        )
        iam = pool.submit(collect_iam, context, accounts, progress, max_workers=workers, on_account=_feeding(advisor))
        if isinstance(trail, TrailLocation):
            cloudtrail = pool.submit(
                collect_cloudtrail,
                context,
                accounts,
                trail,
                progress,
                as_of=as_of,
                lookback_days=settings.get("cloudtrail", "lookback_days"),
                max_workers=workers,
                ledger=_ledger(settings, store),
                plan=read_plan(settings, home_account, context.region),
                athena=athena_settings(settings),
            )
        iam_result = iam.result()
        idc_result = _with_home_account(idc.result(), home_account)
        remembered = store.previous_hr_roles() if store is not None else {}
        idc_users = idc_result.tables.get("idc_users", [])
        hr.statuses = _check_hr(hr.statuses, hr.tables.get("hr_people", []), remembered, idc_users, settings)
        # read while Access Advisor's jobs (started as IAM read each account) and CloudTrail go on
        used = referenced_aws_policies([iam_result.tables, idc_result.tables])
        aws_policies = collect_aws_policies(context, used, max_workers=workers)
        advisor_result = advisor.result() if advisor else SourceResult()
        cloudtrail_result = cloudtrail.result() if isinstance(trail, TrailLocation) else trail
    iam_result.merge(aws_policies)
    collected = {
        "organizations": org_result,
        "identity_center": idc_result,
        "iam": iam_result,
        "access_advisor": advisor_result,
        "cloudtrail": cloudtrail_result,
    }
    results = [collected[source] for source in COLLECTORS] + [hr]  # the registry's sources, in its order
    snapshot = snapshots.build(results, as_of=as_of, collected_at=started, tool_version=__version__)
    if store is not None:
        snapshot.tables["hr_people"] = with_moves(snapshot.table("hr_people"), remembered)
    return snapshot


def collect_to(
    out_dir: Path,
    settings: Settings,
    *,
    as_of: datetime,
    hr_feed: Path | None,
    store: Store | None = None,
    progress: Progress | None = None,
) -> Snapshot:
    """`auditor collect`: collect (with the store's remembered moves) and save the snapshot in OUT/snapshot."""
    progress = progress or Progress()
    with progress.phase("collecting"):
        snapshot = collect(settings, as_of=as_of, hr_feed=hr_feed, store=store, progress=progress)
    snapshots.save(snapshot, out_dir / "snapshot")
    record_settings(settings, out_dir / "snapshot")
    return snapshot


SETTINGS_FILE = "config.toml"  # in a snapshot: the settings it was collected and analysed with


def record_settings(settings: Settings, snapshot_dir: Path) -> Path:
    """Keep the analysis settings beside the snapshot, so `analyze` re-reads it with the same rules and exceptions.

    Only [rules] and the exceptions are kept (``config.analysis_toml``): the config file itself may
    hold delivery secrets that must not travel with run directories.
    """
    path = snapshot_dir / SETTINGS_FILE
    atomic_write(path, analysis_toml(settings).encode("utf-8"))
    return path


def analyse(
    snapshot: Snapshot, settings: Settings, as_of: datetime, access: AccessModel | None = None
) -> list[Finding]:
    """Every enabled rule's findings on the snapshot (pure: no store, no I/O).

    ``access``: the run's one access model (``conclude`` builds it once and hands it to the report too).
    """
    return analyze(snapshot, settings, as_of, access)


def classify(findings: list[Finding], snapshot: Snapshot, store: Store, as_of: datetime) -> list[Finding]:
    """Each finding's status (new, open, resolved, suppressed) against the store's latest run; writes nothing."""
    return history.classify(findings, store.previous_unresolved(), snapshot, as_of)


def exit_status(findings: list[Finding], snapshot: Snapshot, settings: Settings, fail_on: str | None) -> int:
    """1 when a live finding is at or above --fail-on ([output] fail_on), else 3 when something went unread, else 0."""
    fail_on = fail_on or settings.get("output", "fail_on") or None
    live = [f for f in findings if f.status in ("new", "open")]
    if fail_on and at_or_above(live, fail_on):
        return EXIT_ATTENTION
    return EXIT_OK if snapshot.complete else EXIT_INCOMPLETE


def record(
    store: Store,
    snapshot: Snapshot,
    findings: list[Finding],
    settings: Settings,
    *,
    kind: str = "run",
    started: datetime,
    as_of: datetime,
    exit_code: int,
    duration: float,
    out_dir: Path,
) -> int:
    """Record the run, its findings' history and the HR roles (tomorrow's movers) in the store; its run id.

    A feed cut short is not remembered: tomorrow's feed is compared with the last whole one.
    """
    people = [] if is_cut_short(snapshot.status_of("hr")) else snapshot.table("hr_people")
    return store.record_run(
        kind=kind,
        started_at=started,
        as_of=as_of,
        config_hash=settings.digest(),
        tool_version=__version__,
        exit_code=exit_code,
        duration=duration,
        findings_now=findings,
        counts=snapshot.manifest.counts,
        sources=[msgspec.to_builtins(s) for s in snapshot.manifest.sources],
        out_dir=str(out_dir.resolve()),
        hr_roles=roles(people) if people else None,
    )


def report(
    out_dir: Path,
    snapshot: Snapshot,
    findings: list[Finding],
    settings: Settings,
    store: Store,
    *,
    as_of: datetime,
    exit_code: int,
    duration: float,
    run_id: int | None,
    save_snapshot: bool = False,
    access: AccessModel | None = None,
) -> dict[str, Path]:
    """Write findings.json/.csv/.xlsx and report.html (with the store's history); the written files by name."""
    access = access or AccessModel(snapshot)
    run_info = {
        "as_of": as_of,
        "tool_version": __version__,
        "config_path": str(settings.source) if settings.source else "(defaults)",
        "exit_status": exit_code,
        "duration_seconds": round(duration, 1),
        "run_id": run_id if run_id is not None else "(not recorded)",
        "audit_log_head": store.audit_head(),  # id:hash
        "exempt_identities": exempt_identities(snapshot, settings, as_of, access),
    }
    history_info = {
        "runs": store.recent_runs(),
        "time_to_resolve": store.time_to_resolve(),
        "lifecycle": lifecycle_metrics(store, settings, as_of, snapshot, run_id),
    }
    written = write_all(
        out_dir, findings, snapshot, run_info, save_snapshot=save_snapshot, history=history_info, access=access
    )
    written["audit_head"] = write_audit_head(out_dir, store)
    return written


def lifecycle_metrics(
    store: Store, settings: Settings, as_of: datetime, snapshot: Snapshot, run_id: int | None
) -> dict:
    """The report's "Lifecycle effectiveness" section: the recorded runs of the last 90 days, this one included."""
    rules = settings.section("rules")
    since = as_of - timedelta(days=LIFECYCLE_REPORT_DAYS)
    current = Night(run_id, as_of, snapshot) if run_id is not None else None
    computed = metrics.compute(
        store,
        department_groups=rules["department_groups"],
        shared_groups=rules["shared_groups"],
        since=since,
        current=current,
    )
    return computed.to_dict()


def write_audit_head(out_dir: Path, store: Store) -> Path:
    """The audit chain's head, kept outside the database: `audit verify --expect-head` tells a cut or rewrite."""
    head = store.head()
    data = {**head.as_json(), "head": str(head), "state": store.display_url}
    path = Path(out_dir) / AUDIT_HEAD
    atomic_write(path, json.dumps(data, indent=2).encode() + b"\n")
    return path


def run(
    settings: Settings,
    *,
    out_dir: Path,
    as_of: datetime,
    hr_feed: Path | None,
    store: Store,
    fail_on: str | None = None,
    context: AwsContext | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Collect, save the snapshot, analyse, classify, record the run in the store and write every output."""
    started = datetime.now(UTC)
    began = time.monotonic()
    progress = progress or Progress()
    with progress.phase("collecting"):
        snapshot = collect(settings, as_of=as_of, hr_feed=hr_feed, store=store, context=context, progress=progress)
    staged = out_dir / STAGED_SNAPSHOT
    snapshots.save(snapshot, staged)  # kept even if a later step fails
    record_settings(settings, staged)
    result = conclude(
        snapshot,
        settings,
        out_dir=out_dir,
        as_of=as_of,
        store=store,
        fail_on=fail_on,
        began=began,
        record_started=started,
        progress=progress,
    )
    _promote(staged, out_dir / "snapshot")
    return result


def _promote(staged: Path, target: Path) -> None:
    """Put this run's snapshot in the place of the last run's, once this run is recorded.

    Until then the last run's snapshot stays beside its findings, which is
    what the store's latest run (and a remediation plan built from it)
    reads: a run killed half-way leaves the last run's outputs as they were.
    """
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staged.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def conclude(
    snapshot: Snapshot,
    settings: Settings,
    *,
    out_dir: Path,
    as_of: datetime,
    store: Store,
    fail_on: str | None = None,
    began: float,
    record_started: datetime | None = None,
    save_snapshot: bool = False,
    progress: Progress | None = None,
) -> RunResult:
    """The steps after collection: analyse, classify, record and report.

    ``record_started`` (when the run started) records the run in the store;
    without it nothing is recorded (a re-analysis must not rewrite history).
    """
    progress = progress or Progress()
    with heap.collector_paused():  # analysis and reports build millions of objects and no cycles to speak of
        with progress.phase("running the rules"):
            access = AccessModel(snapshot)  # the one access model of the run: the rules and the report read it
            findings = classify(analyse(snapshot, settings, as_of, access), snapshot, store, as_of)
        exit_code = exit_status(findings, snapshot, settings, fail_on)
        duration = time.monotonic() - began
        run_id = None
        if record_started is not None:
            with progress.phase("recording the run"):
                run_id = record(
                    store,
                    snapshot,
                    findings,
                    settings,
                    started=record_started,
                    as_of=as_of,
                    exit_code=exit_code,
                    duration=duration,
                    out_dir=out_dir,
                )
        with progress.phase("writing the reports"):
            outputs = report(
                out_dir,
                snapshot,
                findings,
                settings,
                store,
                as_of=as_of,
                exit_code=exit_code,
                duration=duration,
                run_id=run_id,
                save_snapshot=save_snapshot,
                access=access,
            )
        if save_snapshot:
            record_settings(settings, out_dir / "snapshot")
        return RunResult(
            snapshot=snapshot,
            findings=findings,
            out_dir=out_dir,
            outputs=outputs,
            exit_code=exit_code,
            duration_seconds=duration,
            run_id=run_id,
        )


def analyze_snapshot(
    snapshot_dir: Path,
    settings: Settings,
    *,
    out_dir: Path,
    as_of: datetime | None,
    store: Store,
    fail_on: str | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Re-run the rules offline on a saved snapshot (as of its own time unless told).

    Statuses are relative to the store's latest run, but nothing is recorded:
    re-analysing an old snapshot must not rewrite the history.
    """
    began = time.monotonic()
    progress = progress or Progress()
    with progress.phase("reading the snapshot"):
        snapshot = snapshots.load(snapshot_dir)
    as_of = as_of or snapshot.manifest.as_of
    if (out_dir / "snapshot").resolve() != snapshot_dir.resolve():
        with progress.phase("copying the snapshot"):
            _copy_snapshot(snapshot_dir, out_dir / "snapshot")
            record_settings(settings, out_dir / "snapshot")
    return conclude(
        snapshot, settings, out_dir=out_dir, as_of=as_of, store=store, fail_on=fail_on, began=began, progress=progress
    )


def _copy_snapshot(source: Path, target: Path) -> None:
    """The loaded snapshot's files, byte for byte: re-encoding a large estate's tables costs seconds.

    A table file the source lacks (an older snapshot) is written empty, as saving would write it.
    """
    for name in snapshots.file_names():
        if name == SETTINGS_FILE:
            continue  # the settings this analysis used are recorded instead
        path = source / name
        atomic_write(target / name, path.read_bytes() if path.is_file() else b"")


def _collect_hr(hr_feed: Path | None) -> SourceResult:
    if hr_feed is None:
        status = SourceStatus(
            source="hr", status="failed", error="no HR feed given (--hr-feed FILE or [hr] feed in config.toml)"
        )
        return SourceResult(statuses=[status])
    return collect_hr(hr_feed)


def _in_scope(accounts: list[Account], settings: Settings) -> list[Account]:
    include = set(settings.get("organizations", "include_accounts"))
    exclude = set(settings.get("organizations", "exclude_accounts"))
    return [a for a in accounts if (not include or a.account_id in include) and a.account_id not in exclude]


def _trail(settings: Settings, context: AwsContext, organization_id: str | None) -> TrailLocation | SourceResult:
    """The configured trail bucket, else the one DescribeTrails finds; a SourceResult when there is none."""
    section = settings.section("cloudtrail")
    if section["bucket"]:
        return TrailLocation(
            bucket=section["bucket"],
            prefix=section["prefix"] or None,
            organization_id=section["organization_id"] or organization_id,
            home_region=context.region,
            trail_arn=None,
        )
    try:
        trail = discover_trail(context)
    except Exception as exc:  # recorded in the manifest; the run goes on without CloudTrail
        error = describe_error(exc, "cloudtrail", "DescribeTrails")
        return SourceResult(statuses=[SourceStatus(source="cloudtrail", status="failed", error=error)])
    if trail is None:
        error = "no trail found by DescribeTrails; set [cloudtrail] bucket in config.toml"
        return SourceResult(statuses=[SourceStatus(source="cloudtrail", status="failed", error=error)])
    return trail


def read_plan(settings: Settings, home_account: str | None, home_region: str | None) -> ReadPlan:
    """The CloudTrail reads the enabled rules need ([cloudtrail] read = "needed"), or every account's ("all")."""
    disabled = set(settings.get("rules", "disabled"))
    needed = trail_facts_needed(rule for rule_id, rule in RULES.items() if rule_id not in disabled)
    mode = settings.get("cloudtrail", "read")
    return plan_reads(needed, mode=mode, home_account=home_account, home_region=home_region)


def _ledger(settings: Settings, store: Store | None) -> Ledger | None:
    """The store's CloudTrail ledger: a run reads only what no run read ([cloudtrail] incremental), else all."""
    if store is None:
        return None
    overlap = timedelta(hours=settings.get("cloudtrail", "overlap_hours"))
    return Ledger(store.engine, full=not settings.get("cloudtrail", "incremental"), overlap=overlap)


def _access_advisor(
    settings: Settings, context: AwsContext, accounts: list[Account], progress: Progress
) -> AccountByAccount | None:
    """Access Advisor, fed each account by the IAM collection; None when [access_advisor] is disabled."""
    if not settings.get("access_advisor", "enabled"):
        return None
    return AccountByAccount(
        context,
        accounts,
        progress,
        max_workers=settings.get("aws", "max_workers"),
        timeout=settings.get("access_advisor", "timeout_seconds"),
    )


def _check_hr(
    statuses: list[SourceStatus],
    people: list[HrPerson],
    remembered: dict,
    idc_users: list[IdcUser],
    settings: Settings,
) -> list[SourceStatus]:
    """``statuses`` with the HR feed's marked partial when it looks cut short (``hr_history.cut_short``)."""
    directory = {n.lower() for u in idc_users for n in (u.user_name, u.email) if n}
    share = settings.get("hr", "max_dropped_share")
    return [cut_short(s, people, remembered, directory, share) if s.source == "hr" else s for s in statuses]


def _access_advisor_after(
    settings: Settings, context: AwsContext, accounts: list[Account], iam: SourceResult, progress: Progress
) -> SourceResult:
    """Access Advisor for accounts IAM has already read (a caller that runs the steps apart)."""
    if not settings.get("access_advisor", "enabled"):
        return SourceResult()
    return collect_access_advisor(
        context,
        accounts,
        iam.tables.get("iam_users", []),
        iam.tables.get("iam_roles", []),
        progress,
        max_workers=settings.get("aws", "max_workers"),
        timeout=settings.get("access_advisor", "timeout_seconds"),
    )


def _feeding(advisor: AccountByAccount | None) -> Callable[[str, SourceResult], None] | None:
    """What hands each account IAM has read to Access Advisor, to start its jobs there."""
    if advisor is None:
        return None
    return lambda account_id, read: advisor.add(
        account_id, read.tables.get("iam_users", []), read.tables.get("iam_roles", [])
    )


def _with_home_account(result: SourceResult, home_account: str) -> SourceResult:
    """Note where Identity Center sign-ins are recorded (the account it was read from)."""
    result.statuses = [
        msgspec.structs.replace(s, detail={**s.detail, "home_account_id": home_account})
        if s.source == "identity_center" and s.account_id is None
        else s
        for s in result.statuses
    ]
    return result


# The steps of ``collect`` under public names, for a caller that runs them apart (the Step Functions workflow).
hr_or_failure = _collect_hr
check_hr = _check_hr
in_scope = _in_scope
trail_location = _trail
access_advisor = _access_advisor_after
with_home_account = _with_home_account
