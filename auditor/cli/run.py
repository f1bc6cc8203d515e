"""`auditor run`, `auditor collect`, `auditor analyze`: the audit against AWS, or offline on a saved snapshot."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from auditor import configure
from auditor.cli import common
from auditor.cli.summary import SEVERITIES, print_sources, print_summary
from auditor.config import Settings
from auditor.exit_codes import EXIT_INCOMPLETE, EXIT_OK
from auditor.pipeline import SETTINGS_FILE, analyze_snapshot, as_of_now, collect_to
from auditor.progress import Progress
from auditor.schedule.nightly import run_now

EXAMPLES = {
    "run": "auditor run --config config.toml --hr-feed hr.csv --out ./out --as-of 2026-11-28T06:00:00Z --fail-on high",
    "collect": "auditor collect --hr-feed hr.csv --out ./out",
    "analyze": "auditor analyze --snapshot ./out/snapshot --as-of 2026-12-01",
}

FULL_HELP = "re-read the whole CloudTrail window, and rebuild what the state store keeps of it"


def _read(args: argparse.Namespace, settings: Settings) -> Settings:
    """--full: this run re-reads CloudTrail as [cloudtrail] incremental = false would."""
    return settings.overridden("cloudtrail", incremental=False) if args.full else settings


def register(commands: common.Commands) -> None:
    run = common.add_command(
        commands, "run", "Collect from AWS, analyze and write findings and reports.", EXAMPLES["run"]
    )
    common.add_run_inputs(run)
    run.add_argument("--full", action="store_true", help=FULL_HELP)
    run.add_argument("--fail-on", choices=SEVERITIES, help="exit 1 when a finding is at or above this severity")

    collect = common.add_command(commands, "collect", "Collect from AWS into OUT/snapshot only.", EXAMPLES["collect"])
    common.add_run_inputs(collect)
    collect.add_argument("--full", action="store_true", help=FULL_HELP)

    analyze = common.add_command(
        commands, "analyze", "Re-run the rules offline on a saved snapshot.", EXAMPLES["analyze"]
    )
    analyze.add_argument("--snapshot", type=Path, required=True, help="a snapshot directory (OUT/snapshot)")
    analyze.add_argument(
        "--config", type=Path, help="settings file (default: the settings recorded in the snapshot, else ./config.toml)"
    )
    analyze.add_argument("--out", type=Path, help="output directory (default: the snapshot's parent)")
    analyze.add_argument("--as-of", help="ISO 8601 time to evaluate at (default: the snapshot's as-of)")
    analyze.add_argument("--fail-on", choices=SEVERITIES)
    common.add_state(analyze)


def cmd_run(args: argparse.Namespace) -> int:
    """The nightly run by hand: under the "run" lock, recorded, micro-certifications opened."""
    settings, store = common.settings_and_store(args)
    with Progress.for_stream(sys.stderr) as progress:
        result = run_now(
            _read(args, settings),
            store,
            out_dir=settings.output_dir(args.out),
            as_of=common.as_of(args) or as_of_now(),
            hr_feed=args.hr_feed or settings.hr_feed(),
            fail_on=args.fail_on,
            progress=progress,
        )
    print_summary(result)
    return result.exit_code


def cmd_collect(args: argparse.Namespace) -> int:
    settings, store = common.settings_and_store(args)
    out = settings.output_dir(args.out)
    with Progress.for_stream(sys.stderr) as progress:
        snapshot = collect_to(
            out,
            _read(args, settings),
            as_of=common.as_of(args) or as_of_now(),
            hr_feed=args.hr_feed or settings.hr_feed(),
            store=store,
            progress=progress,
        )
    print_sources(snapshot)
    print(f"snapshot: {out / 'snapshot'}")
    return EXIT_OK if snapshot.complete else EXIT_INCOMPLETE


def recorded_settings(snapshot_dir: Path) -> Settings | None:
    """The settings recorded in a snapshot when it was collected, or None (a snapshot from before they were)."""
    path = snapshot_dir / SETTINGS_FILE
    return configure.load(path, required=True) if path.is_file() else None


def cmd_analyze(args: argparse.Namespace) -> int:
    """The settings the snapshot was made with (recorded in it), unless --config names others."""
    settings = common.settings(args) if args.config else recorded_settings(args.snapshot) or common.settings(args)
    as_of = common.as_of(args)
    store = common.open_store(args, settings)
    with Progress.for_stream(sys.stderr) as progress:
        result = analyze_snapshot(
            args.snapshot,
            settings,
            out_dir=args.out or args.snapshot.parent,
            as_of=as_of,
            fail_on=args.fail_on,
            store=store,
            progress=progress,
        )
    print_summary(result)
    return result.exit_code
