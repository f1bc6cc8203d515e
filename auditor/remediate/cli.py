"""`auditor remediate plan|apply|verify|rollback|policy`: parse, call one library function, print.

Exit status: 0 done (or, in a dry run, nothing refused); 1 refused, or some
action drifted, failed or does not hold; 2 bad configuration or input (the
main command line reports those).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from auditor.config import Settings
from auditor.remediate.clients import Clients
from auditor.remediate.errors import RemediationError
from auditor.remediate.executor import RunResult, apply_plan, rollback_run
from auditor.remediate.notices import Notices
from auditor.remediate.plan import Plan, build_plan, load_plan, save_plan
from auditor.remediate.policy import remediation_policy
from auditor.remediate.population import population_from_store
from auditor.remediate.stale import stale_revocations
from auditor.remediate.verify import verify_run

EXAMPLE = "auditor remediate plan --campaign 3 --out plan.json; auditor remediate apply plan.json --yes"
HELP = "Plan, apply, verify and roll back revocations (apply and rollback are dry runs without --yes)."
EXAMPLES = {
    "plan": "auditor remediate plan --findings idc-user-inactive --out plan.json",
    "apply": "auditor remediate apply plan.json --yes",
    "verify": "auditor remediate verify 12",
    "rollback": "auditor remediate rollback 12 --yes",
    "policy": "auditor remediate policy > remediation-policy.json",
}
EXIT_OK, EXIT_ATTENTION = 0, 1


def register(subparsers: argparse._SubParsersAction, command: Callable[[str, str], argparse.ArgumentParser] | None):
    """Add ``remediate`` and its actions; ``command`` is the main CLI's parser factory (examples, help)."""
    from auditor.cli import _state_arg

    parser = command("remediate", HELP) if command else subparsers.add_parser("remediate", help=HELP, description=HELP)
    actions = parser.add_subparsers(dest="remediate_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=f"example: {EXAMPLES[name]}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.add_argument("--config", type=Path, help="settings file (default ./config.toml if present)")
        _state_arg(sub)
        return sub

    plan = action("plan", "Read each target's pre-state from AWS and write a reviewed plan (changes nothing).")
    plan.add_argument("--campaign", type=int, metavar="ID", help="revoke what a closed campaign's reviewers decided")
    plan.add_argument(
        "--findings",
        nargs="+",
        metavar="RULE",
        help="stale-access findings of these rules, under an explicit [remediation] policy, after notice",
    )
    plan.add_argument("--out", type=Path, required=True, help="the plan file to write")

    apply = action("apply", "Apply a plan: a dry run that changes nothing unless --yes.")
    apply.add_argument("plan", type=Path, help="a plan file written by `auditor remediate plan`")
    apply.add_argument("--yes", action="store_true", help="really make the changes")
    apply.add_argument(
        "--override-breaker",
        metavar="REASON",
        help="apply a plan the circuit breaker refuses; the reason is recorded in the audit log",
    )

    verify = action("verify", "Re-read AWS and report whether each action of a run is in effect.")
    verify.add_argument("run_id", type=int, metavar="RUN_ID")

    rollback = action("rollback", "Restore the journaled pre-state of a run: a dry run unless --yes.")
    rollback.add_argument("run_id", type=int, metavar="RUN_ID")
    rollback.add_argument("--yes", action="store_true", help="really restore")

    policy = actions.add_parser(
        "policy", help="Print the IAM policy the remediation actions need.", epilog=f"example: {EXAMPLES['policy']}"
    )
    policy.add_argument("--config", type=Path, help="settings file (default ./config.toml if present)")
    return parser


def handle(args: argparse.Namespace) -> int:
    """Run the chosen action; refusals print why and exit 1."""
    handler = {
        "plan": cmd_plan,
        "apply": cmd_apply,
        "verify": cmd_verify,
        "rollback": cmd_rollback,
        "policy": cmd_policy,
    }[args.remediate_command]
    try:
        return handler(args)
    except RemediationError as exc:
        print(f"auditor: refused: {exc}", file=sys.stderr)
        return EXIT_ATTENTION


def _now() -> datetime:
    return datetime.now(UTC)


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "auditor"


def _clients(settings: Settings) -> Clients:
    from auditor.pipeline import make_context

    return Clients(make_context(settings))


def _settings_and_store(args: argparse.Namespace):
    from auditor.cli import _settings, _store

    settings = _settings(args)
    return settings, _store(args, settings)


def cmd_plan(args: argparse.Namespace) -> int:
    from auditor.cli import UsageError

    if args.campaign is None and not args.findings:
        raise UsageError("remediate plan needs --campaign ID or --findings RULE...")
    settings, store = _settings_and_store(args)
    now, actor = _now(), _actor()
    revocations, source = [], {}
    if args.campaign is not None:
        revocations += _campaign_revocations(store, args.campaign)
        source["campaign_id"] = args.campaign
    if args.findings:
        outbox = Path(settings.get("campaigns", "outbox_dir"))
        sender = settings.get("campaigns", "ses_sender") or "auditor"
        selection = stale_revocations(store, settings, args.findings, now, Notices(store, outbox, sender, actor))
        revocations += selection.revocations
        source.update({"findings": args.findings, "run_id": selection.run_id})
        for outcome in selection.outcomes:
            print(f"  {outcome.status:<10} {outcome.rule_id} {outcome.principal}: {outcome.detail}")
    plan = build_plan(
        revocations,
        clients=_clients(settings),
        settings=settings,
        now=now,
        population=population_from_store(store),
        source=source,
        created_by=actor,
    )
    save_plan(plan, args.out)
    print_plan(plan)
    print(f"plan: {args.out} (sha256 {plan.sha256})")
    return EXIT_ATTENTION if plan.breaker.get("tripped") else EXIT_OK


def _campaign_revocations(store, campaign_id: int) -> list:
    try:
        from auditor.campaign import revocations
    except ImportError as exc:
        raise RemediationError(f"campaign revocations are not available in this installation: {exc}") from exc
    return revocations(store, campaign_id)


def print_plan(plan: Plan) -> None:
    print(f"{len(plan.actions)} actions, {len(plan.excluded)} excluded (made {plan.created_at.isoformat()})")
    for action in plan.actions:
        print(f"  - {action.description}")
    for excluded in plan.excluded:
        name = excluded.principal.name or excluded.principal.id
        print(f"  excluded {excluded.kind} {name}: {excluded.why}")
    for note in plan.notes:
        print(f"  note: {note}")


def cmd_apply(args: argparse.Namespace) -> int:
    settings, store = _settings_and_store(args)
    plan = load_plan(args.plan)
    result = apply_plan(
        plan,
        clients=_clients(settings),
        store=store,
        settings=settings,
        population=population_from_store(store),
        yes=args.yes,
        override_reason=args.override_breaker,
        actor=_actor(),
    )
    _print_result(result, "apply")
    return EXIT_ATTENTION if result.needs_attention() else EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    settings, store = _settings_and_store(args)
    result = rollback_run(args.run_id, clients=_clients(settings), store=store, yes=args.yes, actor=_actor())
    _print_result(result, "rollback")
    return EXIT_ATTENTION if result.needs_attention() else EXIT_OK


def _print_result(result: RunResult, what: str) -> None:
    header = f"{what}: DRY RUN, nothing changed (add --yes to make the changes)" if result.dry_run else what
    if result.run_id is not None:
        header += f"; remediation run {result.run_id}"
    print(header)
    for outcome in result.outcomes:
        detail = f": {outcome.detail}" if outcome.detail else ""
        print(f"  {outcome.status:<18} {outcome.description}{detail}")
    print("  summary: " + ", ".join(f"{status} {count}" for status, count in sorted(result.counts().items())))


def cmd_verify(args: argparse.Namespace) -> int:
    settings, store = _settings_and_store(args)
    verification = verify_run(args.run_id, clients=_clients(settings), store=store, actor=_actor())
    print(f"remediation run {verification.run_id}:")
    for check in verification.checks:
        mark = {True: "holds", False: "DOES NOT HOLD", None: "-"}[check.holds]
        detail = f" ({check.detail})" if check.detail else ""
        print(f"  {mark:<13} expected {check.expected}: {check.description}{detail}")
    print("every action is in effect" if verification.ok else "some actions are not in effect")
    return EXIT_OK if verification.ok else EXIT_ATTENTION


def cmd_policy(args: argparse.Namespace) -> int:
    from auditor.cli import _settings

    settings = _settings(args)
    print(json.dumps(remediation_policy(settings.get("aws", "member_role_name")), indent=2))
    return EXIT_OK
