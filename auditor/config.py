"""config.toml -> validated ``Settings``; every error names the file and key.

The schema below is the single source of truth for every setting, its type
and its default; config.toml at the top of the repository documents the
same settings and a test keeps the two in agreement. Validation happens
before any AWS call, so a typo never costs a half-finished run.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

# What this tool exists to do unattended, scheduled when config.toml names no [[scheduler.jobs]]:
# the nightly run, the quarterly campaign, weekday reminders, the daily close of due campaigns.
STANDARD_JOBS = [
    {"id": "nightly", "kind": "run", "cron": "0 2 * * *"},
    {"id": "quarterly-review", "kind": "campaign", "cron": "0 6 1 jan,apr,jul,oct *"},
    {"id": "reminders", "kind": "remind", "cron": "0 8 * * mon-fri"},
    {"id": "close-due", "kind": "close", "cron": "0 9 * * *", "undecided": "keep_flagged"},
]
DEFAULT_BREAK_GLASS_PATTERNS = ["breakglass", "break-glass", "break_glass", "emergency"]


class ConfigError(Exception):
    """Bad configuration: the message names the file and the key."""


@dataclass(frozen=True)
class Option:
    type: type | tuple[type, ...]
    default: Any
    check: Any = None  # callable(value) -> error text or None
    item_type: type | None = None  # for lists
    fields: dict[str, Option] | None = None  # for a sub-table ([section.key]): its own keys, defaults filled in


def _positive(value: int) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _not_negative(value: int) -> str | None:
    return None if value >= 0 else "must be 0 (off) or more"


def _share(value: float) -> str | None:
    return None if 0 < value <= 1 else "must be a fraction between 0 and 1 (e.g. 0.05 for 5%)"


def _account_ids(values: list[str]) -> str | None:
    bad = [v for v in values if not re.fullmatch(r"\d{12}", v)]
    return f"not 12-digit account ids: {bad}" if bad else None


def _one_of(*choices: str):
    def check(value: str) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


def _at_least(least: int):
    def check(value: int) -> str | None:
        return None if value >= least else f"must be {least} or more"

    return check


def _each_one_of(*choices: str):
    def check(values: list[str]) -> str | None:
        bad = [v for v in values if v not in choices]
        return f"may hold only {', '.join(choices)}; not {bad}" if bad else None

    return check


def _timezone(value: str) -> str | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return "is not an IANA time zone (e.g. UTC, Europe/Paris)"
    return None


def _s3_uri(value: str) -> str | None:
    if not value or re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?", value):
        return None
    return "must be an s3://bucket/prefix/ location"


def _regions(values: list[str]) -> str | None:
    bad = [v for v in values if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", v)]
    return f"not AWS region names: {bad}" if bad else None


def _athena_name(value: str) -> str | None:
    return None if re.fullmatch(r"[a-z0-9_]{1,255}", value) else "must be lower-case letters, digits and _"


def _department_groups(value: dict) -> str | None:
    bad = [k for k, v in value.items() if not (isinstance(v, list) and all(isinstance(g, str) for g in v))]
    return f"must map each department to a list of group names; not so for {bad}" if bad else None


def _owner_teams(values: list[str]) -> str | None:
    bad = [v for v in values if "@" not in v or ("*" in v and not re.fullmatch(r"\*@[^@*\s]+", v))]
    return f"must be team addresses or *@domain patterns; not {bad}" if bad else None


SCHEMA: dict[str, dict[str, Option]] = {
    "aws": {
        "region": Option(str, ""),
        "profile": Option(str, ""),
        "member_role_name": Option(str, "AuditorCollector"),
        "remediation_role_name": Option(str, "AuditorRemediation"),
        "rollback_role_name": Option(str, "AuditorRollback"),
        "rightsize_role_name": Option(str, "AuditorRightsize"),
        "external_id": Option(str, ""),
        "max_attempts": Option(int, 15, _positive),
        "max_workers": Option(int, 8, _positive),
    },
    "organizations": {
        "include_accounts": Option(list, [], _account_ids, str),
        "exclude_accounts": Option(list, [], _account_ids, str),
    },
    "identity_center": {
        "instance_arn": Option(str, ""),
        "identity_store_id": Option(str, ""),
    },
    "cloudtrail": {
        "bucket": Option(str, ""),
        "prefix": Option(str, ""),
        "organization_id": Option(str, ""),
        "lookback_days": Option(int, 120, _positive),
        "read": Option(str, "needed", _one_of("needed", "all")),
        "incremental": Option(bool, True),
        "overlap_hours": Option(int, 24, _positive),
        "engine": Option(str, "s3", _one_of("s3", "athena")),
        "athena": Option(
            dict,
            None,
            fields={
                "workgroup": Option(str, "primary"),
                "database": Option(str, "default", _athena_name),
                "table": Option(str, "auditor_cloudtrail", _athena_name),
                "output_location": Option(str, "", _s3_uri),
                "regions": Option(list, [], _regions, str),
                "timeout_seconds": Option(int, 1800, _positive),
            },
        ),
    },
    "access_advisor": {
        "enabled": Option(bool, True),
        "timeout_seconds": Option(int, 600, _positive),
    },
    "hr": {
        "feed": Option(str, ""),
        "max_dropped_share": Option(float, 0.1, _share),
    },
    "rules": {
        "inactive_days": Option(int, 90, _positive),
        "never_signed_in_days": Option(int, 30, _positive),
        "access_key_unused_days": Option(int, 45, _positive),
        "access_key_max_age_days": Option(int, 90, _positive),
        "unused_assignment_days": Option(int, 90, _positive),
        "iam_user_inactive_days": Option(int, 90, _positive),
        "role_unused_days": Option(int, 90, _positive),
        "unused_service_days": Option(int, 90, _positive),
        "root_use_days": Option(int, 90, _positive),
        "emergency_review_days": Option(int, 30, _positive),
        "leave_activity_days": Option(int, 7, _positive),
        "department_groups": Option(dict, {}, _department_groups),
        "shared_groups": Option(list, [], None, str),
        "production_environments": Option(list, ["production", "prod"], None, str),
        "break_glass_patterns": Option(list, DEFAULT_BREAK_GLASS_PATTERNS, None, str),
        "service_accounts": Option(list, [], None, str),
        "owner_teams": Option(list, [], _owner_teams, str),
        "provisioning_principals": Option(list, [], None, str),
        "anomaly_days": Option(int, 30, _positive),
        "admin_grant_hours": Option(int, 24, _positive),
        "grant_burst_factor": Option(int, 5, _positive),
        "grant_burst_min": Option(int, 10, _positive),
        "disabled": Option(list, [], None, str),  # rule ids: checked by auditor.configure
    },
    "campaigns": {
        "fallback_reviewer": Option(str, ""),
        "default_duration_days": Option(int, 21, _positive),
        "reminder_days_before_due": Option(list, [7, 3, 1], None, int),
        "escalate_days_after_due": Option(list, [1, 7], None, int),
        "delivery": Option(str, "outbox", _one_of("outbox", "ses", "slack")),
        "outbox_dir": Option(str, "auditor-outbox"),
        "ses_sender": Option(str, ""),
        "slack_webhook_url": Option(str, ""),
        "micro_certification": Option(bool, True),
    },
    "remediation": {
        "max_actions": Option(int, 50, _positive),
        "max_share": Option(float, 0.05, _share),
        "max_actions_per_day": Option(int, 100, _positive),
        "plan_max_age_hours": Option(int, 72, _positive),
        "protected_principals": Option(list, [], None, str),
        "notice_days": Option(int, 14, _positive),
        "disable_inactive_users_after_days": Option(int, 0, _not_negative),
        "deactivate_unused_keys_after_days": Option(int, 0, _not_negative),
        "rightsize_observation_days": Option(int, 90, _positive),
    },
    "state": {
        "url": Option(str, ""),
        "audit_key_file": Option(str, ""),
        "auto_upgrade": Option(bool, True),  # false: a database behind the release waits for `auditor db upgrade`
    },
    "output": {
        "dir": Option(str, "auditor-out"),
        "fail_on": Option(str, "", _one_of("", "critical", "high", "medium", "low", "info")),
    },
    "scheduler": {
        "timezone": Option(str, "UTC", _timezone),
        "misfire_grace_seconds": Option(int, 3600, _positive),
        "lock_lease_seconds": Option(int, 600, _at_least(30)),
        "lock_wait_seconds": Option(int, 300, _not_negative),
        "run_lock_wait_seconds": Option(int, 0, _not_negative),
        "stop_grace_seconds": Option(int, 60, _not_negative),
        "log_format": Option(str, "text", _one_of("text", "json")),
        # [[scheduler.jobs]], checked by auditor.configure; without any, the standard set; `jobs = []`: none
        "jobs": Option(list, STANDARD_JOBS, None, dict),
    },
    "notifications": {
        "channels": Option(list, [], _each_one_of("outbox", "sns", "slack", "ses"), str),
        "min_severity": Option(str, "high", _one_of("critical", "high", "medium", "low", "info")),
        "send_when_unchanged": Option(bool, False),
        "max_listed": Option(int, 50, _positive),
        "report_url": Option(str, ""),
        "outbox_dir": Option(str, "auditor-outbox"),
        "sns_topic_arn": Option(str, ""),
        "slack_webhook_url": Option(str, ""),
        "ses_sender": Option(str, ""),
        "email_to": Option(list, [], None, str),
    },
    "events": {
        "immediate_suspension": Option(bool, False),  # a leaver's offboarding applies at once, without approval
        "hr_event_source": Option(str, "auditor.hr"),  # the EventBridge source HR events are put with
        "retention_bucket": Option(str, ""),  # S3 bucket for the retention copy; empty: retention_dir
        "retention_prefix": Option(str, "offboarding/"),
        "retention_days": Option(int, 2555, _positive),
        "retention_dir": Option(str, "auditor-retention"),
    },
}


@dataclass(frozen=True)
class Settings:
    """Validated settings: ``settings.section("rules")["inactive_days"]``."""

    values: dict[str, dict[str, Any]]
    source: Path | None = None
    raw_text: str = field(default="", repr=False)

    def section(self, name: str) -> dict[str, Any]:
        return self.values[name]

    def digest(self) -> str:
        """A hash of the effective settings, recorded with each run."""
        text = json.dumps(self.values, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def exceptions(self) -> list[dict[str, Any]]:
        return self.values["exceptions"]

    def get(self, section: str, key: str) -> Any:
        return self.values[section][key]

    def overridden(self, section: str, **values: Any) -> Settings:
        """These settings with some of ``section``'s values replaced (a command-line flag over the file)."""
        return replace(self, values={**self.values, section: {**self.values[section], **values}})

    def hr_feed(self, configured: str | None = None) -> Path | None:
        """The HR feed a configured path names (a job's own, else ``[hr] feed``), relative to the config file.

        One rule for `auditor run`, the nightly job and the Lambda handler; a
        feed given on the command line is taken as given instead.
        """
        configured = configured or self.get("hr", "feed")
        if not configured:
            return None
        path = Path(configured)
        if not path.is_absolute() and self.source is not None:
            path = self.source.parent / path
        return path

    def key_file(self) -> Path | None:
        """``[state] audit_key_file`` (relative to the config file), or None for the store's own default."""
        configured = self.get("state", "audit_key_file")
        if not configured:
            return None
        path = Path(configured).expanduser()
        return path if path.is_absolute() or self.source is None else self.source.parent / path

    def output_dir(self, given: Path | None = None) -> Path:
        """Where a run writes: the directory given, else ``[output] dir``."""
        return Path(given) if given is not None else Path(self.get("output", "dir"))


