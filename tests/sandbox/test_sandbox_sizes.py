"""Every size builds, and a rebuild in a fresh process gives the same organisation, ids and plants, in either mode."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.sandbox.plan import PROBLEMS
from tests.sandbox.conftest import AS_OF, SEED
from tests.sandbox.support import fingerprint

pytestmark = pytest.mark.e2e

REPOSITORY = Path(__file__).resolve().parents[2]
BUILDS = {
    "tiny": ("tiny", SEED, "filled"),
    "tiny-stock": ("tiny", SEED, "stock"),
    "small": ("small", SEED, "filled"),
    "medium": ("medium", SEED, "filled"),
    "large": ("large", SEED, "filled"),
}


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory) -> dict[str, dict]:
    """Each build in its own fresh interpreter (moto's state is per process), all at once."""
    running = {
        name: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.sandbox.support",
                size,
                str(seed),
                AS_OF.isoformat(),
                str(tmp_path_factory.mktemp(name)),
                mode,
            ],
            cwd=REPOSITORY,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (size, seed, mode) in BUILDS.items()
    }
    results = {}
    for name, process in running.items():
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-3000:]
        results[name] = json.loads(out.splitlines()[-1])
    return results


def test_same_seed_and_as_of_rebuild_the_same_sandbox(tiny, elsewhere):
    assert elsewhere["tiny"]["fingerprint"] == fingerprint(tiny)


def test_stock_mode_serves_the_same_estate_without_the_fills(tiny, elsewhere):
    assert elsewhere["tiny-stock"]["fingerprint"] == fingerprint(tiny)
    assert elsewhere["tiny"]["served"] == {"user_status": True, "planted_stock": False}
    assert elsewhere["tiny-stock"]["served"] == {"user_status": False, "planted_stock": True}


@pytest.mark.parametrize(
    ("size", "accounts", "people"), [("tiny", 3, 40), ("small", 5, 75), ("medium", 12, 300), ("large", 24, 900)]
)
def test_each_size_builds_with_every_problem_planted(elsewhere, size, accounts, people):
    built = elsewhere[size]["fingerprint"]
    assert len(built["accounts"]) == accounts
    assert people <= built["hr"].count("\n") - 1 <= people * 1.35
    assert {p["problem"] for p in built["planted"]} == set(PROBLEMS)
    assert len(built["clean"]) > len(built["planted"])
    assert all(p["account_id"] in {a for a, _ in built["accounts"]} for p in built["planted"] if p["account_id"])
