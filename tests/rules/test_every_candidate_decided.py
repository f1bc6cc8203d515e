"""Every rule decides for every candidate, or says why not, on systematically degraded snapshots.

For each rule and each kind of principal it declares it decides for (``subjects``), every such
principal in the snapshot gets a finding, an insufficient-evidence finding naming what is
missing, or a verdict (cleared with the fact, or exempt with the reason). The snapshots are a
rich world degraded one way at a time: each table absent or partial, each optional field null,
each source failed (for one account where it is read per account).
"""

from __future__ import annotations

import msgspec
import pytest

from auditor.config import defaults
from auditor.model import Activity, IamRole, RootCredentials, ServiceLastAccessed
from auditor.rules import RULES, RuleContext
from auditor.rules.verdicts import candidates, decided_ids, is_decided
from auditor.snapshot import FAILED, PARTIAL, TABLES, Snapshot, SourceStatus
from tests.builders import ADMIN_ARN, DEV, MGMT, PROD, World, days_ago

# which source lists each table (one status per account for the per-account sources)
TABLE_SOURCE = {
    "accounts": "organizations",
    "idc_users": "identity_center",
    "idc_groups": "identity_center",
    "idc_memberships": "identity_center",
    "permission_sets": "identity_center",
    "account_assignments": "identity_center",
    "iam_users": "iam",
    "access_keys": "iam",
    "iam_groups": "iam",
    "iam_roles": "iam",
    "root_credentials": "iam",
    "iam_policies": "iam",
    "service_access": "access_advisor",
    "hr_people": "hr",
    "activity": "cloudtrail",
    "action_usage": "cloudtrail",
    "lifecycle_events": "cloudtrail",
}
PER_ACCOUNT = {"iam", "access_advisor", "cloudtrail"}


def rich_world() -> World:
    """Principals of every kind, in every state a rule distinguishes."""
    world = World()
    ana = world.idc_user("ana")
    ben = world.idc_user("ben")
    cid = world.idc_user("cid", created_days_ago=10)
    dee = world.idc_user("dee", status="DISABLED")
    eve = world.idc_user("eve")  # not in HR
    glass = world.idc_user("breakglass-admin")
    world.idc_user("svc-sync")
    world.person("ana")
    world.person("ben", status="terminated", end_date=days_ago(20).date())
    world.person("cid", employment_type="contractor", end_date=days_ago(5).date())
    world.person("dee", status="leave", department="sales", previous_department="engineering")
    engineering = world.group("engineering", ana, ben, cid)
    world.group("empty")
    admin = world.permission_set("Admin", managed=[ADMIN_ARN])
    readonly = world.permission_set("ReadOnly", managed=["arn:aws:iam::aws:policy/ReadOnlyAccess"])
    world.permission_set("Unused")
    world.assign(readonly, engineering, DEV)
    world.assign(admin, ana, PROD)
    world.assign(admin, glass, PROD)
    world.assign(readonly, dee, DEV)
    world.signed_in(ana, 2)
    world.signed_in(eve, 200)
    world.signed_in(glass, 3)
    bot = world.iam_user("deploy-bot", PROD)
    world.key(bot, "AKIAOLD0000000000001", created_days_ago=400, last_used_days_ago=200)
    world.key(bot, "AKIANEW0000000000002", created_days_ago=10, last_used_days_ago=1)
    human = world.iam_user("ops-human", DEV, password=True)
    world.key(human, "AKIAHUMAN00000000003", created_days_ago=50, last_used_days_ago=None)
    world.iam_user("old-user", MGMT, created_days_ago=500)
    world.tables["iam_roles"] += [
        IamRole(
            account_id=PROD,
            role_name="app-role",
            role_id="AROAAPPROLE000000001",
            arn=f"arn:aws:iam::{PROD}:role/app-role",
            created=days_ago(300),
            last_used=days_ago(200),
            attached_policies=[ADMIN_ARN],
        ),
        IamRole(
            account_id=DEV,
            role_name="ci-role",
            role_id="AROACIROLE0000000002",
            arn=f"arn:aws:iam::{DEV}:role/ci-role",
            created=days_ago(300),
            last_used=days_ago(2),
        ),
    ]
    world.tables["root_credentials"] += [
        RootCredentials(account_id=MGMT, password_enabled=True, mfa_active=False),
        RootCredentials(account_id=PROD, password_enabled=True, mfa_active=True),
    ]
    world.tables["service_access"] += [
        ServiceLastAccessed(
            account_id=PROD,
            entity_arn=f"arn:aws:iam::{PROD}:role/app-role",
            entity_type="role",
            service_namespace="s3",
            last_authenticated=None,
        )
    ]
    world.tables["activity"] += [
        Activity(kind="root", key=MGMT, account_id=MGMT, first_seen=days_ago(9), last_seen=days_ago(8), events=1),
        Activity(
            kind="access_key",
            key="AKIANEW0000000000002",
            account_id=PROD,
            first_seen=days_ago(9),
            last_seen=days_ago(1),
            events=4,
        ),
    ]
    return world