def analysis_toml(settings: Settings) -> str:
    """The settings analysis reads ([rules] and the exceptions) as TOML that loads back to the same values.

    This, not the config file, is what a run keeps beside its snapshot: the file may hold
    delivery secrets (webhook URLs) that must not travel with run directories.
    """
    lines = ["# the settings this snapshot was analysed with: [rules] and exceptions", "", "[rules]"]
    lines += [f"{key} = {_toml(value)}" for key, value in settings.section("rules").items()]
    for entry in settings.exceptions:
        lines += ["", "[[exceptions]]", *(f"{key} = {_toml(value)}" for key, value in entry.items())]
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)} = {_toml(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value), ensure_ascii=False)  # a TOML basic string


def _default(option: Option) -> Any:
    if option.fields is not None:
        return {key: _default(field) for key, field in option.fields.items()}
    return _copy(option.default)


def defaults() -> Settings:
    values: dict[str, Any] = {s: {k: _default(o) for k, o in opts.items()} for s, opts in SCHEMA.items()}
    values["exceptions"] = []
    return Settings(values=values)


def load(path: Path | None, *, required: bool = False) -> Settings:
    """Load ``path``; a missing file gives the defaults unless ``required``."""
    if path is None or not path.exists():
        if required:
            raise ConfigError(f"{path}: config file not found")
        return defaults()
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    return Settings(values=validate(data, str(path)), source=path, raw_text=text)


EXCEPTION_KEYS = {"rule": str, "principal": str, "account_id": str, "owner": str, "justification": str, "expires": date}
EXCEPTION_REQUIRED = ("rule", "principal", "owner", "justification", "expires")


def _exceptions(entries: Any, where: str) -> list[dict[str, Any]]:
    """``[[exceptions]]``: accepted risks, each with an owner, a reason and an expiry."""
    if not isinstance(entries, list):
        raise ConfigError(f"{where}: exceptions must be an array of tables ([[exceptions]])")
    checked = []
    for number, entry in enumerate(entries, start=1):
        name = f"{where}: exceptions[{number}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{name} must be a table")
        for key, value in entry.items():
            if key not in EXCEPTION_KEYS:
                raise ConfigError(f"{name}: unknown key {key} (known: {', '.join(EXCEPTION_KEYS)})")
            kind = EXCEPTION_KEYS[key]
            if kind is date and (isinstance(value, datetime) or not isinstance(value, date)):
                raise ConfigError(f"{name}.{key} must be a TOML date like 2027-03-31, got {value!r}")
            if kind is str and not isinstance(value, str):
                raise ConfigError(f"{name}.{key} must be a string, got {value!r}")
        missing = [key for key in EXCEPTION_REQUIRED if not entry.get(key)]
        if missing:
            raise ConfigError(f"{name}: missing {', '.join(missing)}")
        checked.append(dict(entry))
    return checked


