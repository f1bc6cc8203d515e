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
from importlib import import_module
from types import ModuleType

import botocore.exceptions

from auditor import __version__, heap
from auditor.aws import EndpointUnreachable
from auditor.cli.common import UsageError, parse_time
from auditor.collect.hr import HrFeedError
from auditor.config import ConfigError
from auditor.exit_codes import EXIT_BAD_INPUT, EXIT_OK
from auditor.schedule.locks import LockHeld
from auditor.snapshot import SnapshotError
from auditor.store import StoreError
from auditor.store.urls import redact

__all__ = ["COMMANDS", "UsageError", "build_parser", "examples", "handler", "main", "parse_time"]

# Each command's module in this package and its handler there, in the order help lists them. A command
# line loads its own module only: `auditor run` never imports the reviewer web app (Starlette, uvicorn)
# nor the campaign commands; help, and a command line naming no known command, load them all.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "cmd_demo"),
    "sandbox": ("demo", "cmd_sandbox"),
    "run": ("run", "cmd_run"),
    "collect": ("run", "cmd_collect"),
    "analyze": ("run", "cmd_analyze"),
    "rules": ("rules", "cmd_rules"),
    "explain": ("explain", "cmd_explain"),
    "check": ("check", "cmd_check"),
    "event": ("event", "cmd_event"),
    "export": ("export", "cmd_export"),
    "campaign": ("campaign", "handle"),
    "remediate": ("remediate", "handle"),
    "scheduler": ("scheduler", "handle"),
    "serve": ("serve", "cmd_serve"),
    "audit": ("audit", "cmd_audit"),
    "db": ("db", "handle"),
    "metrics": ("metrics", "cmd_metrics"),
}
GROUPS = tuple(dict.fromkeys(module for module, _ in COMMANDS.values()))


def _group(module: str) -> ModuleType:
    return import_module(f"{__name__}.{module}")


def handler(command: str) -> Callable[[argparse.Namespace], int]:
    module, name = COMMANDS[command]
    return getattr(_group(module), name)


def examples() -> dict[str, str]:
    """Every command's runnable example, by command."""
    return {name: text for module in GROUPS for name, text in _group(module).EXAMPLES.items()}


# bad input of any command: exit 2 with one line naming what is wrong
BAD_INPUT = (ConfigError, HrFeedError, SnapshotError, StoreError, UsageError, LockHeld)
NO_CREDENTIALS = (
    botocore.exceptions.NoCredentialsError,
    botocore.exceptions.PartialCredentialsError,
    botocore.exceptions.ProfileNotFound,
    botocore.exceptions.NoRegionError,
)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every command's parser, or ``command``'s alone (all a command line naming it needs)."""
    parser = argparse.ArgumentParser(
        prog="auditor",
        description="Access reviews and hygiene for AWS Organizations, IAM Identity Center and IAM.",
        epilog="Start with: auditor demo",
    )
    parser.add_argument("--version", action="version", version=f"auditor {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (COMMANDS[command][0],) if command in COMMANDS else GROUPS:
        _group(module).register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    heap.left_to_exit()
    argv = sys.argv[1:] if argv is None else argv
    named = next((word for word in argv if not word.startswith("-")), None)  # options come after the command
    args = build_parser(named).parse_args(argv)
    try:
        return handler(args.command)(args)
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
