"""`auditor collect` then `auditor analyze` finds what `auditor run` finds, movers remembered by the store included."""

from __future__ import annotations

import csv
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from auditor import snapshot as snapshots
from auditor.cli import main

AS_OF = "2026-10-15T06:00:00Z"
MOVER_RULE = "idc-mover-keeps-old-access"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The tiny sandbox served by `auditor sandbox serve` in its own process (moto's state is per process)."""
    workdir = tmp_path_factory.mktemp("served")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "auditor.cli", "sandbox", "serve", "--port", str(port), "--size", "tiny"]
        + ["--seed", "3", "--as-of", AS_OF, "--workdir", str(workdir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        for line in server.stdout:  # the server says when it is ready
            if line.startswith("Ctrl-C to stop"):
                break
        else:
            raise AssertionError("the sandbox server exited before it was ready")
        yield workdir, f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=60)


@pytest.fixture
def aws_env(served, monkeypatch):
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ENDPOINT_URL", served[1])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return served[0]


def _auditor(*args: str) -> None:
    code = main([*args, "--as-of", AS_OF])
    assert code in (0, 3), f"auditor {args[0]} exited {code}"


def _findings(out: Path) -> set[tuple[str, str, str]]:
    return {(f["finding_id"], f["rule_id"], f["severity"]) for f in json.loads((out / "findings.json").read_text())}


def _move_someone(workdir: Path, seed_run: Path, moved_feed: Path) -> str:
    """Write the feed with one person, who holds their department's birthright group, in another department."""
    groups_of = tomllib.loads((workdir / "config.toml").read_text())["rules"]["department_groups"]
    snapshot = snapshots.load(seed_run / "snapshot")
    names = {g.group_id: g.display_name for g in snapshot.table("idc_groups")}
    users = {u.user_id: u.user_name for u in snapshot.table("idc_users")}
    held: dict[str, set[str]] = {}
    for membership in snapshot.table("idc_memberships"):
        held.setdefault(users.get(membership.user_id, ""), set()).add(names.get(membership.group_id, ""))
    with (workdir / "hr.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames, list(reader)
    person = next(
        row
        for row in rows
        if row["status"] == "active"
        and not row["previous_department"]
        and set(groups_of.get(row["department"], [])) & held.get(row["user_name"], set())
    )
    person["department"] = next(d for d in sorted(groups_of) if d != person["department"] and groups_of[d])
    with moved_feed.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return person["user_name"]


@pytest.mark.e2e
def test_collect_then_analyze_finds_what_run_finds(aws_env, tmp_path):
    workdir = aws_env
    config = str(workdir / "config.toml")
    # a first night remembers everyone's department in the state store
    _auditor("run", "--config", config, "--hr-feed", str(workdir / "hr.csv"), "--out", str(tmp_path / "seed"),
             "--state", str(tmp_path / "run.db"))  # fmt: skip
    with sqlite3.connect(tmp_path / "run.db") as seeded, sqlite3.connect(tmp_path / "split.db") as copy:
        seeded.backup(copy)  # the same history for both ways (the write-ahead log included)
    # the next night's feed has a mover the feed itself does not mark: only the store knows the old department
    feed = tmp_path / "moved.csv"
    mover = _move_someone(workdir, tmp_path / "seed", feed)

    _auditor("run", "--config", config, "--hr-feed", str(feed), "--out", str(tmp_path / "run"),
             "--state", str(tmp_path / "run.db"))  # fmt: skip
    _auditor("collect", "--config", config, "--hr-feed", str(feed), "--out", str(tmp_path / "split"),
             "--state", str(tmp_path / "split.db"))  # fmt: skip
    _auditor("analyze", "--config", config, "--snapshot", str(tmp_path / "split" / "snapshot"),
             "--state", str(tmp_path / "split.db"))  # fmt: skip

    ran, split = _findings(tmp_path / "run"), _findings(tmp_path / "split")
    assert split == ran
    movers = [f for f in json.loads((tmp_path / "split" / "findings.json").read_text()) if f["rule_id"] == MOVER_RULE]
    assert mover in {f["principal"]["name"] for f in movers}
