"""`auditor export`: a compliance view (controls, status, evidence) of a finished run."""

from __future__ import annotations

import argparse
from pathlib import Path

from auditor.cli import common
from auditor.exit_codes import EXIT_INCOMPLETE, EXIT_OK
from auditor.export import export

EXAMPLES = {"export": "auditor export --framework soc2 --format html --out ./evidence"}


def register(commands: common.Commands) -> None:
    parser = common.add_command(
        commands,
        "export",
        "Write a compliance view (controls, status, evidence) of a finished run.",
        EXAMPLES["export"],
    )
    parser.add_argument("--framework", required=True, choices=["cis", "soc2", "iso27001", "nist", "pci"])
    parser.add_argument("--format", choices=["html", "csv", "json", "ocsf", "asff"], default="html")
    parser.add_argument("--run-dir", type=Path, help="a run's output directory (default: the latest recorded run)")
    parser.add_argument("--out", type=Path, help="where to write (default: the run directory)")
    parser.add_argument("--to", choices=["securityhub"], help="also import the framework's findings there")
    common.add_config(parser)
    common.add_state(parser)


def cmd_export(args: argparse.Namespace) -> int:
    settings, store = common.settings_and_store(args)
    result = export(
        settings,
        store,
        framework=args.framework,
        fmt=args.format,
        run_dir=args.run_dir,
        out_dir=args.out,
        to_securityhub=args.to == "securityhub",
    )
    print(f"{args.framework} {args.format}: {result.path}")
    if result.securityhub is not None:
        print(f"securityhub: {result.securityhub}")
        return EXIT_OK if result.securityhub.ok else EXIT_INCOMPLETE
    return EXIT_OK
