"""The command line: parse, call one library function per command, print.

Exit status (CONTRACT.md): 0 complete, 1 findings at or above --fail-on,
2 bad configuration or unusable input, 3 completed with something unread.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import botocore.exceptions

from auditor import __version__
from auditor import config as configuration
from auditor import snapshot as snapshots
from auditor.campaign import cli as campaign_cli
from auditor.collect.hr import HrFeedError
from auditor.config import ConfigError, Settings
from auditor.export import export
from auditor.model import SEVERITY_ORDER
from auditor.pipeline import EXIT_BAD_INPUT, EXIT_INCOMPLETE, RunResult, analyze_snapshot, collect, run
from auditor.progress import Progress
from auditor.remediate import cli as remediate_cli
from auditor.rules.catalogue import render_catalogue
from auditor.schedule import cli as schedule_cli
from auditor.schedule.locks import LockHeld, run_lock
from auditor.snapshot import SnapshotError
from auditor.store import Store, StoreError

SEVERITIES = [s.value for s in reversed(SEVERITY_ORDER)]

EXAMPLES = {
    "demo": "auditor demo --out ./demo-out --size small --seed 7",
    "run": "auditor run --config config.toml --hr-feed hr.csv --out ./out --as-of 2026-11-28T06:00:00Z --fail-on high",
    "collect": "auditor collect --hr-feed hr.csv --out ./out",
    "analyze": "auditor analyze --snapshot ./out/snapshot --as-of 2026-12-01",
    "rules": "auditor rules --format md > docs/RULES.md",
    "sandbox": "auditor sandbox serve --port 5000 --size small",
    "audit": "auditor audit verify --state ~/.local/share/auditor/state.db",
    "export": "auditor export --framework soc2 --format html --out ./evidence",
    "remediate": remediate_cli.EXAMPLE,
    "campaign": campaign_cli.EXAMPLE,
    "scheduler": schedule_cli.EXAMPLE,
}


class UsageError(Exception):
    """A bad command-line value; exit 2."""


def parse_time(text: str) -> datetime:
    """ISO 8601 time or date; a date is its midnight UTC, a time without zone is UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"--as-of {text!r} is not an ISO 8601 time (e.g. 2026-11-28T06:00:00Z)") from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="auditor",
        description="Access reviews and hygiene for AWS Organizations, IAM Identity Center and IAM.",
        epilog="Start with: auditor demo",
    )
    parser.add_argument("--version", action="version", version=f"auditor {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=f"example: {EXAMPLES[name]}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    demo = command("demo", "Build the simulated organisation and run the whole pipeline on it.")
    demo.add_argument(
        "--out", type=Path, default=Path("auditor-demo"), help="output directory (default ./auditor-demo)"
    )
    demo.add_argument("--size", choices=["tiny", "small", "medium"], default="small")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--as-of", help="ISO 8601 time the estate is built and evaluated at (default now)")
    demo.add_argument("--state", help="state store path or SQLAlchemy URL (default OUT/state.db)")

    run_cmd = command("run", "Collect from AWS, analyze and write findings and reports.")
    _config_args(run_cmd)
    run_cmd.add_argument("--fail-on", choices=SEVERITIES, help="exit 1 when a finding is at or above this severity")

    collect_cmd = command("collect", "Collect from AWS into OUT/snapshot only.")
    _config_args(collect_cmd)

    analyze_cmd = command("analyze", "Re-run the rules offline on a saved snapshot.")
    analyze_cmd.add_argument("--snapshot", type=Path, required=True, help="a snapshot directory (OUT/snapshot)")
    analyze_cmd.add_argument("--config", type=Path, help="settings file (default ./config.toml if present)")
    analyze_cmd.add_argument("--out", type=Path, help="output directory (default: the snapshot's parent)")
    analyze_cmd.add_argument("--as-of", help="ISO 8601 time to evaluate at (default: the snapshot's as-of)")
    analyze_cmd.add_argument("--fail-on", choices=SEVERITIES)
    _state_arg(analyze_cmd)

    export_cmd = command("export", "Write a compliance view (controls, status, evidence) of a finished run.")
    export_cmd.add_argument("--framework", required=True, choices=["cis", "soc2", "iso27001", "nist", "pci"])
    export_cmd.add_argument("--format", choices=["html", "csv", "json", "ocsf", "asff"], default="html")
    export_cmd.add_argument("--run-dir", type=Path, help="a run's output directory (default: the latest recorded run)")
    export_cmd.add_argument("--out", type=Path, help="where to write (default: the run directory)")
    export_cmd.add_argument("--to", choices=["securityhub"], help="also import the framework's findings there")
    export_cmd.add_argument("--config", type=Path, help="settings file (default ./config.toml if present)")
    _state_arg(export_cmd)

    campaign_cli.register(commands, "campaign")
    remediate_cli.register(commands, command)
    schedule_cli.register(commands, command)

    audit = command("audit", "Check the audit log's hash chain.")
    audit_commands = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_commands.add_parser("verify", help="verify every entry; exit 1 naming the first broken one")
    verify.add_argument("--config", type=Path, help="settings file (default ./config.toml if present)")
    _state_arg(verify)

    rules_cmd = command("rules", "Print the rule catalogue.")
    rules_cmd.add_argument("--format", choices=["table", "json", "md"], default="table")
    rules_cmd.add_argument("--config", type=Path, help="settings file (default ./config.toml if present)")

    sandbox = command("sandbox", "Serve the simulated organisation on a local endpoint for `auditor run`.")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    serve = sandbox_commands.add_parser("serve", help="build it and serve until interrupted")
    serve.add_argument("--port", type=int, default=5000)
    serve.add_argument("--size", choices=["tiny", "small", "medium"], default="small")
    serve.add_argument("--seed", type=int, default=1)
    serve.add_argument("--as-of", help="ISO 8601 time the estate is built at (default now)")
    serve.add_argument("--workdir", type=Path, default=Path("auditor-sandbox"), help="where the HR feed is written")
    return parser


def _config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, help="settings file (default ./config.toml; optional: defaults and discovery without it)"
    )
    parser.add_argument("--out", type=Path, help="output directory (default [output] dir, ./auditor-out)")
    parser.add_argument("--hr-feed", type=Path, help="HR CSV (default [hr] feed)")
    parser.add_argument("--as-of", help="ISO 8601 time every time-based rule is evaluated at (default now)")
    _state_arg(parser)


