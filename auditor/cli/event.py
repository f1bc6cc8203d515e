"""`auditor event FILE`: accept an HR lifecycle event (or an EventBridge envelope) from a JSON file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from auditor.cli import common
from auditor.events.intake import Services, accept, decide
from auditor.events.workflow import WorkflowError
from auditor.exit_codes import EXIT_BAD_INPUT, EXIT_OK

EXAMPLES = {"event": "auditor event leaver.json --hr-feed hr.csv --out ./events"}
MORE = (
    "  auditor event --approve hr-2026-11-02-0001    apply an offboarding that awaits approval\n"
    "  auditor event --deny hr-2026-11-02-0001 --reason 'rehired'"
)


def register(commands: common.Commands) -> None:
    parser = common.add_command(
        commands,
        "event",
        "Accept an HR lifecycle event (JSON, schema in docs/hr-event.schema.json): check the person and act.",
        EXAMPLES["event"],
        MORE,
    )
    parser.add_argument("file", type=Path, nargs="?", help="the event as JSON ('-' reads standard input)")
    decision = parser.add_mutually_exclusive_group()
    decision.add_argument("--approve", metavar="EVENT_ID", help="approve the offboarding this leaver event planned")
    decision.add_argument("--deny", metavar="EVENT_ID", help="deny it: nothing is changed, the manager is told")
    parser.add_argument("--reason", help="why (recorded with a denial)")
    common.add_run_inputs(parser)


def cmd_event(args: argparse.Namespace) -> int:
    settings, store = common.settings_and_store(args)
    if args.approve or args.deny:
        return _decide(args, settings, store)
    if args.file is None:
        raise common.UsageError("give an event FILE, or --approve/--deny EVENT_ID")
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


def _decide(args: argparse.Namespace, settings, store) -> int:
    event_id = args.approve or args.deny
    services = Services(actor=common.actor())
    try:
        done = decide(
            event_id,
            approve=bool(args.approve),
            by=common.actor(),
            store=store,
            settings=settings,
            services=services,
            now=common.now(),
            reason=args.reason,
        )
    except WorkflowError as exc:
        raise common.UsageError(str(exc)) from exc
    print(json.dumps({k: v for k, v in done.items() if k not in ("retention_record", "task_token")}, indent=2))
    return EXIT_OK