def validate(data: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    values = defaults().values
    for section, body in data.items():
        if section == "exceptions":
            values["exceptions"] = _exceptions(body, where)
            continue
        if section not in SCHEMA:
            raise ConfigError(f"{where}: unknown section [{section}] (known: {', '.join(SCHEMA)}, exceptions)")
        if not isinstance(body, dict):
            raise ConfigError(f"{where}: {section} must be a table ([{section}])")
        for key, value in body.items():
            option = SCHEMA[section].get(key)
            if option is None:
                raise ConfigError(
                    f"{where}: unknown key {section}.{key} (known in [{section}]: {', '.join(SCHEMA[section])})"
                )
            values[section][key] = _checked(option, value, f"{where}: {section}.{key}")
    return values


def _checked(option: Option, value: Any, name: str) -> Any:
    # bool is an int in Python; a config that says `max_workers = true` is wrong.
    if isinstance(value, bool) and option.type is not bool or not isinstance(value, option.type):
        raise ConfigError(f"{name} must be {_type_name(option.type)}, got {type(value).__name__} {value!r}")
    if option.item_type is not None:
        bad = [v for v in value if not isinstance(v, option.item_type)]
        if bad:
            raise ConfigError(f"{name} must be a list of {_type_name(option.item_type)}, got {bad[0]!r}")
    if option.fields is not None:
        return _sub_table(option.fields, value, name)
    if option.check is not None:
        problem = option.check(value)
        if problem:
            raise ConfigError(f"{name} {problem}, got {value!r}")
    return value


def _sub_table(fields: dict[str, Option], body: dict[str, Any], name: str) -> dict[str, Any]:
    """A sub-table's keys checked one by one; those it leaves out keep their defaults."""
    checked = {key: _default(option) for key, option in fields.items()}
    for key, value in body.items():
        if key not in fields:
            raise ConfigError(f"{name}: unknown key {key} (known: {', '.join(fields)})")
        checked[key] = _checked(fields[key], value, f"{name}.{key}")
    return checked


def _type_name(kind: type | tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "an integer",
        list: "a list",
        bool: "true or false",
        float: "a number",
        dict: "a table",
    }
    return names.get(kind, getattr(kind, "__name__", str(kind)))


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return dict(value) if isinstance(value, dict) else value
