"""Sensitive capability categories of a principal, as Cloudsplaining names them.

Resource exposure and infrastructure modification follow AWS's own access
levels in the service reference ("Permissions management": who else may use
a resource; "Write": changes to it, the other categories' actions left out). Credential exposure and data
exfiltration are short lists of actions that hand out secrets or data as
such, after Cloudsplaining's (salesforce/cloudsplaining, shared/utils and
its default exclusions); an action the reference no longer lists is ignored.
"""

from __future__ import annotations

from collections.abc import Set

from auditor.permissions.catalog import Catalog

CREDENTIAL_EXPOSURE = "credential_exposure"
EXFILTRATION = "exfiltration"
RESOURCE_EXPOSURE = "resource_exposure"
INFRASTRUCTURE_MODIFICATION = "infrastructure_modification"
CATEGORIES = (CREDENTIAL_EXPOSURE, EXFILTRATION, RESOURCE_EXPOSURE, INFRASTRUCTURE_MODIFICATION)
LABELS = {
    CREDENTIAL_EXPOSURE: "credential exposure",
    EXFILTRATION: "data exfiltration",
    RESOURCE_EXPOSURE: "resource exposure",
    INFRASTRUCTURE_MODIFICATION: "infrastructure modification",
}

CREDENTIAL_ACTIONS = frozenset(
    {
        "chime:CreateApiKey",
        "codepipeline:PollForJobs",
        "cognito-identity:GetOpenIdToken",
        "cognito-identity:GetOpenIdTokenForDeveloperIdentity",
        "cognito-identity:GetCredentialsForIdentity",
        "connect:GetFederationToken",
        "ecr:GetAuthorizationToken",
        "ec2:GetPasswordData",
        "gamelift:RequestUploadCredentials",
        "gamelift:GetInstanceAccess",
        "iam:CreateAccessKey",
        "iam:CreateLoginProfile",
        "iam:CreateServiceSpecificCredential",
        "iam:ResetServiceSpecificCredential",
        "iam:UpdateAccessKey",
        "lightsail:GetInstanceAccessDetails",
        "lightsail:GetRelationalDatabaseMasterUserPassword",
        "rds-db:Connect",
        "redshift:GetClusterCredentials",
        "sso:GetRoleCredentials",
        "mediapackage:RotateChannelCredentials",
        "mediapackage:RotateIngestEndpointCredentials",
        "sts:AssumeRole",
        "sts:AssumeRoleWithSAML",
        "sts:AssumeRoleWithWebIdentity",
        "sts:GetFederationToken",
        "sts:GetSessionToken",
    }
)
EXFILTRATION_ACTIONS = frozenset(
    {
        "s3:GetObject",
        "ssm:GetParameter",
        "ssm:GetParameters",
        "ssm:GetParametersByPath",
        "secretsmanager:GetSecretValue",
        "kms:Decrypt",
        "dynamodb:Scan",
        "rds:CopyDBSnapshot",
        "rds:CreateDBSnapshot",
        "ec2:CreateSnapshot",
        "ebs:GetSnapshotBlock",
    }
)


def capabilities(actions: Set[str], catalog: Catalog) -> dict[str, list[str]]:
    """The allowed actions (``Effective.actions``) in each category, sorted; conditional grants count: they may apply."""
    return {
        CREDENTIAL_EXPOSURE: sorted(actions & CREDENTIAL_ACTIONS),
        EXFILTRATION: sorted(actions & EXFILTRATION_ACTIONS),
        RESOURCE_EXPOSURE: sorted(actions & catalog.permissions_management),
        INFRASTRUCTURE_MODIFICATION: sorted((actions & catalog.write) - CREDENTIAL_ACTIONS - EXFILTRATION_ACTIONS),
    }


def summary(found: dict[str, list[str]], examples: int = 5) -> dict[str, dict]:
    """Per category present: how many actions and the first few, for evidence and review items."""
    return {
        category: {"count": len(actions), "examples": actions[:examples]}
        for category, actions in found.items()
        if actions
    }


def describe(found: dict[str, list[str]]) -> str:
    """One line for a table cell: "credential exposure (2), resource exposure (40)"."""
    return ", ".join(f"{LABELS[c]} ({len(found[c])})" for c in CATEGORIES if found.get(c)) or "none"
