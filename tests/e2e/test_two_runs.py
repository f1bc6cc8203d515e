"""Two nightly runs with a change in between: the change shows as resolved and new in JSON, CSV and HTML.

The estate is served by `auditor sandbox serve` in its own process (one sandbox per process; the
session sandbox must stay untouched), changed through the AWS APIs like an administrator would.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

pytestmark = pytest.mark.e2e

AS_OF = "2026-10-15T06:00:00Z"
LATER = "2026-10-16T06:00:00Z"


def _run(out: Path, as_of: str, env: dict, workdir: Path, state: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "auditor.cli",
            "run",
            "--out",
            str(out),
            "--hr-feed",
            str(workdir / "hr.csv"),
            "--as-of",
            as_of,
            "--state",
            str(state),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=workdir,
    )


def test_a_removed_user_and_a_deactivated_key_are_resolved_next_night(tmp_path):
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    workdir = tmp_path / "served"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "auditor.cli",
            "sandbox",
            "serve",
            "--port",
            "0",  # the server binds a free port and prints its endpoint
            "--size",
            "tiny",
            "--seed",
            "5",
            "--as-of",
            AS_OF,
            "--workdir",
            str(workdir),
        ],
        env=base_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        endpoint = None
        for line in server.stdout:  # the server says where it listens, then that it is ready
            if line.startswith("export AWS_ENDPOINT_URL="):
                endpoint = line.strip().split("=", 1)[1]
            if line.startswith("Ctrl-C to stop"):
                break
        env = {
            **base_env,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        state = tmp_path / "state.db"
        first = _run(tmp_path / "night1", AS_OF, env, workdir, state)
        assert first.returncode == 0, first.stderr[-2000:]
        findings = json.loads((tmp_path / "night1" / "findings.json").read_text())
        orphan = next(f for f in findings if f["rule_id"] == "idc-user-not-in-hr")
        stale = next(f for f in findings if f["rule_id"] == "iam-access-key-unused")

        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
        endpoint = env["AWS_ENDPOINT_URL"]
        store_id = session.client("sso-admin", endpoint_url=endpoint).list_instances()["Instances"][0][
            "IdentityStoreId"
        ]
        session.client("identitystore", endpoint_url=endpoint).delete_user(
            IdentityStoreId=store_id, UserId=orphan["principal"]["id"]
        )
        role = f"arn:aws:iam::{stale['account_id']}:role/OrganizationAccountAccessRole"
        creds = session.client("sts", endpoint_url=endpoint).assume_role(RoleArn=role, RoleSessionName="admin")[
            "Credentials"
        ]
        member_iam = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        member_iam.update_access_key(
            UserName=stale["principal"]["name"], AccessKeyId=stale["resource"], Status="Inactive"
        )

        second = _run(tmp_path / "night2", LATER, env, workdir, state)
        assert second.returncode == 0, second.stderr[-2000:]
    finally:
        server.terminate()
        server.wait(timeout=60)

    night2 = tmp_path / "night2"
    by_id = {f["finding_id"]: f for f in json.loads((night2 / "findings.json").read_text())}
    assert by_id[orphan["finding_id"]]["status"] == "resolved"
    assert by_id[stale["finding_id"]]["status"] == "resolved"
    assert by_id[stale["finding_id"]]["resolved_at"].startswith("2026-10-16")
    assert {f["status"] for f in by_id.values()} <= {"open", "resolved", "new", "suppressed"}
    assert sum(f["status"] == "open" for f in by_id.values()) >= len(findings) - 2 - 5

    rows = {r["finding_id"]: r for r in csv.DictReader((night2 / "findings.csv").open(encoding="utf-8-sig"))}
    assert rows[orphan["finding_id"]]["status"] == "resolved"
    assert rows[stale["finding_id"]]["status"] == "resolved"

    html = (night2 / "report.html").read_text()
    summary = html[: html.index('id="trend')]  # the server-rendered "since the previous run" section
    resolved = sum(f["status"] == "resolved" for f in by_id.values())
    assert f"<strong>{resolved}</strong> resolved" in summary
    section = summary[summary.index("Resolved") :]
    assert orphan["title"] in section and stale["title"] in section