def _statuses(snapshot: Snapshot, source: str, change) -> Snapshot:
    sources = [change(s) if s.source == source else s for s in snapshot.manifest.sources]
    manifest = msgspec.structs.replace(snapshot.manifest, sources=sources)
    return Snapshot(manifest=manifest, tables=snapshot.tables)


def _table_state(table: str, state: str):
    def change(status: SourceStatus) -> SourceStatus:
        return msgspec.structs.replace(
            status,
            status="partial" if state == PARTIAL else "failed",
            error=f"InternalFailure: simulated ({TABLE_SOURCE[table]})",
            tables={**status.tables, table: state},
        )

    return change


def _failed(account_id: str | None):
    def change(status: SourceStatus) -> SourceStatus:
        if account_id is not None and status.account_id != account_id:
            return status
        return msgspec.structs.replace(
            status,
            status="failed",
            error="AccessDenied: simulated",
            coverage_start=None,
            coverage_end=None,
            tables={t: FAILED for t, s in TABLE_SOURCE.items() if s == status.source},
        )

    return change


def degraded() -> dict[str, Snapshot]:
    """The rich world's snapshot, and that snapshot degraded one way at a time."""
    world = rich_world()
    base = _every_table_complete(world.snapshot())
    out = {"complete": base}
    for table in TABLES:
        source = TABLE_SOURCE[table]
        absent = Snapshot(manifest=base.manifest, tables={**base.tables, table: []})
        out[f"{table} absent"] = _statuses(absent, source, _table_state(table, FAILED))
        rows = base.tables[table]
        halved = Snapshot(manifest=base.manifest, tables={**base.tables, table: rows[: len(rows) // 2]})
        out[f"{table} partial"] = _statuses(halved, source, _table_state(table, PARTIAL))
        record_type = TABLES[table]
        for name in getattr(record_type, "__struct_fields__", ()):
            if rows and _optional(record_type, name):
                nulled = [msgspec.structs.replace(r, **{name: None}) for r in rows]
                out[f"{table}.{name} null"] = Snapshot(manifest=base.manifest, tables={**base.tables, table: nulled})
    for source in sorted(set(TABLE_SOURCE.values())):
        out[f"{source} failed"] = _statuses(base, source, _failed(None))
        if source in PER_ACCOUNT:
            out[f"{source} failed for {DEV}"] = _statuses(base, source, _failed(DEV))
    return out


def _every_table_complete(snapshot: Snapshot) -> Snapshot:
    """Each source's status lists its tables as complete, so degrading one table leaves the others standing."""
    sources = [
        msgspec.structs.replace(
            status, tables={t: "complete" for t, source in TABLE_SOURCE.items() if source == status.source}
        )
        for status in snapshot.manifest.sources
    ]
    return Snapshot(manifest=msgspec.structs.replace(snapshot.manifest, sources=sources), tables=snapshot.tables)


def _optional(record_type: type, name: str) -> bool:
    field = next(f for f in msgspec.structs.fields(record_type) if f.name == name)
    return field.default is None


SNAPSHOTS = degraded()


def test_every_rule_declares_what_it_decides_for_and_what_it_needs():
    undeclared = sorted(rule.id for rule in RULES.values() if not rule.subjects or not rule.needs)
    assert undeclared == [], (
        "add subjects=(...) (the kinds of principal the rule decides for) and needs=(...) "
        "('source.table' it reads) to the @rule(...) decorator of: " + ", ".join(undeclared)
    )


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_every_candidate_gets_a_verdict_whatever_is_missing(rule_id):
    rule = RULES[rule_id]
    problems = []
    for name, snapshot in SNAPSHOTS.items():
        context = RuleContext(snapshot=snapshot, as_of=rule_world_as_of(), settings=dict(defaults().section("rules")))
        context.idc_home_account = MGMT
        results = rule.evaluate(context)
        decided = decided_ids(results)
        for subject in rule.subjects:
            for principal in candidates(snapshot, subject):
                if not is_decided(principal, decided):
                    problems.append(f"{name}: no verdict for {subject} {principal.name or principal.id}")
        for result in results:
            evidence = getattr(result, "evidence", None)
            undecided = evidence and evidence.get("insufficient_evidence")
            if undecided and (result.severity != "info" or not evidence.get("missing")):
                problems.append(f"{name}: insufficient-evidence finding without 'missing' or above info")
    assert problems == [], f"{rule_id}: {len(problems)} silent skips, e.g.\n" + "\n".join(problems[:15])


def rule_world_as_of():
    return rich_world().as_of
