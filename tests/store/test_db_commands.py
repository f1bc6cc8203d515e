"""`auditor db upgrade|current|export|import`: the schema applied explicitly, and a copy restored row for row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from auditor.campaign import create_campaign
from auditor.cli import main
from auditor.schedule.locks import job_lock
from auditor.store import Store, backup, migrate
from tests import postgresql
from tests.campaign.estate import NOW, build_world, make_settings, save_run, spec
from tests.store.test_audit_chain import _record_runs
from tests.store.test_migrations import _previous_release


@pytest.fixture
def empty_url(store_url, tmp_path, request):
    """A second, empty database of the same kind as ``store_url``: where a copy is restored."""
    if "://" not in store_url:
        yield str(tmp_path / "restored.db")
        return
    with postgresql.fresh_database(request.getfixturevalue("postgresql_server")) as url:
        yield url


def _used_store(url: str, tmp_path: Path) -> Store:
    """A store with runs, findings history, audit entries, a campaign (a sealed signing key) and a lock row."""
    store = Store.open(url, key_file=tmp_path / "state.key")
    _record_runs(store, 3)
    settings = make_settings()
    create_campaign(store, settings, spec(), now=NOW, run_dir=save_run(build_world(), tmp_path / "run", settings))
    with job_lock(store, "run", heartbeat=False):
        store.audit("exception.added", "someone", {"why": "a test"})
    return store


def _contents(store: Store) -> dict[str, list[dict]]:
    meta = sa.MetaData()
    with store.engine.connect() as conn:
        meta.reflect(conn)
        return {
            t.name: [
                {k: backup._encode(v) for k, v in row.items()}
                for row in conn.execute(sa.select(t).order_by(*(t.primary_key.columns or t.columns))).mappings()
            ]
            for t in meta.sorted_tables
        }


def test_an_export_restores_into_an_empty_database_row_for_row(store_url, empty_url, tmp_path, capsys):
    store = _used_store(store_url, tmp_path)
    key = ["--config", str(_config(tmp_path))]
    assert main(["db", "export", str(tmp_path / "copy"), "--state", store_url, *key]) == 0
    out = capsys.readouterr().out
    assert f"audit head {store.head()}" in out
    manifest = json.loads((tmp_path / "copy" / "manifest.json").read_text())
    assert manifest["audit_head"] == str(store.head()) and manifest["revision"] == migrate.head()
    assert manifest["tables"]["campaign_items"]["rows"] > 0

    assert main(["db", "import", str(tmp_path / "copy"), "--state", empty_url, *key]) == 0
    assert f"head {store.head()}" in capsys.readouterr().out
    restored = Store.open(empty_url, key_file=tmp_path / "state.key")
    assert _contents(restored) == _contents(store)
    assert restored.verify_audit() == store.verify_audit()
    assert restored.verify_audit()[1] is None
    _record_runs(restored, 1)  # new rows take new ids after the restored ones
    assert restored.latest_run()["id"] == 4
    assert restored.verify_audit()[1] is None


def test_a_changed_copy_or_a_used_database_is_refused(store_url, empty_url, tmp_path, capsys):
    store = _used_store(store_url, tmp_path)
    done = backup.export(store, tmp_path / "copy")
    assert done.rows["audit_log"] == store.head().id
    key = ["--config", str(_config(tmp_path))]

    assert main(["db", "import", str(tmp_path / "copy"), "--state", store_url, *key]) == 2
    assert "is not empty" in capsys.readouterr().err

    runs = tmp_path / "copy" / "runs.jsonl"
    runs.write_text(runs.read_text().replace('"exit_code":0', '"exit_code":1', 1))
    assert main(["db", "import", str(tmp_path / "copy"), "--state", empty_url, *key]) == 2
    assert "runs.jsonl does not match its SHA-256" in capsys.readouterr().err
    assert main(["db", "export", str(tmp_path / "copy"), "--state", store_url, *key]) == 2  # never overwrites


def test_with_auto_upgrade_off_a_store_behind_the_release_waits_for_db_upgrade(tmp_path, capsys):
    path = _previous_release(tmp_path / "state.db")
    config = tmp_path / "config.toml"
    config.write_text("[state]\nauto_upgrade = false\n")
    state = ["--state", str(path), "--config", str(config)]

    assert main(["audit", "verify", *state]) == 2
    assert "run `auditor db upgrade`" in capsys.readouterr().err
    assert main(["db", "current", *state]) == 1
    assert f"this release's head is {migrate.head()}" in capsys.readouterr().out

    assert main(["db", "upgrade", *state]) == 0
    assert f"to {migrate.head()}" in capsys.readouterr().out
    assert main(["db", "current", *state]) == 0
    assert f"revision {migrate.head()} (head)" in capsys.readouterr().out
    assert main(["audit", "verify", *state]) == 0


def test_db_current_on_postgresql(postgresql_url, tmp_path, capsys):
    assert main(["db", "current", "--state", postgresql_url]) == 1
    assert main(["db", "upgrade", "--state", postgresql_url, "--config", str(_config(tmp_path))]) == 0
    capsys.readouterr()
    assert main(["db", "current", "--state", postgresql_url]) == 0
    out = capsys.readouterr().out
    assert f"revision {migrate.head()} (head)" in out


def _config(tmp_path: Path) -> Path:
    """The key file both databases share: a copy holds no key, its chain verifies with the store's."""
    path = tmp_path / "keys.toml"
    path.write_text(f'[state]\naudit_key_file = "{tmp_path / "state.key"}"\n')
    return path
