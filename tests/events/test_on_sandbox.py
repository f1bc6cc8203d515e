"""On the sandbox, through `auditor event` and `auditor check`: a leaver offboarded once and rolled back, a direct
administrator grant reported by one targeted check, a malformed event kept as a dead letter.

One sandbox for the module (in process); the tests run in file order on it.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa

from auditor import configure
from auditor.cli import main
from auditor.deploy.offboarding import run_step
from auditor.events.schema import event_dead_letters
from auditor.events.workflow import Services
from auditor.pipeline import run
from auditor.remediate.schema import remediation_actions
from auditor.sandbox import start_sandbox
from auditor.sandbox.leaver import admin_permission_set, member_account, plant_leaver
from auditor.store import Store, audit_log
from tests.events.statemachine import drive

pytestmark = pytest.mark.e2e

AS_OF = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
EXTRA = """
[remediation]
max_share = 1.0

[notifications]
channels = ["outbox"]
outbox_dir = "{outbox}"

[events]
immediate_suspension = true
retention_dir = "{retention}"
"""


@pytest.fixture(scope="module")
def estate(tmp_path_factory):
    root = tmp_path_factory.mktemp("events")
    saved = dict(os.environ)
    with start_sandbox(size="tiny", seed=11, as_of=AS_OF, workdir=root / "sandbox") as sandbox:
        for name in [n for n in os.environ if n.startswith("AWS_")]:
            del os.environ[name]
        os.environ.update(sandbox.env())
        leaver = plant_leaver(sandbox)
        second = plant_leaver(sandbox, user_name="sasha.brandt", employee_id="E09002")
        config = sandbox.config_file.with_name("events.toml")
        extra = EXTRA.format(outbox=root / "outbox", retention=root / "retention")
        config.write_text(sandbox.config_file.read_text() + extra)
        settings = configure.load(config)
        store = Store.open(root / "state.db")
        run(settings, out_dir=root / "night", as_of=AS_OF, hr_feed=sandbox.hr_feed, store=store)
        yield {
            "root": root,
            "sandbox": sandbox,
            "leaver": leaver,
            "second": second,
            "config": config,
            "store": store,
            "settings": settings,
        }
    os.environ.clear()
    os.environ.update(saved)


def cli(estate, *args: str) -> int:
    root = estate["root"]
    return main([*args, "--config", str(estate["config"]), "--state", str(root / "state.db")])


def client(estate, service: str, account_id: str | None = None):
    sandbox = estate["sandbox"]
    session = boto3.Session(region_name=sandbox.region)
    if account_id is not None:
        sts = session.client("sts", endpoint_url=sandbox.endpoint_url)
        role = f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole"
        creds = sts.assume_role(RoleArn=role, RoleSessionName="test")["Credentials"]
        session = boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=sandbox.region,
        )
    return session.client(service, endpoint_url=sandbox.endpoint_url)


def access_of(estate, who: str = "leaver") -> dict:
    """What the leaver holds, read from AWS."""
    sandbox, leaver = estate["sandbox"], estate[who]
    store = client(estate, "identitystore")
    user = store.describe_user(IdentityStoreId=sandbox.identity_store_id, UserId=leaver.user_id)
    groups = store.list_group_memberships_for_member(
        IdentityStoreId=sandbox.identity_store_id, MemberId={"UserId": leaver.user_id}
    )["GroupMemberships"]
    assignments = client(estate, "sso-admin").list_account_assignments_for_principal(
        InstanceArn=sandbox.instance_arn, PrincipalId=leaver.user_id, PrincipalType="USER"
    )["AccountAssignments"]
    keys = client(estate, "iam", leaver.account_id).list_access_keys(UserName=leaver.iam_user)["AccessKeyMetadata"]
    return {
        "status": user.get("UserStatus", "ENABLED"),
        "groups": sorted(m["GroupId"] for m in groups),
        "assignments": sorted((a["AccountId"], a["PermissionSetArn"]) for a in assignments),
        "keys": {k["AccessKeyId"]: k["Status"] for k in keys},
    }


def event_file(estate, name: str, body: dict) -> Path:
    path = estate["root"] / name
    path.write_text(json.dumps(body))
    return path


def audit_actions(estate) -> list[str]:
    with estate["store"].engine.connect() as conn:
        return [r.action for r in conn.execute(sa.select(audit_log.c.action).order_by(audit_log.c.id))]


def changes(estate) -> int:
    with estate["store"].engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(remediation_actions)).scalar()


def test_a_leaver_event_offboards_them_once_and_rollback_restores_everything(estate, capsys):
    leaver = estate["leaver"]
    before = access_of(estate)
    assert before["status"] == "ENABLED" and len(before["groups"]) == 2 and before["assignments"]
    assert before["keys"] == {leaver.access_key_id: "Active"}
    event = event_file(
        estate,
        "leaver.json",
        {
            "schema_version": 1,
            "event_id": "hr-2026-11-02-0001",
            "type": "leaver",
            "occurred_at": "2026-11-02T07:00:00Z",
            "person": {"employee_id": leaver.employee_id},
        },
    )
    capsys.readouterr()
    assert cli(estate, "event", str(event), "--as-of", "2026-11-02T07:00:00Z", "--out", str(estate["root"])) == 0
    outcome = json.loads(capsys.readouterr().out)
    offboarding = outcome["detail"]["offboarding"]
    assert outcome["status"] == "done" and offboarding["status"] == "applied", outcome
    assert offboarding["applied"] == {"done": 5} and offboarding["verified"] is True

    after = access_of(estate)
    assert after == {"status": "DISABLED", "groups": [], "assignments": [], "keys": {leaver.access_key_id: "Inactive"}}
    retention = json.loads(Path(offboarding["retention"]).read_text())
    assert {m["group_id"] for m in retention["memberships"]} == set(before["groups"])
    assert [k["access_key_id"] for k in retention["access_keys"]] == [leaver.access_key_id]
    assert len(retention["to_remove"]) == 5
    notice = Path(offboarding["manager_notice"]).read_text()
    assert f"To: {leaver.manager_email}" in notice and "Offboarding: Quinn Harlow" in notice

    actions = audit_actions(estate)
    for step in ("event.received", "event.checked", "remediate.plan.recorded", "event.retention.kept"):
        assert step in actions
    assert actions.count("remediate.action.done") == 5
    assert actions.index("event.retention.kept") < actions.index("remediate.action.started")
    assert actions[-2:] == ["event.manager.notified", "event.done"]

    done = changes(estate)
    assert cli(estate, "event", str(event), "--as-of", "2026-11-02T07:05:00Z") == 0
    assert json.loads(capsys.readouterr().out)["status"] == "duplicate"
    assert changes(estate) == done and access_of(estate) == after
    assert audit_actions(estate)[-1] == "event.duplicate"

    older = event_file(
        estate,
        "older.json",
        {
            "schema_version": 1,
            "event_id": "hr-2026-10-30-0007",
            "type": "leave_end",
            "occurred_at": "2026-10-30T09:00:00Z",
            "person": {"email": leaver.email},
        },
    )
    assert cli(estate, "event", str(older)) == 0
    late = json.loads(capsys.readouterr().out)
    assert late["status"] == "superseded" and "hr-2026-11-02-0001" in late["reason"]

    run_id = str(offboarding["remediation_run_id"])
    assert main(["remediate", "rollback", run_id, "--yes", "--state", str(estate["root"] / "state.db")]) == 0
    assert access_of(estate) == before


def test_a_direct_administrator_grant_is_reported_and_notified_by_one_targeted_check(estate, capsys):
    sandbox = estate["sandbox"]
    store = client(estate, "identitystore")
    user_id = store.create_user(
        IdentityStoreId=sandbox.identity_store_id,
        UserName="rowan.price",
        DisplayName="Rowan Price",
        Name={"GivenName": "Rowan", "FamilyName": "Price"},
    )["UserId"]
    account, permission_set = member_account(sandbox), admin_permission_set(sandbox)
    client(estate, "sso-admin").create_account_assignment(
        InstanceArn=sandbox.instance_arn,
        TargetId=account,
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=permission_set,
        PrincipalType="USER",
        PrincipalId=user_id,
    )
    envelope = {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.sso",
        "account": sandbox.management_account_id,
        "time": "2026-11-02T08:00:00Z",
        "region": sandbox.region,
        "detail": {
            "eventVersion": "1.08",
            "userIdentity": {"type": "AssumedRole", "arn": f"arn:aws:sts::{sandbox.management_account_id}:x/y"},
            "eventTime": "2026-11-02T08:00:00Z",
            "eventSource": "sso.amazonaws.com",
            "eventName": "CreateAccountAssignment",
            "requestParameters": {
                "instanceArn": sandbox.instance_arn,
                "targetId": account,
                "targetType": "AWS_ACCOUNT",
                "permissionSetArn": permission_set,
                "principalType": "USER",
                "principalId": user_id,
            },
            "eventID": "0b5e4a52-6f0c-4a43-9a63-4d1a2d9d1c11",
            "recipientAccountId": sandbox.management_account_id,
        },
    }
    capsys.readouterr()
    path = event_file(estate, "grant.json", envelope)
    assert cli(estate, "event", str(path), "--as-of", "2026-11-02T08:00:00Z", "--out", str(estate["root"])) == 0
    outcome = json.loads(capsys.readouterr().out)
    rules = {f["rule_id"] for f in outcome["findings"]}
    assert "idc-admin-direct-assignment" in rules, outcome
    assert outcome["kind"] == "cloudtrail:CreateAccountAssignment" and outcome["detail"]["notified"] == ["outbox"]
    assert outcome["detail"]["check"]["api_calls"] <= 40
    digests = [p.read_text() for p in (estate["root"] / "outbox").glob("*.eml") if "rowan.price" in p.read_text()]
    assert digests and "idc-admin-direct-assignment" in digests[0]


def test_check_names_a_person_by_email_and_writes_the_findings(estate, capsys):
    out = estate["root"] / "check"
    assert cli(estate, "check", estate["leaver"].email, "--out", str(out), "--format", "json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["idc_user"] == "quinn.harlow" and summary["api_calls"] <= 40
    written = json.loads((out / "findings.json").read_text())
    assert {f["principal"]["name"] for f in written} <= {"quinn.harlow", estate["leaver"].iam_user}


def test_a_malformed_event_is_refused_with_its_reason_and_kept(estate, capsys):
    path = event_file(
        estate,
        "bad.json",
        {
            "schema_version": 1,
            "event_id": "hr-bad-1",
            "type": "fired",
            "occurred_at": "2026-11-02T07:00:00Z",
            "person": {"email": "someone@corvid.example"},
        },
    )
    assert cli(estate, "event", str(path)) == 2
    err = capsys.readouterr().err
    assert "$.type" in err and "'fired' is not one of" in err
    with estate["store"].engine.connect() as conn:
        letter = conn.execute(sa.select(event_dead_letters).where(event_dead_letters.c.event_id == "hr-bad-1")).one()
    assert "'fired' is not one of" in letter.reason and json.loads(letter.payload)["type"] == "fired"


def test_the_state_machine_runs_the_steps_in_its_order_and_waits_for_approval(estate, capsys):
    """The definition in deploy/offboarding.yaml, driven step by step against the sandbox, approval by the CLI."""
    from cfnlint.decode.cfn_yaml import load

    template = load(str(Path(__file__).resolve().parents[2] / "deploy" / "offboarding.yaml"))
    machine = template["Resources"]["OffboardingStateMachine"]["Properties"]["Definition"]
    second, store, root = estate["second"], estate["store"], estate["root"]
    settings = configure.load(estate["config"])
    settings.values["events"]["immediate_suspension"] = False  # wait for a person
    services = Services(hr_feed=estate["sandbox"].hr_feed, out_dir=root / "machine")
    steps: list[str] = []

    def invoke(payload: dict) -> dict:
        steps.append(payload["step"])
        return run_step(payload["step"], payload, store=store, settings=settings, services=services, now=AS_OF)

    def approve(token: str) -> None:
        assert access_of(estate, "second")["status"] == "ENABLED"  # nothing changes before the approval
        assert cli(estate, "event", "--approve", "hr-2026-11-02-0002") == 0

    envelope = {
        "version": "0",
        "detail-type": "HR lifecycle event",
        "source": "auditor.hr",
        "detail": {
            "schema_version": 1,
            "event_id": "hr-2026-11-02-0002",
            "type": "leaver",
            "occurred_at": "2026-11-02T07:30:00Z",
            "person": {"user_name": second.user_name},
            "manager_email": "samir.larsen@corvid.example",
        },
    }
    drive(machine, envelope, invoke, approve)
    assert steps == ["check", "request_approval", "apply", "retain", "notify"]
    assert access_of(estate, "second") == {
        "status": "DISABLED",
        "groups": [],
        "assignments": [],
        "keys": {second.access_key_id: "Inactive"},
    }
    actions = audit_actions(estate)
    assert "event.offboarding.approved_by" in actions and actions[-1] == "event.done"
    outbox = [p.read_text() for p in (root / "outbox").glob("*offboarding-Quinn*")] + [
        p.read_text() for p in (root / "outbox").glob("*.eml") if "To: samir.larsen@corvid.example" in p.read_text()
    ]
    assert any("Status: applied" in text for text in outbox)


def _clean_person(estate, department: str) -> dict:
    import csv

    clean = {name for kind, name, _ in estate["sandbox"].clean if kind == "idc_user"}
    with estate["sandbox"].hr_feed.open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["department"] == department and r["status"] == "active"]
    return next(r for r in rows if r["user_name"] in clean and r["manager_email"])


def test_a_mover_gets_a_micro_review_and_a_joiner_a_birthright_verdict(estate, capsys):
    person = _clean_person(estate, "data")
    mover = {
        "schema_version": 1,
        "event_id": "hr-2026-11-02-0010",
        "type": "mover",
        "occurred_at": "2026-11-02T09:00:00Z",
        "person": {"email": person["email"]},
        "department": "finance",
    }
    capsys.readouterr()
    assert cli(estate, "event", str(event_file(estate, "mover.json", mover)), "--as-of", "2026-11-02T09:00:00Z") == 0
    outcome = json.loads(capsys.readouterr().out)
    assert "idc-mover-keeps-old-access" in {f["rule_id"] for f in outcome["findings"]}, outcome
    (review,) = outcome["detail"]["micro_reviews"]
    assert review["campaign_id"] is not None and review["reviewer"] == person["manager_email"]

    joiner = {**mover, "event_id": "hr-2026-11-02-0011", "type": "joiner", "occurred_at": "2026-11-02T09:30:00Z"}
    joiner["department"] = "data"
    assert cli(estate, "event", str(event_file(estate, "joiner.json", joiner)), "--as-of", "2026-11-02T09:30:00Z") == 0
    birthright = json.loads(capsys.readouterr().out)["detail"]["birthright"]
    assert birthright == {
        "department": "data",
        "expected": ["data"],
        "held": ["data"],
        "missing": [],
        "beyond": [],
        "matches": True,
    }
