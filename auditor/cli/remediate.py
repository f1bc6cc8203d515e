"""`auditor remediate plan|apply|verify|rollback|policy`: parse, call one library function, print.

Exit status: 0 done (a plan written, or in a dry run nothing refused); 1
refused, or some action drifted, failed or does not hold; 2 bad
configuration or input (the main command line reports those).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from auditor import snapshot as snapshots
from auditor.cli import common
from auditor.exit_codes import EXIT_ATTENTION, EXIT_BAD_INPUT, EXIT_OK
from auditor.remediate.errors import BreakerRefused, NotFound, RemediationError
from auditor.remediate.executor import RunResult, rollback_run
from auditor.remediate.journal import Journal
from auditor.remediate.plan import Plan
from auditor.remediate.planning import apply_plan_file, clients_for, plan_revocations
from auditor.remediate.policy import remediation_policy
from auditor.remediate.rightsize_plan import plan_rightsize
from auditor.remediate.verify import verify_run
from auditor.store import Store

HELP = "Plan, apply, verify and roll back revocations and right-sizing (apply and rollback are dry runs without --yes)."
EXAMPLES = {"remediate": "auditor remediate plan --campaign 3 --out plan.json; auditor remediate apply plan.json --yes"}
ACTION_EXAMPLES = {
    "plan": "auditor remediate plan --findings idc-user-inactive --out plan.json; "
    "auditor remediate plan --rightsize Developers --out plan.json",
    "apply": "auditor remediate apply plan.json --yes",
    "verify": "auditor remediate verify 12",
    "rollback": "auditor remediate rollback 12 --yes",
    "policy": "auditor remediate policy > remediation-policy.json",
}


def register(commands: common.Commands) -> None:
    """Add ``remediate`` and its actions."""
    parser = common.add_command(commands, "remediate", HELP, EXAMPLES["remediate"])
    actions = parser.add_subparsers(dest="remediate_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = common.add_command(actions, name, help_text, ACTION_EXAMPLES[name])
        common.add_config(sub)
        common.add_state(sub)
        return sub

    plan = action("plan", "Read each target's pre-state from AWS and write a reviewed plan (changes nothing).")
    plan.add_argument("--campaign", type=int, metavar="ID", help="revoke what a closed campaign's reviewers decided")
    plan.add_argument(
        "--findings",
        nargs="+",
        metavar="RULE",
        help="stale-access findings of these rules, under an explicit [remediation] policy, after notice",
    )
    plan.add_argument(
        "--rightsize",
        metavar="PERMISSION_SET",
        help="replace this permission set's inline policy with what its users called (name or ARN; alone)",
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

    policy = common.add_command(
        actions, "policy", "Print the IAM policy the remediation actions need.", ACTION_EXAMPLES["policy"]
    )
    common.add_config(policy)


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
    except NotFound as exc:  # a run id nobody recorded: bad input, like an unknown campaign
        print(f"auditor: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RemediationError as exc:
        print(f"auditor: refused: {exc}", file=sys.stderr)
        return EXIT_ATTENTION


def cmd_plan(args: argparse.Namespace) -> int:
    if args.rightsize is not None:
        if args.campaign is not None or args.findings:
            raise common.UsageError("--rightsize makes a plan of its own: give it without --campaign or --findings")
        return cmd_plan_rightsize(args)
    if args.campaign is None and not args.findings:
        raise common.UsageError(
            "remediate plan needs --campaign ID or --findings RULE... (or --rightsize PERMISSION_SET)"
        )
    settings, store = common.settings_and_store(args)
    planned = plan_revocations(
        store,
        settings,
        campaign_id=args.campaign,
        rules=args.findings,
        now=store.clock.now(),
        actor=common.actor(None),
        out=args.out,
    )
    for outcome in planned.stale:
        print(f"  {outcome.status:<10} {outcome.rule_id} {outcome.principal}: {outcome.detail}")
    print_plan(planned.plan, known_names(store))
    print(f"plan: {args.out} (sha256 {planned.plan.sha256}, recorded in the state store: apply runs only this plan)")
    if planned.refused:  # written and recorded all the same: apply says so again, and takes an override
        print(_breaker_line(planned.plan.breaker))
    return EXIT_OK


def cmd_plan_rightsize(args: argparse.Namespace) -> int:
    settings, store = common.settings_and_store(args)
    planned = plan_rightsize(
        store, settings, permission_set=args.rightsize, now=store.clock.now(), actor=common.actor(None), out=args.out
    )
    proposal = planned.proposal
    print(
        f"right-sizing permission set {args.rightsize}: {proposal.used_count} of {proposal.granted} granted actions "
        f"used in {', '.join(planned.accounts)}"
    )
    for service, actions in proposal.used.items():
        print(f"  keep {service}: {', '.join(actions)}")
    for action, arns in sorted(proposal.resources.items()):
        print(f"    {action} only on {', '.join(arns)}")
    removed = planned.removed
    shown = ", ".join(removed[:20]) + (f" and {len(removed) - 20} more" if len(removed) > 20 else "")
    print(f"  remove {len(removed)} actions of the inline policy" + (f": {shown}" if removed else ""))
    print(f"  policy size {proposal.size} of {proposal.limit} characters")
    print_plan(planned.plan, known_names(store))
    print(f"plan: {args.out} (sha256 {planned.plan.sha256}, recorded in the state store: apply runs only this plan)")
    if planned.plan.breaker.get("tripped"):
        print(_breaker_line(planned.plan.breaker))
    return EXIT_OK


def _breaker_line(breaker: dict) -> str:
    if not breaker.get("tripped"):
        return "circuit breaker: within limits"
    return (
        "circuit breaker would refuse this plan: "
        + "; ".join(breaker.get("reasons", []))
        + (' (apply takes --override-breaker "REASON")')
    )


def known_names(store: Store) -> dict[str, str]:
    """Identity Center user and group ids and permission set ARNs -> names, from the latest recorded run.

    Descriptions are built from targets (ids, ARNs: what is journaled); people read names. Empty when no
    run is recorded or its snapshot is gone: the ids are shown then.
    """
    latest = store.latest_run()
    if latest is None or not latest.get("out_dir"):
        return {}
    try:
        snapshot = snapshots.load(Path(latest["out_dir"]) / "snapshot")
    except (snapshots.SnapshotError, OSError):
        return {}
    names = {user.user_id: user.user_name for user in snapshot.table("idc_users")}
    names |= {group.group_id: group.display_name for group in snapshot.table("idc_groups")}
    names |= {permission_set.arn: permission_set.name for permission_set in snapshot.table("permission_sets")}
    return {key: name for key, name in names.items() if key and name}


def named(description: str, names: dict[str, str]) -> str:
    """``description`` with each id or ARN a name is known for replaced by the name (a repeated name dropped)."""
    text = re.sub(r"[^\s()]+", lambda m: names.get(m.group(), m.group()), description)
    head, _, last = text.rpartition(" (")
    return head if last.endswith(")") and last[:-1] in head.split() else text


def print_plan(plan: Plan, names: dict[str, str] | None = None) -> None:
    print(f"{len(plan.actions)} actions, {len(plan.excluded)} excluded (made {plan.created_at.isoformat()})")
    for action in plan.actions:
        print(f"  - {named(action.description, names or {})}")
    for excluded in plan.excluded:
        name = excluded.principal.name or excluded.principal.id
        print(f"  excluded {excluded.kind} {name}: {excluded.why}")
    for note in plan.notes:
        print(f"  note: {note}")


def cmd_apply(args: argparse.Namespace) -> int:
    """A dry run shows every action under the breaker's verdict, even one the breaker refuses (exit 1 then)."""
    settings, store = common.settings_and_store(args)
    if not args.plan.is_file():
        raise common.UsageError(f"{args.plan}: no such plan file (write one with `auditor remediate plan`)")
    try:
        result = apply_plan_file(
            args.plan,
            store,
            settings,
            yes=args.yes,
            override_reason=args.override_breaker,
            actor=common.actor(None),
        )
    except BreakerRefused as refused:
        if not isinstance(refused.preview, RunResult):
            raise
        print(f"REFUSED: {refused}")
        _print_result(refused.preview, "apply", known_names(store))
        return EXIT_ATTENTION
    if result.dry_run and result.verdict is not None:
        verdict = result.verdict
        overridden = "; ".join(verdict.reasons)
        print(
            f"circuit breaker overridden ({args.override_breaker}): {overridden}"
            if verdict.tripped
            else verdict.message()
        )
    _print_result(result, "apply", known_names(store))
    return EXIT_ATTENTION if result.needs_attention() else EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    settings, store = common.settings_and_store(args)
    kinds = _run_kinds(store, args.run_id)  # an unknown run is named before AWS is contacted
    result = rollback_run(
        args.run_id,
        clients=clients_for(kinds, settings, rollback=True),
        store=store,
        yes=args.yes,
        actor=common.actor(None),
    )
    _print_result(result, "rollback", known_names(store))
    return EXIT_ATTENTION if result.needs_attention() else EXIT_OK


