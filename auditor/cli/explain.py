"""`auditor explain PRINCIPAL`: every rule's verdict for one user, group, role, key or permission set."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from auditor import configure
from auditor.cli import common
from auditor.config import Settings
from auditor.exit_codes import EXIT_BAD_INPUT, EXIT_OK
from auditor.explain import Explanation, NoSuchPrincipal, explain_run

EXAMPLES = {"explain": "auditor explain alice@example.com --run-dir ./auditor-demo"}
SYMBOLS = {
    "fired": "FIRED",
    "insufficient": "CANNOT DECIDE",
    "suppressed": "SUPPRESSED",
    "cleared": "clear",
    "exempt": "exempt",
    "not_applicable": "n/a",
    "disabled": "disabled",
    "undecided": "NO VERDICT",
}


def register(commands: common.Commands) -> None:
    parser = common.add_command(
        commands,
        "explain",
        "Every rule's verdict for one principal, with the facts behind it.",
        EXAMPLES["explain"],
    )
    parser.add_argument("principal", help="a user name, email, id or ARN; a group, role, key id or permission set")
    parser.add_argument(
        "--run-dir", type=Path, help="a run's output directory (default: the latest run recorded in the state store)"
    )
    parser.add_argument(
        "--all", action="store_true", help="also list the rules that do not apply to this kind of principal"
    )
    common.add_format(parser, ("table", "json"))
    common.add_config(parser)
    common.add_state(parser)


def cmd_explain(args: argparse.Namespace) -> int:
    run_dir = args.run_dir or _latest_run_dir(args)
    try:
        explanations = explain_run(run_dir, _settings(args, run_dir), args.principal)
    except NoSuchPrincipal as exc:
        print(f"auditor: error: {exc} in {run_dir}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.format == "json":
        print(json.dumps([e.to_json() for e in explanations], indent=2))
        return EXIT_OK
    for explanation in explanations:
        _print(explanation, show_all=args.all)
    return EXIT_OK


def _print(explanation: Explanation, *, show_all: bool) -> None:
    principal = explanation.principal
    print(f"{principal.type} {principal.name or principal.id} ({principal.id})")
    shown = [v for v in explanation.verdicts if show_all or v.outcome != "not_applicable"]
    width = max((len(v.rule_id) for v in shown), default=0)
    for verdict in shown:
        finding = f" [{verdict.severity}, {verdict.status}, {verdict.finding_id}]" if verdict.finding_id else ""
        print(f"  {verdict.rule_id:<{width}}  {SYMBOLS[verdict.outcome]:<13} {verdict.detail}{finding}")
    hidden = len(explanation.verdicts) - len(shown)
    if hidden:
        print(f"  ({hidden} rules examine other kinds of principal; --all lists them)")
    print()


def _latest_run_dir(args: argparse.Namespace) -> Path:
    settings, store = common.settings_and_store(args)
    latest = store.latest_run()
    if latest is None or not latest.get("out_dir"):
        raise common.UsageError("no run is recorded in the state store; give --run-dir DIR")
    return Path(latest["out_dir"])


def _settings(args: argparse.Namespace, run_dir: Path) -> Settings:
    """--config; else the settings the run's snapshot recorded, or beside the run (the demo's); else ./config.toml."""
    if args.config is not None:
        return configure.load(args.config, required=True)
    for candidate in (
        run_dir / "snapshot" / "config.toml",
        run_dir / "config.toml",
        run_dir / "sandbox" / "config.toml",
    ):
        if candidate.is_file():
            return configure.load(candidate, required=True)
    return common.settings(args)
