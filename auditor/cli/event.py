"""`auditor event FILE`: accept an HR lifecycle event (or an EventBridge envelope) from a JSON file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from auditor.cli import common
from auditor.events.intake import Services, accept
from auditor.exit_codes import EXIT_BAD_INPUT, EXIT_OK

EXAMPLES = {"event": "auditor event leaver.json --hr-feed hr.csv --out ./events"}


def register(commands: common.Commands) -> None:
    parser = common.add_command(
        commands,
        "event",
        "Accept an HR lifecycle event (JSON, schema in docs/hr-event.schema.json): check the person and act.",
        EXAMPLES["event"],
    )
    parser.add_argument("file", type=Path, help="the event as JSON ('-' reads standard input)")
    common.add_run_inputs(parser)


def cmd_event(args: argparse.Namespace) -> int:
    settings, store = common.settings_and_store(args)
    try:
        payload = sys.stdin.read() if str(args.file) == "-" else args.file.read_bytes()
    except OSError as exc:
        raise common.UsageError(f"{args.file}: cannot read the event: {exc}") from exc
    services = Services(hr_feed=args.hr_feed, out_dir=settings.output_dir(args.out) / "events", actor=common.actor())
    outcome = accept(
        payload, store=store, settings=settings, origin="cli", now=common.as_of(args) or common.now(), services=services
    )
    print(json.dumps(outcome.to_json(), indent=2, default=str))
    if outcome.status == "rejected":
        print(f"auditor: error: {args.file}: {outcome.reason} (kept as dead letter)", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK
