"""`auditor audit verify|rotate-key`: check the audit log's keyed chain and its rows; rotate the store's key."""

from __future__ import annotations

import argparse

from auditor.cli import common
from auditor.exit_codes import EXIT_ATTENTION, EXIT_OK
from auditor.store import AuditReport, Head

EXAMPLES = {
    "audit": "auditor audit verify --state ~/.local/share/auditor/state.db --expect-head auditor-out/audit-head.json"
}
MORE = """\
  auditor audit verify --expect-head 1234:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
  auditor audit rotate-key               # a new current key; older entries stay verifiable
"""


def register(commands: common.Commands) -> None:
    audit = common.add_command(
        commands, "audit", "Check the audit log's keyed chain; rotate the store's key.", EXAMPLES["audit"], MORE
    )
    actions = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = actions.add_parser("verify", help="verify every entry and row; exit 1 naming what does not hold")
    common.add_config(verify)
    common.add_state(verify)
    verify.add_argument(
        "--expect-head",
        metavar="HEAD",
        help="ID:HASH, or a file holding it (a run's audit-head.json, an evidence pack's manifest.json): "
        "the chain must still hold that entry",
    )
    rotate = actions.add_parser("rotate-key", help="make a new key current and reseal the campaign keys under it")
    common.add_config(rotate)
    common.add_state(rotate)


def cmd_audit(args: argparse.Namespace) -> int:
    _, store = common.settings_and_store(args)
    print(f"state store: {store.display_url}")
    if args.audit_command == "rotate-key":
        old, new, resealed = store.rotate_key(actor=common.actor())
        print(f"key file {store.key_file}: key {new} is current (was {old}); {resealed} campaign key(s) resealed")
        print("keep the older keys in the file: they verify the entries they signed")
        return EXIT_OK
    try:
        expected = Head.parse(args.expect_head) if args.expect_head else None
    except ValueError as exc:
        raise common.UsageError(f"--expect-head: {exc}") from exc
    report = store.audit_report(expected)
    print_report(report, expected)
    return EXIT_OK if report.intact else EXIT_ATTENTION


def print_report(report: AuditReport, expected: Head | None) -> None:
    chain = report.chain
    rows = ", ".join(f"{n} {kind}" for kind, n in report.rows.items())
    if report.intact:
        keyed = chain.checked - chain.legacy
        print(f"audit log intact: {chain.checked} entries verified ({keyed} keyed, {chain.legacy} legacy unkeyed)")
        print(f"head: {chain.head}" + (f" (holds the expected head {expected.id})" if expected else ""))
        print(f"rows matching their entries: {rows or 'none'}")
        return
    print(f"audit log BROKEN after {chain.checked} good entries: {report.problems[0]}")
    for problem in report.problems[1:]:
        print(f"  also: {problem}")
    print(f"key file: {report.key_file}")
