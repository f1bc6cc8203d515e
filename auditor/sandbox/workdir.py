"""What the sandbox leaves beside its HR feed: the settings to audit it with, and what it planted.

``config.toml`` maps each department to its birthright groups, so a run
with it exercises the rules that read ``department_groups``; the HR feed is
named relative to it. ``planted.json`` lists the planted problems, the
boundary cases and the clean principals, for checking a run from outside
the process that built the sandbox.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from auditor.sandbox.plan import World

if TYPE_CHECKING:
    from auditor.sandbox.server import Sandbox

CONFIG_NAME = "config.toml"
PLANTED_NAME = "planted.json"


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"  # a JSON string is a TOML basic string


def write_config(world: World, workdir: Path, hr_feed: Path) -> Path:
    lines = [
        f"# Settings for auditing the {world.company} sandbox: auditor run --config {CONFIG_NAME}",
        "# The organisation, Identity Center and the trail are discovered; only what cannot be is here.",
        "",
        "[hr]",
        f"feed = {json.dumps(hr_feed.name)}",
        "",
        "[rules]",
        "# groups everyone may hold whatever their department (none in this organisation)",
        f"shared_groups = {_toml_list(world.shared_groups)}",
        "",
        "# each department's birthright groups; a department mapped to [] has no AWS access by birthright",
        "[rules.department_groups]",
        *(
            f"{json.dumps(department)} = {_toml_list(groups)}"
            for department, groups in sorted(world.department_groups.items())
        ),
        "",
        "[campaigns]",
        "# who reviews what has no manager or owner in HR (service users): the head of the company",
        f"fallback_reviewer = {json.dumps(world.people[0].email)}",
    ]
    path = workdir / CONFIG_NAME
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_planted(sandbox: Sandbox, workdir: Path) -> Path:
    document = {
        "size": sandbox.size,
        "seed": sandbox.seed,
        "as_of": sandbox.as_of.isoformat(),
        "stock": sandbox.stock,  # served without the fills: as stock moto serves the estate
        "management_account_id": sandbox.management_account_id,
        "accounts": sandbox.accounts,
        "planted": [asdict(p) for p in sandbox.planted],
        "boundary": [asdict(p) for p in sandbox.boundary],
        "clean": [
            {"principal_type": kind, "name": name, "account_id": account_id} for kind, name, account_id in sandbox.clean
        ],
    }
    path = workdir / PLANTED_NAME
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path
