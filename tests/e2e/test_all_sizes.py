"""Every size of sandbox, audited end to end: each planted problem is found by its rule, no clean
principal draws a medium or higher finding, and no boundary case is reported by the rule it tests.

The small sandbox is audited in this process (test_run_on_sandbox.py); tiny and medium by `auditor demo`
in fresh interpreters at once, since one process holds one sandbox. The demo audits with the settings
the sandbox writes for its estate, and leaves DIR/findings.json and the sandbox's list of plants,
DIR/sandbox/planted.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.rules import RULES
from tests.e2e.test_run_on_sandbox import RULE_FOR as RULE_FOR_REPORTED

pytestmark = pytest.mark.e2e

REPOSITORY = Path(__file__).resolve().parents[2]
AS_OF = "2026-03-02T06:00:00+00:00"
BUILDS = {"tiny": 4, "medium": 3}  # size -> seed
# The one rule whose findings are always info (an inventory of dead configuration) is left out of the
# in-process check, which asks for more than info.
RULE_FOR = RULE_FOR_REPORTED | {"unassigned_permission_set": "idc-permission-set-unassigned"}
MEDIUM_OR_HIGHER = {"critical", "high", "medium"}
IAM_KINDS = {"iam_user", "iam_role", "access_key", "root"}  # named per account; the others organisation-wide


@pytest.fixture(scope="module")
def audits(tmp_path_factory) -> dict[str, tuple[dict, list[dict]]]:
    """size -> (planted.json, findings.json), both sizes built and audited at once."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    outs = {size: tmp_path_factory.mktemp(size) for size in BUILDS}
    running = {
        size: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "auditor.cli",
                "demo",
                "--size",
                size,
                "--seed",
                str(seed),
                "--as-of",
                AS_OF,
                "--out",
                str(outs[size]),
            ],
            cwd=REPOSITORY,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for size, seed in BUILDS.items()
    }
    results = {}
    for size, process in running.items():
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-3000:]
        results[size] = (
            json.loads((outs[size] / "sandbox" / "planted.json").read_text()),
            json.loads((outs[size] / "findings.json").read_text()),
        )
    return results


def _about(finding: dict, case: dict) -> bool:
    """The finding concerns the planted principal, in its account when it has one."""
    if case["account_id"] is not None and finding["account_id"] != case["account_id"]:
        return False
    names = {finding["principal"]["name"], finding["principal"]["id"], finding["resource"]}
    return case["name"] in names or case["detail"].get("access_key_id") in names - {None}


def _found(findings: list[dict], case: dict) -> list[dict]:
    return [f for f in findings if f["rule_id"] == RULE_FOR[case["problem"]] and _about(f, case)]


def test_every_rule_in_the_catalogue_has_a_planted_problem():
    unplanted = sorted(set(RULES) - set(RULE_FOR.values()))
    assert set(RULE_FOR.values()) == set(RULES), (
        f"no planted problem for {unplanted}: add a problem name to PROBLEMS in auditor/sandbox/plan.py, plant it "
        "in auditor/sandbox/plants.py (or access_plants.py, iam_plants.py), and map it to its rule in RULE_FOR in "
        "tests/e2e/test_run_on_sandbox.py"
    )


@pytest.mark.parametrize("size", sorted(BUILDS))
def test_every_planted_problem_is_found_by_its_rule(audits, size):
    planted, findings = audits[size]
    assert {p["problem"] for p in planted["planted"]} == set(RULE_FOR)
    missed = [
        (p["problem"], p["name"], p["account_id"])
        for p in planted["planted"]
        if not [f for f in _found(findings, p) if not f["evidence"].get("insufficient_evidence")]
    ]
    assert missed == []


@pytest.mark.parametrize("size", sorted(BUILDS))
def test_no_clean_principal_has_a_medium_or_higher_finding(audits, size):
    planted, findings = audits[size]

    def key(kind: str, name: str, account_id: str | None) -> tuple:
        kind = "iam_user" if kind == "access_key" else kind
        return kind, name, account_id if kind in IAM_KINDS else None

    clean = {key(c["principal_type"], c["name"], c["account_id"]) for c in planted["clean"]}
    assert len(clean) > len(planted["planted"])
    noisy = [
        (f["rule_id"], f["principal"]["name"], f["account_id"])
        for f in findings
        if f["severity"] in MEDIUM_OR_HIGHER
        and key(f["principal"]["type"], f["principal"]["name"], f["account_id"]) in clean
    ]
    assert noisy == []


@pytest.mark.parametrize("size", sorted(BUILDS))
def test_no_boundary_case_is_reported_by_the_rule_it_tests(audits, size):
    planted, findings = audits[size]
    assert planted["boundary"]
    reported = [
        (b["problem"], b["name"], [f["title"] for f in _found(findings, b)])
        for b in planted["boundary"]
        if _found(findings, b)
    ]
    assert reported == []
