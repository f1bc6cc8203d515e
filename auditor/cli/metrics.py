"""`auditor metrics`: lifecycle effectiveness over the state store's recorded runs."""

from __future__ import annotations

import argparse
import sys

from auditor.cli import common
from auditor.exit_codes import EXIT_OK
from auditor.metrics import compute
from auditor.metrics import render as rendering

EXAMPLES = {"metrics": "auditor metrics --since 2026-10-01 --format table"}
RENDERERS = {"table": rendering.table, "json": rendering.to_json, "csv": rendering.to_csv, "html": rendering.html}


def register(commands: common.Commands) -> None:
    parser = common.add_command(
        commands,
        "metrics",
        "Lifecycle effectiveness: time to deprovision, movers, joiners, backlog, reviews, remediation.",
        EXAMPLES["metrics"],
    )
    parser.add_argument("--since", help="only runs (and weeks) from this date on, ISO 8601 (default: every run)")
    common.add_format(parser, tuple(RENDERERS))
    common.add_config(parser)
    common.add_state(parser)


def cmd_metrics(args: argparse.Namespace) -> int:
    settings, store = common.settings_and_store(args)
    since = common.parse_time(args.since, "--since") if args.since else None
    rules = settings.section("rules")
    metrics = compute(
        store, department_groups=rules["department_groups"], shared_groups=rules["shared_groups"], since=since
    )
    sys.stdout.write(RENDERERS[args.format](metrics))
    return EXIT_OK
