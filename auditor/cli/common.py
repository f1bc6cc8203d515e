"""What every command shares: its parser (with a runnable example), the common options, settings, the store.

Option bundles: ``add_config``/``add_state`` on every command that reads
config.toml or the state store, ``add_run_inputs`` (--config --out
--hr-feed --as-of --state) on the commands that collect, ``add_format`` and
``emit`` on every listing command (table, json, csv the same way).
"""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditor import configure
from auditor.config import Settings
from auditor.report.findings_csv import neutralise
from auditor.store import Store

Commands = argparse._SubParsersAction


class UsageError(Exception):
    """A bad command-line value; exit 2."""


def add_command(commands: Commands, name: str, help_text: str, example: str, more: str = "") -> argparse.ArgumentParser:
    """A command's parser; its help ends with a runnable example (and ``more`` of them)."""
    return commands.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=f"example: {example}" + (f"\nmore examples:\n{more}" if more else ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="settings file (default ./config.toml if present)")


def add_state(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state",
        help="state store: a SQLite path or SQLAlchemy URL (default [state] url, else $XDG_DATA_HOME/auditor/state.db)",
    )


def add_run_inputs(parser: argparse.ArgumentParser) -> None:
    """--config --out --hr-feed --as-of --state: what a command that collects from AWS reads and writes."""
    parser.add_argument(
        "--config", type=Path, help="settings file (default ./config.toml; optional: defaults and discovery without it)"
    )
    parser.add_argument("--out", type=Path, help="output directory (default [output] dir, ./auditor-out)")
    parser.add_argument("--hr-feed", type=Path, help="HR CSV (default [hr] feed)")
    parser.add_argument("--as-of", help="ISO 8601 time every time-based rule is evaluated at (default now)")
    add_state(parser)


def add_format(parser: argparse.ArgumentParser, choices: Iterable[str] = ("table", "json", "csv")) -> None:
    """--format for a listing command; the first choice is the default."""
    choices = list(choices)
    parser.add_argument("--format", choices=choices, default=choices[0], help=f"output format (default {choices[0]})")


def emit(fmt: str, data: Any, table: Callable[[], None]) -> None:
    """Print ``data`` as JSON or CSV (a list of flat dicts), or call ``table`` to print it for people."""
    if fmt == "json":
        print(json.dumps(data, indent=2, default=str))
    elif fmt == "csv":
        if data:  # no rows: no columns to name either
            writer = csv.DictWriter(sys.stdout, fieldnames=list(data[0]), lineterminator="\n")
            writer.writeheader()
            # names come from people: a cell a spreadsheet would evaluate is neutralised
            writer.writerows({k: neutralise(v) if isinstance(v, str) else v for k, v in row.items()} for row in data)
    else:
        table()


def aligned(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as lines of columns each as wide as its widest cell (a long cron or name never shifts the rest)."""
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))] if rows else []
    return ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def parse_time(text: str, option: str = "--as-of") -> datetime:
    """ISO 8601 time or date; a date is its midnight UTC, a time without zone is UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"{option} {text!r} is not an ISO 8601 time (e.g. 2026-11-28T06:00:00Z)") from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def as_of(args: argparse.Namespace) -> datetime | None:
    """--as-of, or None for the command's own default."""
    return parse_time(args.as_of) if args.as_of else None


def settings(args: argparse.Namespace) -> Settings:
    """The given --config must exist; the default ./config.toml is optional."""
    if args.config is None:
        return configure.load(Path("config.toml"), required=False)
    return configure.load(args.config, required=True)


def open_store(args: argparse.Namespace, settings: Settings) -> Store:
    """--state, else [state] url, else the default SQLite file; its key file as [state] audit_key_file says."""
    return Store.open(
        args.state or settings.get("state", "url") or None,
        key_file=settings.key_file(),
        auto_upgrade=settings.get("state", "auto_upgrade"),
    )


def settings_and_store(args: argparse.Namespace) -> tuple[Settings, Store]:
    loaded = settings(args)
    return loaded, open_store(args, loaded)


def actor(prefix: str | None = "cli") -> str:
    """Who is acting, for the audit log: the login name behind the command (``cli:NAME``)."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        return prefix or "auditor"
    return f"{prefix}:{name}" if prefix else name


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
