"""`auditor check PERSON`: one identity collected and evaluated now (user name, email or employee id)."""

from __future__ import annotations

import argparse
import json
import sys

from auditor.cli import common
from auditor.cli.summary import SEVERITIES
from auditor.events.check import NoSuchPerson, check_person
from auditor.events.person import Who
from auditor.exit_codes import EXIT_ATTENTION, EXIT_BAD_INPUT, EXIT_OK
from auditor.model import Severity
from auditor.pipeline import as_of_now

EXAMPLES = {"check": "auditor check alice@example.com --hr-feed hr.csv --out ./check"}


def register(commands: common.Commands) -> None:
    parser = common.add_command(
        commands,
        "check",
        "Collect and evaluate one person now: their Identity Center user, groups, assignments and owned IAM users.",
        EXAMPLES["check"],
    )
    parser.add_argument("person", help="a user name, email or employee id")
    common.add_run_inputs(parser)
    parser.add_argument("--fail-on", choices=SEVERITIES, help="exit 1 when a live finding is at or above this severity")
    common.add_format(parser, ("table", "json"))


def cmd_check(args: argparse.Namespace) -> int:
    settings, store = common.settings_and_store(args)
    out = args.out
    try:
        result = check_person(
            Who(query=args.person),
            settings=settings,
            store=store,
            as_of=common.as_of(args) or as_of_now(),
            hr_feed=args.hr_feed,
            out_dir=out,
        )
    except NoSuchPerson as exc:
        print(f"auditor: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    live = result.live()
    if args.format == "json":
        print(json.dumps({**result.summary(), "calls": result.calls, "live": [f.finding_id for f in live]}, indent=2))
    else:
        summary = result.summary()
        print(
            f"{summary['idc_user'] or summary['person']}: {summary['findings']} finding(s) "
            f"({summary['new']} new, {summary['resolved']} resolved), {summary['api_calls']} API calls, "
            f"{summary['seconds']} s, recorded as run {summary['run_id']}"
        )
        for finding in live:
            where = f" [{finding.account_id}]" if finding.account_id else ""
            print(f"  {finding.severity:<8} {finding.rule_id:<36} {finding.title}{where}")
        for name, path in result.outputs.items():
            print(f"{name}: {path}")
    if args.fail_on and any(Severity(f.severity).rank >= Severity(args.fail_on).rank for f in live):
        return EXIT_ATTENTION
    return EXIT_OK
