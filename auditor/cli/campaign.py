"""``auditor campaign ...``: parse, call one library function, print. Bad input exits 2."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from auditor.campaign.close import close_campaign
from auditor.campaign.create import create_campaign
from auditor.campaign.deliver import DeliveryError, DryRun, delivery_from_settings
from auditor.campaign.distribute import distribute_packets
from auditor.campaign.evidence import verify_evidence
from auditor.campaign.importer import import_decisions
from auditor.campaign.model import CampaignError, CampaignSpec
from auditor.campaign.outcome import Rightsizing
from auditor.campaign.remind import remind
from auditor.campaign.status import campaign_status, list_campaigns
from auditor.cli import common
from auditor.config import ConfigError
from auditor.exit_codes import EXIT_ATTENTION, EXIT_BAD_INPUT, EXIT_INCOMPLETE, EXIT_OK
from auditor.report.common import format_time
from auditor.schedule.campaigns import due_date
from auditor.serve import invite
from auditor.snapshot import SnapshotError
from auditor.store import StoreError

EXAMPLES = {"campaign": 'auditor campaign create --name "2026 Q4 access review" --due 2026-12-31 --reviewer manager'}
MORE = """\
  auditor campaign create --name "Prod admins" --scope account:222222222222 --privileged-only \\
      --reviewer account_owner --due 2026-12-15
  auditor campaign status 3
  auditor campaign export 3 --out ./packets --send
  auditor campaign import 3 ./returned/*.xlsx
  auditor campaign invite 3 --base-url https://review.example.com   # sign-in links for `auditor serve`
  auditor campaign invite 3 --owner --print
  auditor campaign remind 3 --dry-run
  auditor campaign close 3 --undecided keep_flagged --out ./evidence-3
  auditor campaign verify ./evidence-3
"""


def parse_due(text: str) -> datetime:
    """A date is the end of that day, UTC; a time without zone is UTC."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        try:
            value = datetime.fromisoformat(text)
        except ValueError as exc:
            raise CampaignError(f"--due {text!r} is not an ISO 8601 date or time (e.g. 2026-12-31)") from exc
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def _campaign_id(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"campaign id must be a number, got {text!r}")
    return int(text)


def register(commands: common.Commands) -> None:
    """Add ``auditor campaign`` and its actions."""
    parser = common.add_command(
        commands,
        "campaign",
        "Access certification campaigns: create, export packets, import decisions, remind, close.",
        EXAMPLES["campaign"],
        MORE,
    )
    actions = parser.add_subparsers(dest="campaign_action", metavar="ACTION", required=True)

    def action(name: str, help_text: str, handler: Callable) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help_text, description=help_text)
        common.add_config(sub)
        common.add_state(sub)
        sub.set_defaults(campaign_handler=handler)
        return sub

    create = action("create", "Open a campaign over the latest run's access.", cmd_create)
    create.add_argument("--name", required=True)
    create.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="SCOPE",
        help="account:ID, ou:ID, permission-set:NAME, group:NAME or iam; repeatable (default: everything)",
    )
    create.add_argument(
        "--due", help="ISO date (end of that day, UTC) or time (default: [campaigns] default_duration_days from now)"
    )
    create.add_argument(
        "--reviewer",
        default="manager",
        help="manager (default), account_owner, permission_set_owner or fixed:EMAIL",
    )
    create.add_argument(
        "--owner", default="", help="the campaign owner's email: routing's last step, and the owner's page"
    )
    create.add_argument(
        "--fallback-reviewer", default="", help="who reviews what no manager or owner tag covers (default [campaigns])"
    )
    create.add_argument("--privileged-only", action="store_true", help="only administrator-capable access")
    create.add_argument("--run-dir", type=Path, help="a run's output directory (default: the latest recorded run)")

    listing = action("list", "List campaigns, newest first.", cmd_list)
    common.add_format(listing)

    status = action("status", "Progress per reviewer, overdue ones first.", cmd_status)
    status.add_argument("id", type=_campaign_id)
    common.add_format(status, ("table", "json"))

    export = action("export", "Write reviewer packets (HTML, CSV, XLSX).", cmd_export)
    export.add_argument("id", type=_campaign_id)
    export.add_argument("--reviewer", help="only this reviewer's packet")
    export.add_argument("--out", type=Path, required=True, help="directory for the packets")
    export.add_argument(
        "--send", action="store_true", help="also send each packet to its reviewer ([campaigns] delivery)"
    )

    imported = action("import", "Import decisions from returned packets.", cmd_import)
    imported.add_argument("id", type=_campaign_id)
    imported.add_argument("files", nargs="+", type=Path, metavar="FILE")
    imported.add_argument("--reviewer", help="whose files these are (default: the reviewer their rows name)")

    invitation = action("invite", "Send single-use sign-in links for `auditor serve`.", cmd_invite)
    invitation.add_argument("id", type=_campaign_id)
    who = invitation.add_mutually_exclusive_group()
    who.add_argument("--reviewer", help="only this reviewer (default: every reviewer with undecided items)")
    who.add_argument("--owner", action="store_true", help="the campaign owner's link (their page)")
    invitation.add_argument(
        "--base-url", default="http://127.0.0.1:8000", help="where `auditor serve` is reached (default %(default)s)"
    )
    invitation.add_argument("--valid-days", type=float, default=14.0, help="how long a link can be used (default 14)")
    invitation.add_argument(
        "--print", action="store_true", help="print the links instead of sending them ([campaigns] delivery)"
    )

    reminder = action("remind", "Send due reminders and escalations.", cmd_remind)
    reminder.add_argument("id", type=_campaign_id)
    reminder.add_argument("--dry-run", action="store_true", help="print what would be sent; send nothing")

    close = action("close", "Close a campaign and write its evidence pack.", cmd_close)
    close.add_argument("id", type=_campaign_id)
    close.add_argument("--undecided", help="revoke, keep_flagged or extend:DAYS (needed when items are undecided)")
    close.add_argument("--out", type=Path, help="evidence directory (default ./campaign-ID-evidence)")

    verify = action("verify", "Verify an evidence pack against its manifest (and the audit log).", cmd_verify)
    verify.add_argument("directory", type=Path)
    verify.add_argument("--manifest-only", action="store_true", help="check the files only, not the audit log")


def handle(args: argparse.Namespace) -> int:
    try:
        return args.campaign_handler(args)
    except (CampaignError, DeliveryError, ConfigError, SnapshotError, StoreError, common.UsageError) as exc:
        print(f"auditor: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def cmd_create(args: argparse.Namespace) -> int:
    settings, store = common.settings_and_store(args)
    now = common.now()
    spec = CampaignSpec(
        name=args.name,
        due=parse_due(args.due) if args.due else due_date(now, settings.get("campaigns", "default_duration_days")),
        scopes=args.scope,
        reviewer=args.reviewer,
        privileged_only=args.privileged_only,
        owner=args.owner,
        fallback_reviewer=args.fallback_reviewer,
    )
    result = create_campaign(store, settings, spec, now=now, run_dir=args.run_dir, actor=common.actor())
    campaign = result.campaign
    print(
        f"campaign {campaign.id} created: {campaign.name!r}, {result.items} items for "
        f"{len(result.by_reviewer)} reviewer(s), due {format_time(campaign.due_at)}"
    )
    for reviewer, count in result.by_reviewer.items():
        print(f"  {reviewer:<40} {count:>5}")
    if result.fallback:
        print(
            f"{len(result.fallback)} item(s) had no accountable reviewer (fallback, campaign owner, or unassigned "
            f"until assigned: auditor campaign status {campaign.id}):"
        )
        for unresolved in result.fallback:
            print(f"  {unresolved.item_id}: {unresolved.subject}: {unresolved.access} ({unresolved.reason})")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    _, store = common.settings_and_store(args)
    summaries = list_campaigns(store, now=common.now())
    rows = [
        {
            "id": s.campaign.id,
            "name": s.campaign.name,
            "kind": s.campaign.kind,
            "status": s.campaign.status,
            "due_at": s.campaign.due_at.isoformat(),
            "items": s.items,
            "decided": s.decided_items,
            "overdue": s.overdue,
        }
        for s in summaries
    ]

    def table() -> None:
        if not summaries:
            print("no campaigns yet (auditor campaign create ...)")
            return
        print(f"{'id':>4}  {'kind':<9} {'status':<7} {'due':<23} {'decided':>13}  name")
        for s in summaries:
            late = " overdue" if s.overdue else ""
            print(
                f"{s.campaign.id:>4}  {s.campaign.kind:<9} {s.campaign.status:<7} "
                f"{format_time(s.campaign.due_at):<23} {f'{s.decided_items}/{s.items}':>13}  {s.campaign.name}{late}"
            )

    common.emit(args.format, rows, table)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    _, store = common.settings_and_store(args)
    status = campaign_status(store, args.id, now=common.now())
    campaign = status.campaign
    data = {
        "id": campaign.id,
        "name": campaign.name,
        "status": campaign.status,
        "due_at": campaign.due_at.isoformat(),
        "items": status.items,
        "decided": status.decided,
        "reviewers": [
            {
                "reviewer": r.reviewer,
                "items": r.items,
                "decided": r.decided,
                "pending": r.pending,
                "flagged_pending": r.flagged_pending,
                "overdue": r.overdue,
                "last_message": r.last_message,
            }
            for r in status.reviewers
        ],
        "fallback": [{"item_id": i, "access": a, "why": w} for i, a, w in status.fallback],
    }

    def table() -> None:
        print(
            f"campaign {campaign.id} {campaign.name!r}: {campaign.status}, due {format_time(campaign.due_at)}; "
            f"{status.decided}/{status.items} decided"
        )
        print(f"  {'reviewer':<40} {'items':>6} {'decided':>8} {'pending':>8} {'flagged':>8}  last message")
        for row in status.reviewers:
            mark = "OVERDUE " if row.overdue else ""
            print(
                f"  {row.reviewer or '(unassigned)':<40} {row.items:>6} {row.decided:>8} {row.pending:>8} {row.flagged_pending:>8}  "
                f"{mark}{row.last_message}"
            )
        if status.fallback:
            print(f"{len(status.fallback)} item(s) have no accountable reviewer (fallback, owner, or unassigned):")
            for item_id, access, why in status.fallback:
                print(f"  {item_id}: {access} ({why})")

    common.emit(args.format, data, table)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    settings, store = common.settings_and_store(args)
    done = distribute_packets(
        store,
        settings,
        args.id,
        args.out,
        now=common.now(),
        actor=common.actor(),
        reviewer=args.reviewer,
        send=args.send,
    )
    for packet in done.packets:
        print(f"{packet.reviewer}: {packet.items} item(s): {packet.html.name}, {packet.csv.name}, {packet.xlsx.name}")
    returned = args.out / "returned"  # where the filled-in packets are saved for `campaign import`
    returned.mkdir(parents=True, exist_ok=True)
    print(f"{len(done.packets)} packet(s) in {args.out}; save the returned ones in {returned}")
    for sent in done.sent:
        if sent.error:
            print(f"NOT sent to {sent.packet.reviewer}: {sent.error}", file=sys.stderr)
        else:
            print(f"sent to {sent.packet.reviewer} via {done.channel}: {sent.reference}")
    return EXIT_INCOMPLETE if done.not_sent else EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    _, store = common.settings_and_store(args)
    result = import_decisions(
        store, args.id, args.files, now=common.now(), reviewer=args.reviewer, actor=common.actor()
    )
    for outcome in result.files:
        if outcome.status == "applied":
            print(
                f"{outcome.file.name}: {outcome.recorded} decision(s) recorded, {outcome.unchanged} unchanged, "
                f"{outcome.undecided} row(s) left undecided ({outcome.reviewer})"
            )
        elif outcome.status == "duplicate":
            print(f"{outcome.file.name}: already imported; nothing changed")
        else:
            print(f"{outcome.file.name}: rejected, nothing from it was recorded", file=sys.stderr)
    for rejection in result.rejections:
        print(f"  {rejection}", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_BAD_INPUT


def cmd_invite(args: argparse.Namespace) -> int:
    settings, store = common.settings_and_store(args)
    if args.valid_days <= 0:
        raise common.UsageError("--valid-days must be greater than 0")
    now = common.now()
    sent = invite(
        store,
        args.id,
        base_url=args.base_url,
        now=now,
        valid_for=timedelta(days=args.valid_days),
        delivery=None if args.print else delivery_from_settings(settings, now=now),
        reviewer=args.reviewer,
        owner=args.owner,
        actor=common.actor(),
    )
    for invitation in sent:
        if args.print:
            print(f"{invitation.email} ({invitation.role}): {invitation.url}")
        elif invitation.error:
            print(f"NOT sent to {invitation.email}: {invitation.error}", file=sys.stderr)
        else:
            print(f"sign-in link sent to {invitation.email} ({invitation.role}): {invitation.reference}")
    if not sent:
        print("every item is decided; nobody to invite")
    return EXIT_INCOMPLETE if any(i.error for i in sent) else EXIT_OK


def cmd_remind(args: argparse.Namespace) -> int:
    settings, store = common.settings_and_store(args)
    now = common.now()
    delivery = DryRun() if args.dry_run else delivery_from_settings(settings, now=now)
    result = remind(store, settings, args.id, now=now, delivery=delivery, actor=common.actor())
    for sent in result.sent:
        message = sent.message
        if result.dry_run:
            print(f"would send {sent.step.kind} ({sent.step.days} day(s)) for {sent.reviewer}")
            print(f"  To: {message.to}" + (f"\n  Cc: {', '.join(message.cc)}" if message.cc else ""))
            print(f"  Subject: {message.subject}")
            print("    " + message.body.replace("\n", "\n    ").rstrip())
        else:
            print(f"sent {sent.step.kind} for {sent.reviewer} to {message.to} via {delivery.channel}: {sent.reference}")
    for reviewer, why in result.waiting.items():
        print(f"nothing for {reviewer}: {why}")
    for message, error in result.failed:
        print(f"NOT sent to {message.to}: {error}", file=sys.stderr)
    if not result.sent and not result.waiting and not result.failed:
        print("every item is decided; nobody to remind")
    return EXIT_INCOMPLETE if result.failed else EXIT_OK


def cmd_close(args: argparse.Namespace) -> int:
    _, store = common.settings_and_store(args)
    out = args.out or Path(f"campaign-{args.id}-evidence")
    result = close_campaign(
        store, args.id, now=common.now(), out_dir=out, undecided=args.undecided, actor=common.actor()
    )
    if not result.closed:
        print(
            f"campaign {args.id} extended: due {format_time(result.due_at)} "
            f"({result.counts['undecided']} item(s) still undecided)"
        )
        return EXIT_OK
    counts = result.counts
    print(
        f"campaign {args.id} closed: {counts['keep']} kept, {counts['revoke']} revoked "
        f"({result.settled_by_policy} settled by the undecided policy)"
    )
    print(f"revocations: {len(result.revocations)} (auditor remediate plan --campaign {args.id})")
    for conflict in result.conflicts:
        print(f"  withheld {conflict.item_id}: {conflict.reason}")
    print_rightsizings(result.rightsizings, _store_flags(args))
    print(f"evidence: {result.evidence_dir} (manifest SHA-256 {result.manifest_sha256})")
    return EXIT_OK


def print_rightsizings(rightsizings: list[Rightsizing], flags: str) -> None:
    """Each permission set reviewers kept to right-size, its accounts and items, and the command that plans it."""
    if not rightsizings:
        return
    print(f"right-sizing requested: {len(rightsizings)} (permission set, account) kept on condition of right-sizing")
    by_set: dict[str, list[Rightsizing]] = {}
    for request in rightsizings:
        by_set.setdefault(request.permission_set, []).append(request)
    for permission_set, requests in by_set.items():
        for r in requests:
            print(
                f"  {permission_set} in {r.account_name} ({r.account_id}): {', '.join(r.item_ids)} "
                f"(asked by {', '.join(r.requested_by)})"
            )
        print(f"    plan it: {requests[0].command}{flags}")


def _store_flags(args: argparse.Namespace) -> str:
    """The --config and --state this command was given, so a command it names reads the same settings and store.

    A database URL is not repeated: it may carry a password, which has no place on a terminal or in a log.
    """
    flags = ""
    if args.config:
        flags += f" --config {shlex.quote(str(args.config))}"
    if args.state and "://" not in args.state:
        flags += f" --state {shlex.quote(args.state)}"
    return flags


def cmd_verify(args: argparse.Namespace) -> int:
    if not args.directory.is_dir():  # nothing to verify is bad input, not a pack that fails
        raise common.UsageError(f"{args.directory}: no such evidence pack directory")
    _, store = common.settings_and_store(args)
    problems = verify_evidence(args.directory, None if args.manifest_only else store)
    if problems:
        print(f"evidence pack {args.directory} does NOT verify:")
        for problem in problems:
            print(f"  {problem}")
        return EXIT_ATTENTION
    print(f"evidence pack {args.directory} verifies: every file matches its manifest and the audit log")
    return EXIT_OK
