"""Loading settings completely: the file's syntax and types (auditor.config), then what only the
higher floors know (the rule ids that [rules] disabled and exceptions name, the scheduler's jobs).

Every entry point loads settings here, so a typo in a rule id or a cron expression is an error
naming the file and key before any AWS call, whichever command or job reads the file.
"""

from __future__ import annotations

from pathlib import Path

from auditor import config
from auditor.config import ConfigError, Settings
from auditor.rules import RULES
from auditor.schedule.jobs import JobConfigError, parse_jobs


def load(path: Path | None, *, required: bool = False) -> Settings:
    """``path`` validated through and through; a missing file gives the defaults unless ``required``."""
    settings = config.load(path, required=required)
    check(settings)
    return settings


def check(settings: Settings) -> None:
    """Raise ConfigError, naming the file and key, for rule ids and jobs that do not exist or do not parse."""
    where = str(settings.source) if settings.source else "(defaults)"
    unknown = [rule for rule in settings.get("rules", "disabled") if rule not in RULES]
    if unknown:
        raise ConfigError(f"{where}: rules.disabled names unknown rules {unknown} (see `auditor rules`)")
    for number, entry in enumerate(settings.exceptions, start=1):
        if entry["rule"] != "*" and entry["rule"] not in RULES:
            raise ConfigError(
                f"{where}: exceptions[{number}].rule names unknown rules {[entry['rule']]} (see `auditor rules`)"
            )
    if settings.get("scheduler", "jobs"):
        try:
            parse_jobs(settings.get("scheduler", "jobs"), settings.values)
        except JobConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
