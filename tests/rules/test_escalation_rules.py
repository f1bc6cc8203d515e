"""Escalation-path rules: each method found with its whole path; administrators and read-only users cleared."""

from __future__ import annotations

from auditor.analyze import evaluate
from auditor.config import defaults
from auditor.model import IamPolicy, IamRole, IamUser, inline_policy_key
from tests.builders import DEV, MGMT, PROD, World

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def _doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _estate() -> World:
    world = World()
    world.tables["iam_policies"] += [
        IamPolicy(
            account_id=None,
            arn=ADMIN,
            name="AdministratorAccess",
            kind="managed",
            version_id="v1",
            document=_doc({"Effect": "Allow", "Action": "*", "Resource": "*"}),
        ),
        IamPolicy(
            account_id=None,
            arn=READ_ONLY,
            name="ReadOnlyAccess",
            kind="managed",
            version_id="v9",
            document=_doc({"Effect": "Allow", "Action": ["s3:Get*", "ec2:Describe*"], "Resource": "*"}),
        ),
    ]
    trust_mgmt = _doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{MGMT}:root"}, "Action": "sts:AssumeRole"}
    )
    trust_lambda = _doc(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    world.tables["iam_roles"] += [
        IamRole(
            account_id=PROD,
            role_name="deploy-admin",
            role_id="R1",
            arn=f"arn:aws:iam::{PROD}:role/deploy-admin",
            attached_policies=[ADMIN],
            trust_policy=trust_mgmt,
        ),
        IamRole(
            account_id=DEV,
            role_name="fn-admin",
            role_id="R2",
            arn=f"arn:aws:iam::{DEV}:role/fn-admin",
            attached_policies=[ADMIN],
            trust_policy=trust_lambda,
        ),
    ]
    _user(world, MGMT, "release-bot", _doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}))
    _user(
        world,
        DEV,
        "fn-deployer",
        _doc(
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": f"arn:aws:iam::{DEV}:role/fn-*"},
            {"Effect": "Allow", "Action": "lambda:Create*", "Resource": "*"},
        ),
    )
    _user(world, DEV, "reader", None, attached=[READ_ONLY])
    _user(world, DEV, "boss", None, attached=[ADMIN])
    return world


def _user(world, account, name, inline, attached=()):
    arn = f"arn:aws:iam::{account}:user/{name}"
    world.tables["iam_users"].append(
        IamUser(
            account_id=account,
            user_name=name,
            user_id=f"AIDA{name}",
            arn=arn,
            attached_policies=list(attached),
            inline_policies=["p"] if inline else [],
        )
    )
    if inline:
        world.tables["iam_policies"].append(
            IamPolicy(account_id=account, arn=inline_policy_key(arn, "p"), name="p", kind="inline", document=inline)
        )


def test_assume_role_across_accounts_through_the_trust_policy(findings_of):
    found = findings_of(_estate(), "iam-escalation-assume-role")
    bot = found["release-bot"]
    assert bot.severity == "high"
    assert bot.evidence["paths"] == [
        "release-bot → inline policy p allows sts:AssumeRole → role deploy-admin in prod (222222222222) (admin)"
    ]
    assert "reader" not in found and "boss" not in found


def test_pass_role_to_compute_names_the_role_and_the_create_action(findings_of):
    found = findings_of(_estate(), "iam-escalation-pass-role")
    assert set(found) == {"fn-deployer"}
    (path,) = found["fn-deployer"].evidence["paths"]
    assert "iam:PassRole on role fn-admin (admin) + lambda:CreateFunction" in path


def test_administrators_and_readers_are_cleared_with_the_reason():
    world = _estate()
    verdicts = {
        v.principal.name: v.reason
        for v in evaluate(world.snapshot(), defaults(), world.as_of).verdicts
        if v.rule_id == "iam-escalation-attach-put-policy"
    }
    assert verdicts["boss"] == "already an administrator (managed policy AdministratorAccess)"
    assert verdicts["reader"] == "no path: it cannot attach or write policies on IAM principals"
