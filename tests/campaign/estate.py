"""A small organisation and its run directory, for campaigns to review.

Reviewers (HR managers): ana, ben, carl, dana and the deploy-bot IAM user's
owner report to boss; boss reports to ceo; eve is not in HR (no reviewer).
"""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import msgspec
from openpyxl import load_workbook

from auditor import config
from auditor import snapshot as snapshots
from auditor.analyze import analyze
from auditor.campaign.model import CampaignSpec
from auditor.config import Settings
from auditor.model import Activity
from auditor.snapshot import SourceStatus
from tests.builders import ADMIN_ARN, AS_OF, DEV, MGMT, PROD, World, days_ago

INSTANCE_ARN = "arn:aws:sso:::instance/ssoins-1111111111111111"
IDENTITY_STORE = "d-1111111111"
NOW = AS_OF + timedelta(hours=2)
DUE = AS_OF + timedelta(days=21)
FALLBACK = "security@example.com"


def used(world: World, user, account_id: str, ps_name: str, days: float) -> None:
    world.tables["activity"].append(
        Activity(
            kind="idc_assignment",
            key=f"id:{user.user_id}",
            account_id=account_id,
            detail=ps_name,
            first_seen=days_ago(days + 30),
            last_seen=days_ago(days),
            events=5,
        )
    )


def build_world() -> World:
    world = World()
    ana, ben, boss = world.idc_user("ana"), world.idc_user("ben"), world.idc_user("boss")
    carl, dana, eve = world.idc_user("carl"), world.idc_user("dana"), world.idc_user("eve")
    for name in ("ana", "ben", "dana"):
        world.person(name)
    world.person("carl", status="terminated")
    dana_row = next(p for p in world.tables["hr_people"] if p.user_name == "dana")
    world.tables["hr_people"].remove(dana_row)
    world.tables["hr_people"].append(msgspec.structs.replace(dana_row, previous_department="finance"))
    boss_row = world.person("boss", department="engineering")
    world.tables["hr_people"][-1] = msgspec.structs.replace(boss_row, manager_email="ceo@example.com", title="Head")
    ceo = world.person("ceo", department="executive")
    world.tables["hr_people"][-1] = msgspec.structs.replace(ceo, manager_email="", title="CEO")

    admin = world.permission_set("AdministratorAccess", managed=[ADMIN_ARN])
    developer = world.permission_set(
        "Developer", inline='{"Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}'
    )
    billing = world.permission_set(
        "Billing", inline='{"Statement":[{"Effect":"Allow","Action":"ce:Get*","Resource":"*"}]}'
    )
    readonly = world.permission_set(
        "ReadOnly", inline='{"Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}'
    )
    engineers = world.group("Engineers", ana, ben, boss, carl, dana)
    finance = world.group("Finance", dana)
    world.assign(developer, engineers, DEV)
    world.assign(billing, finance, PROD)
    world.assign(admin, ana, PROD)
    world.assign(readonly, eve, DEV)
    for user in (ana, ben, boss, carl, dana, eve):
        world.signed_in(user, 2)
    for user in (ana, ben, boss, dana):
        used(world, user, DEV, "Developer", 3)
    used(world, dana, PROD, "Billing", 4)

    bot = world.iam_user("deploy-bot", DEV)
    world.tables["iam_users"][-1] = msgspec.structs.replace(bot, tags={"owner": "ben@example.com"})
    world.key(bot, "AKIAEXAMPLEDEPLOY001", created_days_ago=60, last_used_days_ago=10)
    return world


def idc_status() -> SourceStatus:
    return SourceStatus(
        source="identity_center",
        detail={"home_account_id": MGMT, "instance_arn": INSTANCE_ARN, "identity_store_id": IDENTITY_STORE},
    )


def make_settings(**campaigns) -> Settings:
    values = config.defaults().values
    values["campaigns"].update({"fallback_reviewer": FALLBACK, **campaigns})
    return Settings(values=values)


def save_run(world: World, directory: Path, settings: Settings) -> Path:
    """A run directory as `auditor run` leaves it: snapshot/ and findings.json."""
    snapshot = world.snapshot(overrides=[idc_status()])
    snapshots.save(snapshot, directory / "snapshot")
    findings = analyze(snapshot, settings, snapshot.manifest.as_of)
    (directory / "findings.json").write_bytes(msgspec.json.encode(findings))
    return directory


def spec(**overrides) -> CampaignSpec:
    values = {"name": "2026 Q4 access review", "due": DUE, **overrides}
    return CampaignSpec(**values)


# --- reviewers at work: filling in packets ------------------------------------------


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def decide_csv(packet: Path, out: Path, decisions: dict[str, tuple[str, str]]) -> Path:
    """Fill decision and justification of the given item ids, as a reviewer would."""
    header, rows = read_csv(packet)
    for row in rows:
        if row["item_id"] in decisions:
            row["decision"], row["justification"] = decisions[row["item_id"]]
    return write_csv(out, header, rows)


def decide_xlsx(packet: Path, out: Path, decisions: dict[str, tuple[str, str]]) -> Path:
    workbook = load_workbook(packet)
    sheet = workbook["Review"]
    header = [c.value for c in sheet[1]]
    item, decision, justification = (header.index(n) + 1 for n in ("item_id", "decision", "justification"))
    for number in range(2, sheet.max_row + 1):
        item_id = sheet.cell(number, item).value
        if item_id in decisions:
            sheet.cell(number, decision).value, sheet.cell(number, justification).value = decisions[item_id]
    workbook.save(out)
    return out


def items_by_access(store, campaign_id: int) -> dict[tuple[str, str], str]:
    """(subject user name or IAM user name, access start) -> item id, for readable tests."""
    from auditor.campaign.state import item_states

    found = {}
    for state in item_states(store, campaign_id):
        item = state.item
        who = item.context.get("user_name") or item.principal.name
        found[(who, item.permission_set or item.group or item.kind)] = item.item_id
    return found