def _print_result(result: RunResult, what: str, names: dict[str, str]) -> None:
    header = f"{what}: DRY RUN, nothing changed (add --yes to make the changes)" if result.dry_run else what
    if result.run_id is not None:
        header += f"; remediation run {result.run_id}"
    print(header)
    for outcome in result.outcomes:
        detail = f": {outcome.detail}" if outcome.detail else ""
        print(f"  {outcome.status:<18} {named(outcome.description, names)}{detail}")
    print("  summary: " + ", ".join(f"{status} {count}" for status, count in sorted(result.counts().items())))


def cmd_verify(args: argparse.Namespace) -> int:
    settings, store = common.settings_and_store(args)
    kinds = _run_kinds(store, args.run_id)  # an unknown run is named before AWS is contacted
    verification = verify_run(args.run_id, clients=clients_for(kinds, settings), store=store, actor=common.actor(None))
    names = known_names(store)
    print(f"remediation run {verification.run_id}:")
    for check in verification.checks:
        mark = {True: "holds", False: "DOES NOT HOLD", None: "-"}[check.holds]
        detail = f" ({check.detail})" if check.detail else ""
        print(f"  {mark:<13} expected {check.expected}: {named(check.description, names)}{detail}")
    print("every action is in effect" if verification.ok else "some actions are not in effect")
    return EXIT_OK if verification.ok else EXIT_ATTENTION


def _run_kinds(store: Store, run_id: int) -> list[str]:
    """The kinds of a recorded run's actions (which role acts on them); ``NotFound`` for an unknown run."""
    journal = Journal(store)
    journal.run(run_id)
    return [record.kind for record in journal.actions(run_id)]


def cmd_policy(args: argparse.Namespace) -> int:
    settings = common.settings(args)
    print(json.dumps(remediation_policy(settings.get("aws", "member_role_name")), indent=2))
    return EXIT_OK
