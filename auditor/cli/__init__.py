"""The command line: one module per command group; each command parses, calls one library function, prints.

Exit status (``auditor.exit_codes``, CONTRACT.md): 0 complete, 1 findings
at or above --fail-on (or a check that does not hold), 2 bad configuration
or input, 3 completed with something unread. Nothing outside this package
imports it; ``auditor.cli:main`` is the console entry point.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

import botocore.exceptions

from auditor import __version__, heap
from auditor.aws import EndpointUnreachable
from auditor.cli import (
    audit,
    campaign,
    check,
    db,
    demo,
    event,
    explain,
    export,
    metrics,
    remediate,
    rules,
    run,
    scheduler,
    serve,
)
from auditor.cli.common import UsageError, parse_time
from auditor.collect.hr import HrFeedError
from auditor.config import ConfigError
from auditor.exit_codes import EXIT_BAD_INPUT, EXIT_OK
from auditor.schedule.locks import LockHeld
from auditor.snapshot import SnapshotError
from auditor.store import StoreError
from auditor.store.urls import redact

__all__ = ["EXAMPLES", "HANDLERS", "UsageError", "build_parser", "main", "parse_time"]

GROUPS = (demo, run, rules, explain, check, event, export, campaign, remediate, scheduler, serve, audit, db, metrics)
EXAMPLES: dict[str, str] = {name: text for group in GROUPS for name, text in group.EXAMPLES.items()}

HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "demo": demo.cmd_demo,
    "sandbox": demo.cmd_sandbox,
    "run": run.cmd_run,
    "collect": run.cmd_collect,
    "analyze": run.cmd_analyze,
    "rules": rules.cmd_rules,
    "explain": explain.cmd_explain,
    "check": check.cmd_check,
    "event": event.cmd_event,
    "export": export.cmd_export,
    "audit": audit.cmd_audit,
    "campaign": campaign.handle,
    "remediate": remediate.handle,
    "scheduler": scheduler.handle,
    "db": db.handle,
    "serve": serve.cmd_serve,
    "metrics": metrics.cmd_metrics,
}

# bad input of any command: exit 2 with one line naming what is wrong
BAD_INPUT = (ConfigError, HrFeedError, SnapshotError, StoreError, UsageError, LockHeld)
NO_CREDENTIALS = (
    botocore.exceptions.NoCredentialsError,
    botocore.exceptions.PartialCredentialsError,
    botocore.exceptions.ProfileNotFound,
    botocore.exceptions.NoRegionError,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="auditor",
        description="Access reviews and hygiene for AWS Organizations, IAM Identity Center and IAM.",
        epilog="Start with: auditor demo",
    )
    parser.add_argument("--version", action="version", version=f"auditor {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in GROUPS:
        group.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    heap.left_to_exit()
    args = build_parser().parse_args(argv)
    try:
        return HANDLERS[args.command](args)
    except BAD_INPUT as exc:
        print(f"auditor: error: {redact(str(exc))}", file=sys.stderr)  # a database URL's password never shows
        return EXIT_BAD_INPUT
    except EndpointUnreachable as exc:  # nothing could be read: no run, no findings
        print(f"auditor: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except NO_CREDENTIALS as exc:
        print(f"auditor: error: {exc} (see README: Pointing it at a real organisation)", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("auditor: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`| head`, `| grep -q`): stop quietly, and keep the interpreter's
        # final flush from writing to the closed pipe too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
