"""Estates the sandbox did not build, served by a stock emulator: every planted problem is reported
(as a finding, or as insufficient evidence where the emulator lacks the API) and no clean principal
is flagged."""

from __future__ import annotations

import json

import pytest

from auditor.cli import main
from tests.e2e.plain_estate import stock_emulator
from tests.e2e.plain_estates import ESTATES

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=sorted(ESTATES))
def audited(request, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp(request.param)
    with stock_emulator() as endpoint, pytest.MonkeyPatch.context() as monkeypatch:
        estate = ESTATES[request.param](endpoint, tmp_path)
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            monkeypatch.delenv(key, raising=False)
        for key, value in estate.env().items():
            monkeypatch.setenv(key, value)
        out = tmp_path / "out"
        code = main(
            [
                "run",
                "--config",
                str(estate.config),
                "--hr-feed",
                str(estate.hr_feed),
                "--out",
                str(out),
                "--as-of",
                estate.as_of.isoformat(),
                "--state",
                str(tmp_path / "state.db"),
            ]
        )
    findings = json.loads((out / "findings.json").read_text())
    manifest = json.loads((out / "snapshot" / "manifest.json").read_text())
    return estate, code, findings, manifest


def _names(finding: dict) -> set[str]:
    principal = finding["principal"]
    return {value for value in (principal.get("name"), principal.get("id")) if value}


def test_every_planted_problem_is_found(audited):
    estate, code, findings, _ = audited
    assert code in (0, 3)
    decided = {
        (f["rule_id"], name) for f in findings if not f["evidence"].get("insufficient_evidence") for name in _names(f)
    }
    missing = sorted(estate.planted - decided)
    assert not missing, f"planted problems not reported: {missing}"


def test_no_clean_principal_is_flagged(audited):
    estate, _, findings, _ = audited
    flagged = sorted(
        (f["rule_id"], f["principal"]["name"], f["severity"])
        for f in findings
        if f["severity"] != "info" and _names(f) & estate.clean
    )
    assert not flagged, f"clean principals flagged: {flagged}"


def test_what_the_emulator_lacks_is_named_not_skipped(audited):
    """Access Advisor and the root row of the credential report are missing from a stock emulator."""
    _, code, findings, manifest = audited
    insufficient = [f for f in findings if f["evidence"].get("insufficient_evidence")]
    assert all(f["severity"] == "info" and f["evidence"].get("missing") for f in insufficient)
    failed = [s for s in manifest["sources"] if s["status"] != "ok"]
    assert code == (3 if failed or manifest["unreadable"] else 0)
