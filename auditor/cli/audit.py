"""`auditor audit verify`: check the audit log's hash chain."""

from __future__ import annotations

import argparse

from auditor.cli import common
from auditor.exit_codes import EXIT_ATTENTION, EXIT_OK

EXAMPLES = {"audit": "auditor audit verify --state ~/.local/share/auditor/state.db"}


def register(commands: common.Commands) -> None:
    audit = common.add_command(commands, "audit", "Check the audit log's hash chain.", EXAMPLES["audit"])
    actions = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = actions.add_parser("verify", help="verify every entry; exit 1 naming the first broken one")
    common.add_config(verify)
    common.add_state(verify)


def cmd_audit(args: argparse.Namespace) -> int:
    _, store = common.settings_and_store(args)
    checked, problem = store.verify_audit()
    if problem:
        print(f"audit log BROKEN after {checked} good entries: {problem}")
        return EXIT_ATTENTION
    print(f"audit log intact: {checked} entries verified")
    return EXIT_OK
