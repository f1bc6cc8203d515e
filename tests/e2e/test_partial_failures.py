"""A run that cannot read everything still completes, says what is missing, and invents nothing."""

from __future__ import annotations

import csv
import json

import botocore.exceptions
import pytest

from auditor.aws import AwsContext
from auditor.cli import main
from auditor.config import defaults
from auditor.exit_codes import EXIT_INCOMPLETE
from auditor.pipeline import run
from auditor.store import Store

pytestmark = pytest.mark.e2e


class OneAccountDenied(AwsContext):
    """The member role cannot be assumed in one account, as when its trust policy is wrong."""

    denied: str = ""

    def credentials_for(self, account_id: str):
        if account_id == self.denied:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "AccessDenied", "Message": f"not authorized to assume role in {account_id}"}},
                "AssumeRole",
            )
        return super().credentials_for(account_id)


def test_a_source_failing_for_one_account_gives_exit_3_and_a_manifest_that_says_what(sandbox_env, tmp_path):
    denied = next(a for name, a in sandbox_env.accounts.items() if a != sandbox_env.management_account_id)
    context = OneAccountDenied.from_environment()
    context.denied = denied
    result = run(
        defaults(),
        out_dir=tmp_path,
        as_of=sandbox_env.as_of,
        hr_feed=sandbox_env.hr_feed,
        store=Store.open(tmp_path / "state.db"),
        context=context,
    )
    assert result.exit_code == EXIT_INCOMPLETE
    manifest = json.loads((tmp_path / "snapshot" / "manifest.json").read_text())
    failed = [s for s in manifest["sources"] if s["status"] != "ok"]
    # Access Advisor has nothing to ask about in that account (IAM listed no one), so IAM alone is missing
    assert [(s["source"], s["account_id"]) for s in failed] == [("iam", denied)]
    (iam,) = failed
    assert iam["status"] == "failed" and "AccessDenied" in iam["error"]
    # the other accounts were read and reported
    findings = json.loads((tmp_path / "findings.json").read_text())
    in_denied = [f for f in findings if f["account_id"] == denied and f["rule_id"].startswith("iam-")]
    assert findings and all(f["severity"] == "info" and f["evidence"]["insufficient_evidence"] for f in in_denied)
    # its root user is not passed over in silence: undecided, naming what is missing
    root = [f for f in in_denied if f["rule_id"] in ("iam-root-access-key", "iam-root-without-mfa")]
    assert len(root) == 2
    assert all(f["evidence"]["missing"].startswith(f"IAM could not be read for account {denied}") for f in root)
    assert any(f["rule_id"].startswith("iam-") for f in findings)


def test_a_malformed_hr_row_is_named_and_never_makes_a_leaver_or_an_orphan(sandbox_env, tmp_path, capsys):
    leaver = next(p for p in sandbox_env.planted if p.problem == "leaver")
    rows = list(csv.reader(sandbox_env.hr_feed.read_text().splitlines()))
    header = rows[0]
    line = next(i for i, row in enumerate(rows) if row[header.index("user_name")] == leaver.name) + 1
    rows[line - 1][header.index("status")] = "gone"  # not a valid status
    feed = tmp_path / "hr.csv"
    with feed.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    out = tmp_path / "out"
    code = main(
        [
            "run",
            "--out",
            str(out),
            "--hr-feed",
            str(feed),
            "--as-of",
            sandbox_env.as_of.isoformat(),
            "--state",
            str(tmp_path / "state.db"),
        ]
    )
    assert code == 3
    printed = capsys.readouterr().out
    assert f"hr.csv line {line}: status 'gone' is not one of active, leave, terminated" in printed  # grouped summary
    manifest = json.loads((out / "snapshot" / "manifest.json").read_text())
    assert {"what": f"hr.csv line {line}", "error": "status 'gone' is not one of active, leave, terminated"} in (
        manifest["unreadable"]
    )
    about_leaver = [f for f in json.loads((out / "findings.json").read_text()) if f["principal"]["name"] == leaver.name]
    leaver_claims = [f for f in about_leaver if f["rule_id"] == "idc-leaver-with-access"]
    # no leaver is made of an unreadable row: the rule says it cannot decide, at info, and why
    assert [(f["severity"], f["evidence"]["insufficient_evidence"]) for f in leaver_claims] in ([], [("info", True)])
    orphaned = [f for f in about_leaver if f["rule_id"] == "idc-user-not-in-hr"]
    assert [f["severity"] for f in orphaned] == ["info"] and orphaned[0]["evidence"]["insufficient_evidence"]


def test_an_hr_feed_cut_short_makes_no_orphans_and_the_next_night_still_compares_with_the_whole_one(
    sandbox_env, tmp_path, capsys
):
    text = sandbox_env.hr_feed.read_text()
    lines = text.splitlines(keepends=True)
    cut = tmp_path / "hr.csv"
    cut.write_text("".join(lines[: len(lines) // 2]))  # the export died halfway, at a row's end
    header = next(csv.reader(lines[:1]))
    dropped = {row[header.index("user_name")] for row in csv.reader(lines[len(lines) // 2 :])}

    def night(feed, name):
        argv = ["run", "--out", str(tmp_path / name), "--hr-feed", str(feed), "--state", str(tmp_path / "s.db")]
        code = main([*argv, "--as-of", sandbox_env.as_of.isoformat()])
        findings = json.loads((tmp_path / name / "findings.json").read_text())
        hr = next(
            s
            for s in json.loads((tmp_path / name / "snapshot" / "manifest.json").read_text())["sources"]
            if s["source"] == "hr"
        )
        orphans = {
            f["principal"]["name"]
            for f in findings
            if f["rule_id"] == "idc-user-not-in-hr" and not f["evidence"].get("insufficient_evidence")
        }
        return code, hr, orphans

    code, hr, whole_orphans = night(sandbox_env.hr_feed, "night1")
    assert hr["status"] == "ok"
    for name in ("night2", "night3"):  # cut two nights running: each compared with the last whole feed
        code, hr, orphans = night(cut, name)
        assert code == EXIT_INCOMPLETE
        assert hr["status"] == "partial" and "the feed looks cut short" in hr["error"]
        assert hr["detail"]["dropped_since_last_run"]["missing"] >= len(dropped) // 2
        assert not orphans & dropped  # nobody became an orphan because the feed stopped early
        assert orphans <= whole_orphans
    assert "the feed looks cut short" in capsys.readouterr().out


def test_an_hr_feed_without_a_required_column_stops_before_any_aws_call(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # any AWS call would fail differently
    feed = tmp_path / "hr.csv"
    feed.write_text("employee_id,email\nE1,a@example.com\n")
    out = tmp_path / "out"
    assert main(["run", "--out", str(out), "--hr-feed", str(feed), "--state", str(tmp_path / "s.db")]) == 2
    assert "hr.csv line 1: missing required column(s)" in capsys.readouterr().err
    assert not (out / "findings.json").exists()
