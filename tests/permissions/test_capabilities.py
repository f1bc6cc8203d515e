"""Sensitive capability categories, per principal, as the inventory shows them."""

from __future__ import annotations

from auditor.model import IamPolicy, IamUser, inline_policy_key
from auditor.permissions import catalog
from auditor.permissions.capabilities import capabilities, describe
from auditor.report.inventory import inventory
from tests.builders import DEV, World


def test_categories_follow_the_reference_access_levels():
    found = capabilities(
        frozenset({"iam:AttachUserPolicy", "s3:GetObject", "s3:PutObject", "sts:AssumeRole"}), catalog()
    )
    assert found == {
        "credential_exposure": ["sts:AssumeRole"],
        "exfiltration": ["s3:GetObject"],
        "resource_exposure": ["iam:AttachUserPolicy"],
        "infrastructure_modification": ["s3:PutObject"],
    }
    assert describe(found) == (
        "credential exposure (1), data exfiltration (1), resource exposure (1), infrastructure modification (1)"
    )


def test_the_inventory_lists_each_principals_capabilities():
    world = World()
    arn = f"arn:aws:iam::{DEV}:user/reader"
    world.tables["iam_users"].append(
        IamUser(account_id=DEV, user_name="reader", user_id="AIDAREADER", arn=arn, inline_policies=["p"])
    )
    document = {
        "Statement": [{"Effect": "Allow", "Action": ["s3:Get*", "secretsmanager:GetSecretValue"], "Resource": "*"}]
    }
    world.tables["iam_policies"].append(
        IamPolicy(account_id=DEV, arn=inline_policy_key(arn, "p"), name="p", kind="inline", document=document)
    )
    table = inventory(world.snapshot(), [])["capabilities"]
    [row] = [dict(zip(table["columns"], r, strict=True)) for r in table["rows"] if r[1] == "reader"]
    assert row["Data exfiltration"] == 2 and row["Credential exposure"] == 0 and row["Administrator"] == "no"
    assert row["Examples"] == "s3:GetObject, secretsmanager:GetSecretValue"
