"""Event latency on the sandbox: event received -> finding written, and event -> access disabled.

For each size: build the sandbox, plant a leaver (groups, a direct
administrator assignment, an owned IAM user with a key), run the nightly
audit once (the stored evidence the check reads), then time

- a CloudTrail CreateAccountAssignment event granting AdministratorAccess
  directly to a new user, until ``idc-admin-direct-assignment`` is recorded;
- the leaver's HR event with immediate suspension, until the user is
  disabled (the whole offboarding: check, plan, retention copy, apply, verify);
- ``auditor check`` of the leaver by email: seconds and API calls.

    python bench/event_latency.py [SIZE ...] [--seed N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3

from auditor import configure
from auditor.events.check import check_person
from auditor.events.intake import accept
from auditor.events.person import Who
from auditor.events.workflow import Services
from auditor.pipeline import run
from auditor.sandbox import start_sandbox
from auditor.sandbox.estate import SIZES
from auditor.sandbox.leaver import admin_permission_set, member_account, plant_leaver
from auditor.store import Store

AS_OF = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


def measure(size: str, seed: int, workdir: Path) -> dict:
    with start_sandbox(size=size, seed=seed, as_of=AS_OF, workdir=workdir / "sandbox") as sandbox:
        os.environ.update(sandbox.env())
        leaver = plant_leaver(sandbox)
        settings = configure.load(sandbox.config_file)
        settings.values["remediation"]["max_share"] = 1.0
        settings.values["events"]["immediate_suspension"] = True
        settings.values["events"]["retention_dir"] = str(workdir / "retention")
        settings.values["notifications"]["outbox_dir"] = str(workdir / "outbox")
        settings.values["notifications"]["channels"] = ["outbox"]
        store = Store.open(workdir / "state.db")
        started = time.perf_counter()
        run(settings, out_dir=workdir / "night", as_of=AS_OF, hr_feed=sandbox.hr_feed, store=store)
        nightly = time.perf_counter() - started
        services = Services(hr_feed=sandbox.hr_feed, out_dir=workdir / "events")
        now = AS_OF + timedelta(hours=1)

        grant = _grant(sandbox)
        started = time.perf_counter()
        outcome = accept(grant, store=store, settings=settings, origin="eventbridge", now=now, services=services)
        to_finding = time.perf_counter() - started
        assert any(f["rule_id"] == "idc-admin-direct-assignment" for f in outcome.findings), outcome

        started = time.perf_counter()
        checked = check_person(Who(query=leaver.email), settings=settings, store=store, as_of=now)
        check_seconds = time.perf_counter() - started

        event = {
            "schema_version": 1,
            "event_id": f"bench-{size}",
            "type": "leaver",
            "occurred_at": now.isoformat(),
            "person": {"employee_id": leaver.employee_id},
        }
        started = time.perf_counter()
        outcome = accept(event, store=store, settings=settings, origin="eventbridge", now=now, services=services)
        to_disabled = time.perf_counter() - started
        assert outcome.detail["offboarding"]["status"] == "applied", outcome
        return {
            "size": size,
            "nightly": nightly,
            "to_finding": to_finding,
            "to_disabled": to_disabled,
            "check": check_seconds,
            "check_calls": checked.api_calls,
            "people": sandbox.hr_feed.read_text(encoding="utf-8").count("\n") - 1,
        }


def _grant(sandbox) -> dict:
    session = boto3.Session(region_name=sandbox.region)
    store = session.client("identitystore", endpoint_url=sandbox.endpoint_url)
    user_id = store.create_user(
        IdentityStoreId=sandbox.identity_store_id,
        UserName="bench.direct",
        DisplayName="Bench Direct",
        Name={"GivenName": "Bench", "FamilyName": "Direct"},
    )["UserId"]
    request = {
        "instanceArn": sandbox.instance_arn,
        "targetId": member_account(sandbox),
        "targetType": "AWS_ACCOUNT",
        "permissionSetArn": admin_permission_set(sandbox),
        "principalType": "USER",
        "principalId": user_id,
    }
    session.client("sso-admin", endpoint_url=sandbox.endpoint_url).create_account_assignment(
        InstanceArn=request["instanceArn"],
        TargetId=request["targetId"],
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=request["permissionSetArn"],
        PrincipalType="USER",
        PrincipalId=user_id,
    )
    return {
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.sso",
        "detail": {
            "eventID": f"bench-grant-{user_id}",
            "eventTime": "2026-11-02T07:00:00Z",
            "eventSource": "sso.amazonaws.com",
            "eventName": "CreateAccountAssignment",
            "recipientAccountId": sandbox.management_account_id,
            "requestParameters": request,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", metavar="SIZE", help=f"any of {', '.join(SIZES)} (default: tiny medium)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(
        f"{'size':<8}{'people':>7}{'nightly s':>11}{'event->finding s':>18}{'event->disabled s':>19}"
        f"{'check s':>9}{'check calls':>13}"
    )
    for size in args.sizes or ["tiny", "medium"]:
        with tempfile.TemporaryDirectory() as workdir:
            r = measure(size, args.seed, Path(workdir))
        print(
            f"{r['size']:<8}{r['people']:>7}{r['nightly']:>11.1f}{r['to_finding']:>18.2f}{r['to_disabled']:>19.2f}"
            f"{r['check']:>9.2f}{r['check_calls']:>13}"
        )


if __name__ == "__main__":
    main()
