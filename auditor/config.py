"""config.toml -> validated ``Settings``; every error names the file and key.

The schema below is the single source of truth for every setting, its type
and its default; config.toml at the top of the repository documents the
same settings and a test keeps the two in agreement. Validation happens
before any AWS call, so a typo never costs a half-finished run.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_BREAK_GLASS_PATTERNS = ["breakglass", "break-glass", "break_glass", "emergency"]


class ConfigError(Exception):
    """Bad configuration: the message names the file and the key."""


@dataclass(frozen=True)
class Option:
    type: type | tuple[type, ...]
    default: Any
    check: Any = None  # callable(value) -> error text or None
    item_type: type | None = None  # for lists


def _positive(value: int) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _account_ids(values: list[str]) -> str | None:
    bad = [v for v in values if not re.fullmatch(r"\d{12}", v)]
    return f"not 12-digit account ids: {bad}" if bad else None


def _one_of(*choices: str):
    def check(value: str) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


def _known_rules(values: list[str]) -> str | None:
    from auditor.rules import RULES  # late: the rules import this module's types

    unknown = [v for v in values if v not in RULES]
    return f"names unknown rules {unknown} (see `auditor rules`)" if unknown else None


SCHEMA: dict[str, dict[str, Option]] = {
    "aws": {
        "region": Option(str, ""),
        "profile": Option(str, ""),
        "member_role_name": Option(str, "OrganizationAccountAccessRole"),
        "external_id": Option(str, ""),
        "max_attempts": Option(int, 10, _positive),
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
    },
    "hr": {
        "feed": Option(str, ""),
    },
    "rules": {
        "inactive_days": Option(int, 90, _positive),
        "never_signed_in_days": Option(int, 30, _positive),
        "access_key_unused_days": Option(int, 45, _positive),
        "access_key_max_age_days": Option(int, 90, _positive),
        "production_environments": Option(list, ["production", "prod"], None, str),
        "break_glass_patterns": Option(list, DEFAULT_BREAK_GLASS_PATTERNS, None, str),
        "service_accounts": Option(list, [], None, str),
        "disabled": Option(list, [], _known_rules, str),
    },
    "output": {
        "dir": Option(str, "auditor-out"),
        "fail_on": Option(str, "", _one_of("", "critical", "high", "medium", "low", "info")),
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

    def get(self, section: str, key: str) -> Any:
        return self.values[section][key]


def defaults() -> Settings:
    return Settings(values={s: {k: _copy(o.default) for k, o in opts.items()} for s, opts in SCHEMA.items()})


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


def validate(data: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    values = defaults().values
    for section, body in data.items():
        if section not in SCHEMA:
            raise ConfigError(f"{where}: unknown section [{section}] (known: {', '.join(SCHEMA)})")
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
    if option.check is not None:
        problem = option.check(value)
        if problem:
            raise ConfigError(f"{name} {problem}, got {value!r}")
    return value


def _type_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", list: "a list", bool: "true or false", float: "a number"}
    return names.get(kind, getattr(kind, "__name__", str(kind)))


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value
