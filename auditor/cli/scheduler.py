"""`auditor scheduler [--list] [--run JOB]`: parse, call one function, print.

Exit status: 0 done (or stopped by SIGTERM); 1 a job run with ``--run``
failed or was skipped (its lock held, or the occurrence claimed
elsewhere); 2 bad configuration; 3 a job ran but incompletely.
"""

from __future__ import annotations

import argparse
import sys

from auditor.cli import common
from auditor.config import ConfigError
from auditor.exit_codes import EXIT_ATTENTION, EXIT_BAD_INPUT, EXIT_INCOMPLETE, EXIT_OK
from auditor.report.common import format_time
from auditor.schedule.clock import Clock, system_clock
from auditor.schedule.logs import configure_logging
from auditor.schedule.service import SchedulerService

HELP = "Run the configured jobs on their schedules: nightly runs, quarterly campaigns, reminders, closing, retention."
EXAMPLES = {"scheduler": "auditor scheduler --config config.toml --log-format json"}
MORE = """\
  auditor scheduler --list
  auditor scheduler --run nightly        # one occurrence now, under the same locks (e.g. from cron)
"""


def register(commands: common.Commands) -> None:
    parser = common.add_command(commands, "scheduler", HELP, EXAMPLES["scheduler"], MORE)
    common.add_config(parser)
    common.add_state(parser)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--list", action="store_true", help="print each job with its next fire time, and exit")
    mode.add_argument("--run", metavar="JOB", help="run this job once now (under its locks), and exit")
    parser.add_argument(
        "--log-format", choices=["text", "json"], help="log lines as text or JSON (default [scheduler] log_format)"
    )


def handle(args: argparse.Namespace, *, clock: Clock = system_clock) -> int:
    settings, store = common.settings_and_store(args)
    service = SchedulerService(settings, store, clock=clock)
    if args.list:
        print_listing(service)
        print(f"state store: {store.display_url}", file=sys.stderr)  # stdout stays the listing
        return EXIT_OK
    configure_logging(args.log_format or settings.get("scheduler", "log_format"))
    if args.run:
        if args.run not in service.jobs:
            raise ConfigError(
                f"no job {args.run!r} in [[scheduler.jobs]] (configured: {', '.join(service.jobs) or 'none'})"
            )
        result = service.fire_now(args.run)
        print(f"{result.job_id}: {result.status}")
        for key, value in result.detail.items():
            print(f"  {key}: {value}")
        return {"ok": EXIT_OK, "incomplete": EXIT_INCOMPLETE}.get(result.status, EXIT_ATTENTION)
    if not service.jobs:
        print("auditor: no jobs configured ([[scheduler.jobs]] in config.toml); nothing to schedule", file=sys.stderr)
        return EXIT_BAD_INPUT
    return service.serve()


def print_listing(service: SchedulerService) -> None:
    listing = service.listing()
    if not listing:
        print("no jobs configured ([[scheduler.jobs]] in config.toml)")
        return
    rows = [("job", "kind", "cron", "time zone", "next fire (UTC)", "last")]
    for item in listing:
        job = item.job
        next_fire = format_time(item.next_fire) if item.next_fire else "disabled"
        last = (
            f"{item.last['status']} (scheduled {item.last['scheduled_at']:%Y-%m-%dT%H:%M:%S})" if item.last else "never"
        )
        rows.append((job.id, job.kind, job.cron, job.timezone, next_fire, last))
    for line in common.aligned(rows):
        print(line)
