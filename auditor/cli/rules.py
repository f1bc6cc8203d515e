"""`auditor rules`: the rule catalogue, for people (table), programs (json) or the docs (md)."""

from __future__ import annotations

import argparse

from auditor.cli import common
from auditor.rules.catalogue import render_catalogue

EXAMPLES = {"rules": "auditor rules --format md > docs/RULES.md"}


def register(commands: common.Commands) -> None:
    rules = common.add_command(commands, "rules", "Print the rule catalogue.", EXAMPLES["rules"])
    common.add_format(rules, ("table", "json", "md"))
    common.add_config(rules)


def cmd_rules(args: argparse.Namespace) -> int:
    print(render_catalogue(args.format, common.settings(args)))
    return 0
