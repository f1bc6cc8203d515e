"""Jobs from config.toml: ``[[scheduler.jobs]]`` tables -> ``Job``, each with its cron trigger and time zone.

Every job names a kind; the kinds and the options each accepts are data
here, so configuration is checked (and every error names the job and the
key) before the scheduler starts. Triggers are APScheduler 3 cron
triggers; their fire times are computed from explicit times, never from
the wall clock, so tests and ``--list`` ask them directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from auditor.campaign.close import parse_policy
from auditor.campaign.model import CampaignError
from auditor.campaign.reviewers import parse_mode
from auditor.campaign.scope import parse_scopes

REQUIRED = object()
COMMON: dict[str, tuple[type, Any]] = {
    "id": (str, REQUIRED),
    "kind": (str, REQUIRED),
    "cron": (str, REQUIRED),
    "timezone": (str, ""),  # empty: [scheduler] timezone
    "enabled": (bool, True),
}
# kind -> its own options and their defaults (0 / "" mean "from the related config section")
KINDS: dict[str, dict[str, tuple[type, Any]]] = {
    # the nightly run: collect, analyze, record, report; then the digest
    "run": {"out_dir": (str, ""), "hr_feed": (str, ""), "notify": (bool, True)},
    # the quarterly campaign over the latest recorded run
    "campaign": {
        "name": (str, "{year} Q{quarter} access review"),
        "scopes": (list, []),
        "reviewer": (str, "manager"),
        "duration_days": (int, 0),
        "privileged_only": (bool, False),
        "max_run_age_hours": (int, 36),
        "packets_dir": (str, "campaign-packets"),
        "send": (bool, True),
    },
    # reminders before the due date, escalations after it, for every open campaign
    "remind": {},
    # close every open campaign due at least after_days ago, settling undecided items by policy
    "close": {"undecided": (str, REQUIRED), "after_days": (int, 0), "evidence_dir": (str, "campaign-evidence")},
    # delete run output directories older than keep_days (never the latest run, never one under review)
    "retention": {"keep_days": (int, REQUIRED)},
}
# One job of a kind at a time: the locks each kind holds while it works. A manual `auditor run`
# takes "run" too; retention takes "run" so it never deletes beside a run that is writing.
LOCKS: dict[str, tuple[str, ...]] = {
    "run": ("run",),
    "campaign": ("campaign",),
    "remind": ("campaign",),
    "close": ("campaign",),
    "retention": ("retention", "run"),
}
NAME_FIELDS = {"year": 2026, "quarter": 4, "month": 11, "date": "2026-11-02"}
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


class JobConfigError(ValueError):
    """A job table that cannot be scheduled; the message names the job and the key."""


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    cron: str
    timezone: str
    enabled: bool = True
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def locks(self) -> tuple[str, ...]:
        return LOCKS[self.kind]

    def trigger(self) -> CronTrigger:
        return CronTrigger.from_crontab(self.cron, timezone=ZoneInfo(self.timezone))

    def next_fire_time(self, after: datetime) -> datetime | None:
        """The first fire time at or after ``after`` (timezone-aware)."""
        return self.trigger().get_next_fire_time(None, _aware(after))

    def latest_occurrence(self, now: datetime, grace_seconds: float) -> datetime | None:
        """The last fire time in (now - grace, now]: the occurrence a due job stands for (misfires coalesced)."""
        trigger = self.trigger()
        fire = trigger.get_next_fire_time(None, _aware(now) - timedelta(seconds=grace_seconds))
        latest = None
        while fire is not None and fire <= now:
            latest = fire
            fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
        return latest


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: times must be timezone-aware")
    return value


def check_cron(text: str) -> str | None:
    """Five fields (minute hour day month day-of-week); weekdays by name (see below); None when valid."""
    fields = text.split()
    if len(fields) != 5:
        return f"cron {text!r} must have 5 fields (minute hour day month day-of-week)"
    # APScheduler 3 numbers weekdays from Monday (0) where cron numbers them from Sunday (0):
    # a number would silently run on the wrong day, so only names are accepted.
    if re.search(r"\d", fields[4]):
        return f"cron {text!r}: give the day of week by name (mon-fri, sun), not by number"
    try:
        CronTrigger.from_crontab(text, timezone=ZoneInfo("UTC"))
    except ValueError as exc:
        return f"cron {text!r}: {exc}"
    return None


def parse_jobs(entries: list[Any], values: dict[str, dict[str, Any]]) -> list[Job]:
    """Validate ``[[scheduler.jobs]]`` and fill each job's defaults; raises ``JobConfigError``."""
    jobs: list[Job] = []
    for number, entry in enumerate(entries, start=1):
        where = f"scheduler.jobs[{number}]"
        if not isinstance(entry, dict):
            raise JobConfigError(f"{where} must be a table ([[scheduler.jobs]])")
        if isinstance(entry.get("id"), str):
            where += f" (id {entry['id']!r})"
        kind = entry.get("kind")
        if kind not in KINDS:
            raise JobConfigError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
        known = {**COMMON, **KINDS[kind]}
        for key in entry:
            if key not in known:
                raise JobConfigError(f"{where}: unknown key {key} for a {kind} job (known: {', '.join(known)})")
        checked: dict[str, Any] = {}
        for key, (kind_of, default) in known.items():
            if key not in entry:
                if default is REQUIRED:
                    raise JobConfigError(f"{where}: missing {key}")
                checked[key] = list(default) if isinstance(default, list) else default
                continue
            value = entry[key]
            if isinstance(value, bool) and kind_of is not bool or not isinstance(value, kind_of):
                raise JobConfigError(f"{where}.{key} must be of type {kind_of.__name__}, got {value!r}")
            checked[key] = value
        _check_values(checked, where)
        if any(job.id == checked["id"] for job in jobs):
            raise JobConfigError(f"{where}: id {checked['id']!r} is used by another job")
        options = {k: v for k, v in checked.items() if k not in COMMON}
        if kind == "campaign" and not options["duration_days"]:
            options["duration_days"] = values["campaigns"]["default_duration_days"]
        jobs.append(
            Job(
                id=checked["id"],
                kind=kind,
                cron=checked["cron"],
                timezone=checked["timezone"] or values["scheduler"]["timezone"],
                enabled=checked["enabled"],
                options=options,
            )
        )
    return jobs


