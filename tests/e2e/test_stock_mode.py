"""The demo estate served as a stock emulator serves it: real estates omit fields and lack calls.

Every planted problem that does not need a missing API is found as in the filled sandbox; the
rest are reported as insufficient evidence naming what is missing, never dropped. No clean
principal gets a medium-or-higher finding. No product code knows which mode it runs against.
"""

from __future__ import annotations

import json

import pytest

from auditor.cli import main
from tests.e2e.plain_estates import EMULATOR_ATTEMPTS
from tests.e2e.test_run_on_sandbox import MEDIUM_OR_HIGHER, RULE_FOR, _matches

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stock_run(tmp_path_factory, sandbox):
    out = tmp_path_factory.mktemp("stock")
    config = out / "config.toml"  # the sandbox's, with the emulator's attempt budget
    sandbox_config = (sandbox.hr_feed.parent / "config.toml").read_text()
    config.write_text(f"{sandbox_config}\n[aws]\nmax_attempts = {EMULATOR_ATTEMPTS}\n")
    sandbox.serve_stock()
    try:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in sandbox.env().items():
                patch.setenv(key, value)
            patch.delenv("AWS_PROFILE", raising=False)
            code = main(
                [
                    "run",
                    "--config",
                    str(config),
                    "--out",
                    str(out),
                    "--hr-feed",
                    str(sandbox.hr_feed),
                    "--as-of",
                    sandbox.as_of.isoformat(),
                    "--state",
                    str(out / "state.db"),
                ]
            )
    finally:
        sandbox.serve_stock(False)
    return (
        code,
        json.loads((out / "findings.json").read_text()),
        json.loads((out / "snapshot/manifest.json").read_text()),
        out,
    )


def test_every_planted_problem_is_found_or_named_undecidable(stock_run, sandbox):
    _, findings, _, _ = stock_run
    outcomes = {}
    for planted in (p for p in sandbox.planted if p.problem in RULE_FOR):
        mine = [f for f in findings if f["rule_id"] == RULE_FOR[planted.problem] and _matches(f, planted)]
        if any(f["severity"] != "info" for f in mine):
            outcomes[planted.problem, planted.name] = "found"
        elif any(f["evidence"].get("insufficient_evidence") and f["evidence"].get("missing") for f in mine):
            outcomes[planted.problem, planted.name] = "insufficient"
        else:
            outcomes[planted.problem, planted.name] = "missed"
    missed = sorted(key for key, outcome in outcomes.items() if outcome == "missed")
    assert missed == [], f"planted problems neither found nor named undecidable in stock mode: {missed}"
    # what a stock emulator really lacks decides which are undecidable; most must still be found
    assert sum(o == "found" for o in outcomes.values()) >= len(outcomes) * 2 // 3, outcomes


def test_no_medium_or_higher_finding_on_a_clean_principal(stock_run, sandbox):
    _, findings, _, _ = stock_run
    clean = {(kind, name) for kind, name, _ in sandbox.clean}
    noisy = [
        (f["rule_id"], f["principal"]["name"])
        for f in findings
        if f["severity"] in MEDIUM_OR_HIGHER
        and (f["principal"]["type"] if f["principal"]["type"] != "access_key" else "iam_user", f["principal"]["name"])
        in clean
    ]
    assert noisy == []


def test_the_missing_apis_are_named_in_the_manifest(stock_run):
    code, _, manifest, _ = stock_run
    problems = [s for s in manifest["sources"] if s["status"] != "ok" or s.get("attributes")]
    assert code == 3 and problems  # a stock emulator lacks Access Advisor, tags, boundaries, the root row


def test_explain_names_what_an_undecidable_principal_lacks(stock_run, capsys):
    """Stock moto's credential report has no root row: root's credential rules cannot decide, and say why."""
    out = stock_run[3]
    assert main(["explain", "root", "--run-dir", str(out), "--format", "json"]) == 0
    documents = json.loads(capsys.readouterr().out)
    undecided = [v for d in documents for v in d["verdicts"] if v["outcome"] == "insufficient"]
    assert undecided and all(v["detail"].startswith("cannot decide") for v in undecided)
