"""A snapshot keeps the settings it was made with, and `auditor analyze` re-reads it with them unless told."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from auditor import configure
from auditor.cli import main
from auditor.cli import run as run_cli
from auditor.cli.demo import write_run_config
from auditor.pipeline import conclude
from auditor.store import Store
from tests.report.builders import small_snapshot

AS_OF = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
RECORDED = (
    '[rules]\ndisabled = ["idc-user-inactive"]\ninactive_days = 60\n'
    '[notifications]\nslack_webhook_url = "https://hooks.slack.com/services/T0/B0/SECRET"\n'
)
HERE = '[rules]\ndisabled = ["iam-user-inactive"]\n'


@pytest.fixture
def run_dir(tmp_path):
    config = tmp_path / "audited-with.toml"
    config.write_text(RECORDED)
    out = tmp_path / "run"
    settings = configure.load(config, required=True)
    conclude(
        small_snapshot(),
        settings,
        out_dir=out,
        as_of=AS_OF,
        store=Store.open(tmp_path / "s.db"),
        began=0.0,
        save_snapshot=True,
    )
    return out


@pytest.fixture
def used(monkeypatch):
    """The settings `analyze` hands to the analysis."""
    seen = []

    def analyze_snapshot(snapshot_dir, settings, **options):
        seen.append(settings)
        raise SystemExit(0)

    monkeypatch.setattr(run_cli, "analyze_snapshot", analyze_snapshot)
    return seen


def test_the_run_records_its_analysis_settings_in_the_snapshot_and_no_secret(run_dir, tmp_path):
    recorded = run_dir / "snapshot" / "config.toml"
    assert "SECRET" not in recorded.read_text()  # a webhook must not travel with run directories
    original = tmp_path / "audited-with.toml"
    again = configure.load(recorded, required=True)
    assert again.section("rules") == configure.load(original, required=True).section("rules")
    assert again.get("rules", "disabled") == ["idc-user-inactive"] and again.get("rules", "inactive_days") == 60


def test_analyze_uses_the_recorded_settings_not_the_working_directory(run_dir, used, tmp_path, monkeypatch):
    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / "config.toml").write_text(HERE)
    monkeypatch.chdir(work)
    with pytest.raises(SystemExit):
        main(["analyze", "--snapshot", str(run_dir / "snapshot"), "--state", str(tmp_path / "s.db")])
    assert used[-1].get("rules", "disabled") == ["idc-user-inactive"] and used[-1].get("rules", "inactive_days") == 60
    with pytest.raises(SystemExit):
        main(["analyze", "--snapshot", str(run_dir / "snapshot"), "--config", "config.toml", "--state", "s.db"])
    assert used[-1].get("rules", "disabled") == ["iam-user-inactive"]


def test_a_snapshot_without_recorded_settings_reads_the_working_directory(run_dir, used, tmp_path, monkeypatch):
    (run_dir / "snapshot" / "config.toml").unlink()
    (tmp_path / "config.toml").write_text(HERE)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        main(["analyze", "--snapshot", str(run_dir / "snapshot"), "--state", "s.db"])
    assert used[-1].get("rules", "disabled") == ["iam-user-inactive"]


def test_the_demo_writes_its_settings_beside_its_outputs_with_the_feed_found_from_there(tmp_path):
    out = tmp_path / "demo"
    (out / "sandbox").mkdir(parents=True)
    feed = out / "sandbox" / "hr.csv"
    feed.write_text("employee_id\n")
    sandbox_config = out / "sandbox" / "config.toml"
    sandbox_config.write_text('[hr]\nfeed = "hr.csv"\n\n[rules]\nshared_groups = ["everyone"]\n')
    written = write_run_config(sandbox_config, feed, out)
    assert written == out / "config.toml"
    settings = configure.load(written, required=True)
    assert settings.hr_feed() == feed and settings.get("rules", "shared_groups") == ["everyone"]
