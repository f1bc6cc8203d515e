"""Run the product against the tiny sandbox and write every AWS operation it called, as IAM actions.

Run in its own process (moto's state is process-wide and the end-to-end
tests hold a sandbox of their own):

    python tests/deploy/record_operations.py OUT.json WORKDIR

Operations are recorded from botocore's ``before-call`` event on every
boto3 session the product creates (its own, the member-account ones, and
those its CloudTrail reading workers make in their own processes: each
call is appended to one log all of them share), so the product's code
paths are the ones exercised. The phases:

- ``collect``: the whole pipeline as the scheduler runs it; then each
  Identity Center assignment strategy (the cheapest one depends on the
  estate's shape) and the IAM reads for a user the credential report does
  not know yet, so every conditional read path runs at least once; and a
  targeted check (``auditor check``) of every Identity Center user, as the
  read-only policy serves both;
- ``remediate``: one revocation of every kind, planned, applied and
  verified, through the remediation role (``[aws] remediation_role_name``);
- ``rollback``: the same run rolled back, through the rollback role
  (``[aws] rollback_role_name``);
- ``athena``: the CloudTrail Athena engine: the table created and queried,
  then a query stopped at its deadline.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import msgspec

# one AWS operation -> the IAM action that authorises it, where the two differ
IAM_ACTION_FOR = {
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
}
AS_OF = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


class Recorder:
    """Collects IAM actions per phase in ``log``; ``phase = None`` records nothing (setup calls).

    A forked worker inherits the recorder and its phase, and appends to the same log.
    """

    def __init__(self, log: Path) -> None:
        self.phase: str | None = None
        self.log = log

    def __call__(self, model, **_) -> None:
        if self.phase is None:
            return
        prefix = model.service_model.signing_name
        action = IAM_ACTION_FOR.get((prefix, model.name), f"{prefix}:{model.name}")
        with self.log.open("a") as log:  # one short line per call: appends from several processes stay whole
            log.write(f"{self.phase}\t{action}\n")

    def actions(self) -> dict[str, list[str]]:
        recorded: dict[str, set[str]] = {}
        for line in self.log.read_text().splitlines():
            phase, action = line.split("\t")
            recorded.setdefault(phase, set()).add(action)
        return {phase: sorted(actions) for phase, actions in recorded.items()}

    def install(self) -> None:
        """Register on every boto3 session created from now on (the product makes its own)."""
        import boto3
        import boto3.session

        original = boto3.session.Session.__init__
        recorder = self

        def init(session, *args, **kwargs):
            original(session, *args, **kwargs)
            session.events.register("before-call", recorder)

        boto3.session.Session.__init__ = init
        boto3.DEFAULT_SESSION = None


def freeze_credential_reports() -> None:
    """A credential report is a snapshot taken when generated, as in AWS (kept up to 4 hours).

    moto builds it afresh on every read, so a user created after the report
    would never be missing from it; here it is kept as first generated.
    """
    from moto.iam.models import IAMBackend

    generate, read = IAMBackend.generate_report, IAMBackend.get_credential_report

    def generate_once(backend) -> None:
        if "frozen_report" not in backend.__dict__:
            generate(backend)
            backend.__dict__["frozen_report"] = read(backend)

    IAMBackend.generate_report = generate_once
    IAMBackend.get_credential_report = lambda backend: backend.__dict__.get("frozen_report") or read(backend)


def asynchronous_assignments() -> None:
    """Creating or deleting an account assignment answers IN_PROGRESS, as AWS does; moto says SUCCEEDED at once."""
    from moto.ssoadmin.responses import SSOAdminResponse

    def in_progress(answer):
        def respond(self) -> str:
            body = json.loads(answer(self))
            for status in body.values():
                status["Status"] = "IN_PROGRESS"
            return json.dumps(body)

        return respond

    for name in ("create_account_assignment", "delete_account_assignment"):
        setattr(SSOAdminResponse, name, in_progress(getattr(SSOAdminResponse, name)))


def main(out: Path, workdir: Path) -> None:
    from auditor import config, pipeline
    from auditor.aws import context_from_settings
    from auditor.sandbox import start_sandbox
    from auditor.store import Store

    recorder = Recorder(workdir / "operations.log")
    with start_sandbox(size="tiny", seed=3, as_of=AS_OF, workdir=workdir) as box:
        import os

        os.environ.pop("AWS_PROFILE", None)
        os.environ.update(box.env())
        freeze_credential_reports()
        asynchronous_assignments()
        recorder.install()
        settings = config.Settings(values=config.validate({"remediation": {"max_share": 1.0}}, "recorder"))
        store = Store.open(workdir / "state.db")
        recorder.phase = "collect"
        result = pipeline.run(settings, out_dir=workdir / "run", as_of=box.as_of, hr_feed=box.hr_feed, store=store)
        if result.exit_code != 0:
            raise SystemExit(f"the sandbox run did not complete: exit {result.exit_code}")
        _every_read_path(recorder, context_from_settings(settings), result.snapshot)
        _targeted_checks(settings, store, result.snapshot, box)  # recorded as collect
        _athena(recorder, context_from_settings(settings), result.snapshot)
        _remediate(recorder, box, result.snapshot, settings, store)
        recorder.phase = None
    out.write_text(json.dumps(recorder.actions(), indent=1))


def _every_read_path(recorder: Recorder, context, snapshot) -> None:
    from auditor.collect.iam import collect_iam
    from auditor.collect.identity_center import STRATEGIES, collect_identity_center
    from auditor.progress import Progress

    accounts = snapshot.table("accounts")
    for strategy in STRATEGIES:
        result = collect_identity_center(context, accounts, Progress(), strategy=strategy)
        assert all(s.status == "ok" for s in result.statuses), (strategy, result.statuses)
    recorder.phase = None
    iam = context.client("iam")
    iam.create_user(UserName="late-joiner")
    iam.create_access_key(UserName="late-joiner")
    iam.create_login_profile(UserName="late-joiner", Password="Late-Joiner-Passw0rd!")
    recorder.phase = "collect"
    management = [a for a in accounts if a.is_management]
    result = collect_iam(context, management, Progress(), sleep=lambda _: None)
    assert any(k.user_name == "late-joiner" for k in result.tables["access_keys"]), "the late user was not read"


def _targeted_checks(settings, store, snapshot, box) -> None:
    """A check of every Identity Center user (some own IAM users), and one with no run on record: every read."""
    from auditor.events.check import check_person
    from auditor.events.person import Who
    from auditor.store import Store

    for user in snapshot.table("idc_users"):
        check_person(Who(query=user.user_name), settings=settings, store=store, as_of=box.as_of, hr_feed=box.hr_feed)
    member = next(m.user_id for m in snapshot.table("idc_memberships"))
    first = next(u.user_name for u in snapshot.table("idc_users") if u.user_id == member)
    empty = Store.open(Path(box.hr_feed).parent / "no-runs-yet.db")
    check_person(Who(query=first), settings=settings, store=empty, as_of=box.as_of, hr_feed=box.hr_feed)


def _athena(recorder: Recorder, context, snapshot) -> None:
    from moto.moto_api import state_manager

    from auditor.collect.cloudtrail import discover_trail
    from auditor.collect.cloudtrail_athena import AthenaSettings, collect_cloudtrail_athena
    from auditor.progress import Progress

    recorder.phase = None
    trail = discover_trail(context)
    accounts = snapshot.table("accounts")
    settings = AthenaSettings(regions=(context.region,), timeout_seconds=2)
    recorder.phase = "athena"
    result = collect_cloudtrail_athena(  # the table created, then the query
        context, accounts, trail, Progress(), as_of=AS_OF, lookback_days=30, settings=settings, sleep=lambda _: None
    )
    assert all(s.status == "ok" for s in result.statuses), result.statuses
    state_manager.set_transition(model_name="athena::execution", transition={"progression": "manual", "times": 99})
    try:
        result = collect_cloudtrail_athena(
            context, accounts, trail, Progress(), as_of=AS_OF, lookback_days=30, settings=settings, sleep=lambda _: None
        )
    finally:
        state_manager.unset_transition("athena::execution")
    assert all("stopped it" in (s.error or "") for s in result.statuses), result.statuses
    recorder.phase = None


def _remediate(recorder: Recorder, box, snapshot, settings, store) -> None:
    from auditor.aws import context_from_settings, remediation_context, rollback_context
    from auditor.model import Principal, Revocation, RevocationKind
    from auditor.remediate import Clients, Waiter, apply_plan, build_plan, rollback_run, verify_run
    from auditor.remediate.population import Population
    from auditor.remediate.registry import record_plan
    from tests.remediate.helpers import decide

    recorder.phase = None  # choosing targets and setting one up is not remediation

    def ordinary(name: str) -> bool:
        return not any(p in name.lower() for p in settings.get("rules", "break_glass_patterns"))

    users = {u.user_id: u for u in snapshot.table("idc_users") if ordinary(u.user_name)}
    groups = {g.group_id: g for g in snapshot.table("idc_groups") if ordinary(g.display_name)}
    store_id, instance_arn = box.identity_store_id, box.instance_arn
    membership = next(m for m in snapshot.table("idc_memberships") if m.user_id in users and m.group_id in groups)
    assignment = next(
        a for a in snapshot.table("account_assignments") if a.principal_type == "USER" and a.principal_id in users
    )
    disabled = next(u for u in users.values() if u.user_id not in (membership.user_id, assignment.principal_id))
    iam_users = [u for u in snapshot.table("iam_users") if ordinary(u.user_name) and u.user_name != "late-joiner"]
    key = next(k for k in snapshot.table("access_keys") if k.status == "Active" and ordinary(k.user_name))
    login = next(u for u in iam_users if u.password_enabled)
    attached = next((u for u in iam_users if u.attached_policies), None)
    if attached is None:  # setup (not recorded): give one user a directly attached policy to detach
        login_iam = context_from_settings(settings).client("iam", login.account_id)
        policy = "arn:aws:iam::aws:policy/ReadOnlyAccess"
        login_iam.attach_user_policy(UserName=login.user_name, PolicyArn=policy)
        attached = msgspec.structs.replace(login, attached_policies=[policy])

    def revoke(kind: RevocationKind, principal: Principal, **target: str) -> Revocation:
        reason = {"campaign_id": 1, "decision": "revoke", "reviewer": "manager@example.com", "justification": "gone"}
        return Revocation(
            kind=kind.value, target=target, reason=reason, principal=principal, account_id=target.get("account_id")
        )

    def idc_user(user_id: str) -> Principal:
        return Principal(type="idc_user", id=user_id, name=users[user_id].user_name)

    revocations = [
        revoke(
            RevocationKind.IDC_GROUP_MEMBERSHIP,
            idc_user(membership.user_id),
            identity_store_id=store_id,
            group_id=membership.group_id,
            user_id=membership.user_id,
        ),
        revoke(
            RevocationKind.IDC_ACCOUNT_ASSIGNMENT,
            idc_user(assignment.principal_id),
            instance_arn=instance_arn,
            account_id=assignment.account_id,
            permission_set_arn=assignment.permission_set_arn,
            principal_type="USER",
            principal_id=assignment.principal_id,
        ),
        revoke(
            RevocationKind.IDC_USER, idc_user(disabled.user_id), identity_store_id=store_id, user_id=disabled.user_id
        ),
        revoke(
            RevocationKind.IAM_ACCESS_KEY,
            Principal(type="access_key", id=key.access_key_id, name=key.user_name),
            account_id=key.account_id,
            user_name=key.user_name,
            access_key_id=key.access_key_id,
        ),
        revoke(
            RevocationKind.IAM_LOGIN_PROFILE,
            Principal(type="iam_user", id=login.user_id, name=login.user_name),
            account_id=login.account_id,
            user_name=login.user_name,
        ),
        revoke(
            RevocationKind.IAM_USER_POLICY,
            Principal(type="iam_user", id=attached.user_id, name=attached.user_name),
            account_id=attached.account_id,
            user_name=attached.user_name,
            policy_arn=attached.attached_policies[0],
        ),
    ]
    recorder.phase = "remediate"
    clients = Clients(remediation_context(settings), Waiter(sleep=lambda _: None))
    now = datetime.now(UTC)
    population = Population.from_snapshot(snapshot)
    campaigns = Path(store.engine.url.database).parent / "campaigns"
    revocations = decide(store, revocations, now=now, out_dir=campaigns)  # apply acts only on recorded decisions
    plan = build_plan(
        revocations,
        clients=clients,
        settings=settings,
        now=now,
        population=population,
        source={"recorder": True},
        created_by="recorder",
    )
    assert len(plan.actions) == len(revocations), plan.excluded
    record_plan(store, plan, actor="recorder")  # apply runs only a plan the store recorded
    applied = apply_plan(plan, clients=clients, store=store, settings=settings, population=population, yes=True)
    assert not applied.needs_attention(), applied.outcomes
    assert verify_run(applied.run_id, clients=clients, store=store).ok
    recorder.phase = "rollback"
    clients = Clients(rollback_context(settings), Waiter(sleep=lambda _: None))
    restored = rollback_run(applied.run_id, clients=clients, store=store, yes=True)
    assert not restored.needs_attention(), restored.outcomes


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the tests package, for the campaign helper
    main(Path(sys.argv[1]), Path(sys.argv[2]))
