"""Effective permissions: wildcards expanded against AWS's reference, denies, boundaries, conditions, paths."""

from __future__ import annotations

from auditor import snapshot as snapshots
from auditor.model import IamGroup, IamPolicy, IamRole, IamUser, inline_policy_key
from auditor.permissions import PermissionModel, catalog
from tests.builders import DEV, World

USER_ARN = f"arn:aws:iam::{DEV}:user/alice"


def _doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _model(world: World) -> PermissionModel:
    return PermissionModel(world.snapshot())


def _alice(world: World, *, groups=(), inline=None, boundary=None) -> IamUser:
    user = IamUser(
        account_id=DEV,
        user_name="alice",
        user_id="AIDAALICE",
        arn=USER_ARN,
        groups=list(groups),
        inline_policies=["own"] if inline else [],
        permissions_boundary=boundary,
    )
    world.tables["iam_users"].append(user)
    if inline:
        world.tables["iam_policies"].append(
            IamPolicy(
                account_id=DEV, arn=inline_policy_key(USER_ARN, "own"), name="own", kind="inline", document=inline
            )
        )
    return user


def _managed(world: World, name: str, document: dict) -> str:
    arn = f"arn:aws:iam::{DEV}:policy/{name}"
    world.tables["iam_policies"].append(
        IamPolicy(account_id=DEV, arn=arn, name=name, kind="managed", document=document, version_id="v3")
    )
    return arn


def test_wildcards_expand_against_the_shipped_reference():
    actions = catalog()
    gets = actions.expand("s3:get*")
    assert "s3:GetObject" in gets and "s3:PutObject" not in gets
    assert actions.expand("*") == actions.everything and len(actions.everything) > 15000
    assert actions.canonical("IAM:passrole") == "iam:PassRole"


def test_not_action_allows_everything_else_and_a_deny_wins():
    world = World()
    user = _alice(
        world,
        inline=_doc(
            {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*", "Condition": {"Bool": {"aws:x": "true"}}},
        ),
    )
    alice = _model(world).iam_user(user)
    assert alice.allows("sts:AssumeRole")
    assert not alice.allows("iam:PassRole")
    assert not alice.allows("s3:DeleteBucket")
    assert alice.allows("s3:PutObject"), "a conditional deny narrows, it does not remove"
    assert not alice.is_admin


def test_conditions_are_kept_and_marked_and_resources_matched():
    world = World()
    user = _alice(
        world,
        inline=_doc(
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": f"arn:aws:iam::{DEV}:role/app-*"},
            {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*", "Condition": {"X": {}}},
            {"Effect": "Allow", "Action": "kms:Decrypt", "NotResource": "arn:aws:kms:*:*:key/secret"},
        ),
    )
    alice = _model(world).iam_user(user)
    assert alice.allows("iam:PassRole", f"arn:aws:iam::{DEV}:role/app-runtime")
    assert not alice.allows("iam:PassRole", f"arn:aws:iam::{DEV}:role/admin")
    assert [g.statement.conditional for g in alice.allows("ec2:RunInstances")] == [True]
    assert not alice.unconditional("ec2:RunInstances")
    assert alice.allows("kms:Decrypt", "arn:aws:kms:us-east-1:1:key/other")
    assert not alice.allows("kms:Decrypt", "arn:aws:kms:us-east-1:1:key/secret")


def test_a_boundary_limits_an_administrator_and_paths_name_the_group():
    world = World()
    admin = _managed(world, "Everything", _doc({"Effect": "Allow", "Action": "*", "Resource": "*"}))
    bound = _managed(world, "OnlyS3", _doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
    world.tables["iam_groups"].append(
        IamGroup(account_id=DEV, group_name="Ops", arn=f"arn:aws:iam::{DEV}:group/Ops", attached_policies=[admin])
    )
    bounded = _model(world).iam_user(_alice(world, groups=["Ops"], boundary=bound))
    assert not bounded.is_admin
    assert bounded.allows("s3:GetObject") and not bounded.allows("ec2:RunInstances")
    assert bounded.allows("s3:GetObject")[0].path() == "group Ops → managed policy Everything"
    assert bounded.actions == catalog().expand("s3:*")


def test_each_policy_version_is_compiled_once_and_an_unread_one_is_named():
    world = World()
    shared = _managed(world, "Shared", _doc({"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}))
    roles = [
        IamRole(account_id=DEV, role_name=n, role_id=n, arn=f"arn:aws:iam::{DEV}:role/{n}", attached_policies=[shared])
        for n in ("a", "b")
    ]
    roles.append(
        IamRole(
            account_id=DEV, role_name="c", role_id="c", arn="arn:c", attached_policies=["arn:aws:iam::aws:policy/X"]
        )
    )
    model = _model(world)
    a, b, c = (model.iam_role(r) for r in roles)
    assert a.grants[0].statement is b.grants[0].statement
    assert len(model._compiled) == 1
    assert c.unknown and "arn:aws:iam::aws:policy/X" in c.unknown[0]


def test_a_policy_variable_the_user_fixes_scopes_the_grant_to_itself():
    world = World()
    own = "arn:aws:iam::*:user/${aws:username}"
    user = _alice(world, inline=_doc({"Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": own}))
    alice = _model(world).iam_user(user)
    assert alice.allows("iam:CreateAccessKey", USER_ARN)
    assert not alice.allows("iam:CreateAccessKey", f"arn:aws:iam::{DEV}:user/bob")


def test_a_snapshot_from_before_the_policy_documents_loads_and_names_them_unread(tmp_path):
    world = World()
    user = _alice(world, inline=_doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
    snapshots.save(world.snapshot(), tmp_path)
    for name in ("iam_policies", "action_usage"):
        (tmp_path / f"{name}.jsonl").unlink()
    older = snapshots.load(tmp_path)
    assert older.table("iam_policies") == []
    alice = PermissionModel(older).iam_user(user)
    assert not alice.allows("s3:GetObject") and alice.unknown == [
        f"inline policy own ({USER_ARN}#own): its document was not read"
    ]
