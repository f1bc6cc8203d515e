"""On the sandbox: plan from a closed campaign -> apply -> verify -> rollback -> the estate is as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_campaign_revocations_apply_verify_and_roll_back_exactly(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [sys.executable, "-m", "tests.e2e.remediation_cycle", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    cycle = json.loads((tmp_path / "cycle.json").read_text())
    assert cycle["import_ok"] and cycle["decided"]["keep"] and cycle["decided"]["revoke"]
    assert cycle["revocations"] > 0 and cycle["plan_actions"] > 0
    assert cycle["applied"] == {"done": cycle["plan_actions"]}, cycle["applied"]
    # a reviewer's "revoke" on a break-glass identity never reaches AWS
    assert all("break-glass" in why or "protected" in why for why in cycle["plan_excluded"])
    assert cycle["verified"] is True
    assert cycle["changed_while_applied"] is True
    assert cycle["rolled_back"] == {"restored": cycle["plan_actions"]}, cycle["rolled_back"]
    assert cycle["restored"] is True, cycle["differences"]