def _state_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state",
        help="state store: a SQLite path or SQLAlchemy URL (default [state] url, else $XDG_DATA_HOME/auditor/state.db)",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return HANDLERS[args.command](args)
    except (ConfigError, HrFeedError, SnapshotError, StoreError, UsageError, LockHeld) as exc:
        print(f"auditor: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (
        botocore.exceptions.NoCredentialsError,
        botocore.exceptions.PartialCredentialsError,
        botocore.exceptions.ProfileNotFound,
        botocore.exceptions.NoRegionError,
    ) as exc:
        print(f"auditor: error: {exc} (see README: Pointing it at a real organisation)", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("auditor: interrupted", file=sys.stderr)
        return 130


def _settings(args: argparse.Namespace) -> Settings:
    """The given --config must exist; the default ./config.toml is optional."""
    if args.config is None:
        return configuration.load(Path("config.toml"), required=False)
    return configuration.load(args.config, required=True)


def _hr_feed(args: argparse.Namespace, settings: Settings) -> Path | None:
    if args.hr_feed:
        return args.hr_feed
    configured = settings.get("hr", "feed")
    if not configured:
        return None
    path = Path(configured)
    if not path.is_absolute() and settings.source is not None:
        path = settings.source.parent / path
    return path


def _out(args: argparse.Namespace, settings: Settings) -> Path:
    return args.out or Path(settings.get("output", "dir"))


def _as_of(args: argparse.Namespace) -> datetime:
    return parse_time(args.as_of) if args.as_of else datetime.now(UTC).replace(microsecond=0)


def _store(args: argparse.Namespace, settings: Settings) -> Store:
    return Store.open(args.state or settings.get("state", "url") or None)


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    store = _store(args, settings)
    with run_lock(store, settings):  # one run at a time per state store: waits, or refuses naming the holder
        result = run(
            settings,
            out_dir=_out(args, settings),
            as_of=_as_of(args),
            hr_feed=_hr_feed(args, settings),
            store=store,
            fail_on=args.fail_on,
            progress=Progress.for_stream(sys.stderr),
        )
    print_summary(result)
    return result.exit_code


def cmd_collect(args: argparse.Namespace) -> int:
    settings = _settings(args)
    out = _out(args, settings)
    snapshot = collect(
        settings, as_of=_as_of(args), hr_feed=_hr_feed(args, settings), progress=Progress.for_stream(sys.stderr)
    )
    snapshots.save(snapshot, out / "snapshot")
    _print_sources(snapshot)
    print(f"snapshot: {out / 'snapshot'}")
    return 0 if snapshot.complete else EXIT_INCOMPLETE


def cmd_analyze(args: argparse.Namespace) -> int:
    settings = _settings(args)
    out = args.out or args.snapshot.parent
    as_of = parse_time(args.as_of) if args.as_of else None
    result = analyze_snapshot(
        args.snapshot, settings, out_dir=out, as_of=as_of, fail_on=args.fail_on, store=_store(args, settings)
    )
    print_summary(result)
    return result.exit_code


def cmd_rules(args: argparse.Namespace) -> int:
    settings = _settings(args)
    print(render_catalogue(args.format, settings))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from auditor.sandbox import start_sandbox  # the sandbox needs the optional moto dependency

    as_of = parse_time(args.as_of) if args.as_of else None
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    print(f"Building the {args.size} sandbox organisation (seed {args.seed})...", file=sys.stderr)
    with start_sandbox(size=args.size, seed=args.seed, as_of=as_of, workdir=out / "sandbox") as sandbox:
        print(
            f"Sandbox ready at {sandbox.endpoint_url}; running the audit as of {sandbox.as_of.isoformat()}",
            file=sys.stderr,
        )
        store = Store.open(args.state or out / "state.db")  # the demo never touches the real history
        # the sandbox writes the settings its estate is meant to be audited with (department groups)
        settings = configuration.load(sandbox.hr_feed.parent / "config.toml")
        with _environment(sandbox.env()):
            result = run(
                settings,
                out_dir=out,
                as_of=sandbox.as_of,
                hr_feed=sandbox.hr_feed,
                store=store,
                progress=Progress.for_stream(sys.stderr),
            )
    print_summary(result)
    return result.exit_code


def cmd_sandbox(args: argparse.Namespace) -> int:
    from auditor.sandbox import serve

    as_of = parse_time(args.as_of) if args.as_of else None
    serve(size=args.size, seed=args.seed, as_of=as_of, workdir=args.workdir, port=args.port)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    settings = _settings(args)
    result = export(
        settings,
        _store(args, settings),
        framework=args.framework,
        fmt=args.format,
        run_dir=args.run_dir,
        out_dir=args.out,
        to_securityhub=args.to == "securityhub",
    )
    print(f"{args.framework} {args.format}: {result.path}")
    if result.securityhub is not None:
        print(f"securityhub: {result.securityhub}")
        return 0 if result.securityhub.ok else EXIT_INCOMPLETE
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    settings = _settings(args)
    checked, problem = _store(args, settings).verify_audit()
    if problem:
        print(f"audit log BROKEN after {checked} good entries: {problem}")
        return 1
    print(f"audit log intact: {checked} entries verified")
    return 0


HANDLERS = {
    "demo": cmd_demo,
    "run": cmd_run,
    "collect": cmd_collect,
    "analyze": cmd_analyze,
    "rules": cmd_rules,
    "sandbox": cmd_sandbox,
    "audit": cmd_audit,
    "export": cmd_export,
    "remediate": remediate_cli.handle,
    "campaign": campaign_cli.handle,
    "scheduler": schedule_cli.handle,
}


@contextmanager
def _environment(values: dict[str, str]):
    """Point boto3 at the sandbox for the duration of the demo, then restore."""
    saved = {key: os.environ.get(key) for key in values}
    profile = os.environ.pop("AWS_PROFILE", None)
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if profile is not None:
            os.environ["AWS_PROFILE"] = profile


def print_summary(result: RunResult) -> None:
    severities = Counter(f.severity for f in result.findings)
    categories = Counter(f.category for f in result.findings)
    print(f"auditor {__version__}: {len(result.findings)} findings as of {result.snapshot.manifest.as_of.isoformat()}")
    print()
    print(f"  {'severity':<10} {'count':>6}")
    for severity in SEVERITIES:
        print(f"  {severity:<10} {severities.get(severity, 0):>6}")
    print()
    print(f"  {'category':<20} {'count':>6}")
    for category, count in sorted(categories.items(), key=lambda item: (-item[1], item[0])):
        print(f"  {category:<20} {count:>6}")
    print()
    _print_sources(result.snapshot)
    statuses = Counter(f.status for f in result.findings)
    print(
        f"since the previous run: {statuses.get('new', 0)} new, {statuses.get('resolved', 0)} resolved, "
        f"{statuses.get('open', 0)} still open, {statuses.get('suppressed', 0)} suppressed"
    )
    for micro in result.micro_campaigns:
        print(f"micro-certification opened: {micro}")
    for name, path in result.outputs.items():
        print(f"{name}: {path}")


def _print_sources(snapshot: snapshots.Snapshot) -> None:
    incomplete = [s for s in snapshot.manifest.sources if s.status != "ok"]
    if not incomplete and not snapshot.manifest.unreadable:
        print("All sources read completely.")
        return
    print("Incomplete sources (see snapshot/manifest.json):")
    for status in incomplete:
        where = f" account {status.account_id}" if status.account_id else ""
        print(f"  {status.source}{where}: {status.status}: {status.error or ''}")
    for item in snapshot.manifest.unreadable[:20]:
        print(f"  unreadable {item.what}: {item.error}")
    if len(snapshot.manifest.unreadable) > 20:
        print(f"  ... and {len(snapshot.manifest.unreadable) - 20} more unreadable inputs")


if __name__ == "__main__":
    sys.exit(main())