def _check_values(job: dict[str, Any], where: str) -> None:
    if not ID_PATTERN.fullmatch(job["id"]):
        raise JobConfigError(f"{where}.id must be lower-case letters, digits, - or _ (at most 63), got {job['id']!r}")
    problem = check_cron(job["cron"])
    if problem:
        raise JobConfigError(f"{where}.{problem}")
    if job["timezone"]:
        problem = check_timezone(job["timezone"])
        if problem:
            raise JobConfigError(f"{where}.timezone {problem}")
    for key in ("duration_days", "max_run_age_hours", "after_days", "keep_days"):
        least = 1 if key == "keep_days" else 0
        if key in job and job[key] < least:
            raise JobConfigError(f"{where}.{key} must be {least} or more, got {job[key]}")
    if job["kind"] == "campaign":
        try:
            job["name"].format(**NAME_FIELDS)
        except (KeyError, IndexError, ValueError) as exc:
            fields = ", ".join("{" + k + "}" for k in NAME_FIELDS)
            raise JobConfigError(f"{where}.name {job['name']!r}: the fields a name may use are {fields}") from exc
        if not all(isinstance(s, str) for s in job["scopes"]):
            raise JobConfigError(f"{where}.scopes must be a list of strings, got {job['scopes']!r}")
    try:
        if job["kind"] == "campaign":
            parse_mode(job["reviewer"])
            parse_scopes(job["scopes"])
        if job["kind"] == "close" and parse_policy(job["undecided"])[0] is None:
            raise CampaignError(f"undecided {job['undecided']!r}: expected revoke, keep_flagged or extend:DAYS")
    except CampaignError as exc:
        raise JobConfigError(f"{where}: {exc}") from exc


def check_timezone(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{name!r} is not an IANA time zone (e.g. UTC, Europe/Paris, America/New_York)"
    return None


def campaign_name(pattern: str, when: datetime) -> str:
    """The quarterly campaign's name: {year}, {quarter}, {month}, {date} of its creation time."""
    return pattern.format(year=when.year, quarter=(when.month - 1) // 3 + 1, month=when.month, date=when.date())


def jobs_from_settings(settings) -> list[Job]:
    return parse_jobs(settings.get("scheduler", "jobs"), settings.values)
