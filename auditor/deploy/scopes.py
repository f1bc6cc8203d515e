"""Which resources each IAM action the auditor uses may touch, and which role may use it.

Two small tables, read by the policy generator (``auditor.deploy.policies``):

- ``RESOURCES``: the ARNs an action is granted on, for every action whose
  Service Authorization Reference entry lists resource types (an action
  absent here is granted on ``"*"``, which AWS requires when it lists
  none). ARNs are CloudFormation ``Fn::Sub`` strings: ``${AWS::Partition}``
  and the templates' parameters (``${TrailBucket}``, ``${IdentityStoreId}``,
  ``${IdentityCenterInstanceId}``, ...), so one table serves the templates
  and the JSON files. A test checks the table against AWS's published
  action data.
- ``ROLE_OF``: for each permission a remediation action declares, whether
  the apply role (``remediate plan|apply|verify``), the rollback role
  (``remediate rollback``), both, or the right-sizing role (every step of a
  right-sizing plan: it writes policies, so neither of the others may) hold it. Apply revokes and never
  re-grants; rollback re-grants and never revokes. The two status flips
  (``iam:UpdateAccessKey``, ``identitystore:UpdateUser``) are one IAM action
  for both directions and have no condition key telling them apart, so both
  roles hold them, on user ARNs only. A declared permission missing here
  stops the generator: a new action must say which side it is on.
"""

from __future__ import annotations

P = "${AWS::Partition}"
IAM_USERS = f"arn:{P}:iam::*:user/*"
IAM_ROLES = f"arn:{P}:iam::*:role/*"
IAM_POLICIES = f"arn:{P}:iam::*:policy/*"  # the account's own and AWS's ("aws" in the account field)
TRAIL_BUCKET = f"arn:{P}:s3:::${{TrailBucket}}"
TRAIL_OBJECTS = f"arn:{P}:s3:::${{TrailBucket}}/*"
TRAIL_KEY = "${TrailKmsKeyArn}"
# the identity store's ARN names the account that owns it (the management account), also when a
# delegated administrator calls; its id (d-...) is unique, so the account is left open
STORE = f"arn:{P}:identitystore::*:identitystore/${{IdentityStoreId}}"
STORE_USERS = f"arn:{P}:identitystore:::user/*"
STORE_GROUPS = f"arn:{P}:identitystore:::group/*"
STORE_MEMBERSHIPS = f"arn:{P}:identitystore:::membership/*"
INSTANCE = f"arn:{P}:sso:::instance/${{IdentityCenterInstanceId}}"
PERMISSION_SETS = f"arn:{P}:sso:::permissionSet/${{IdentityCenterInstanceId}}/*"
SSO_ACCOUNTS = f"arn:{P}:sso:::account/*"
# an account belongs to one organisation, so its id is left open
ORG_ROOTS = f"arn:{P}:organizations::*:root/o-*/r-*"
ORG_UNITS = f"arn:{P}:organizations::*:ou/o-*/ou-*"
ORG_ACCOUNTS = f"arn:{P}:organizations::*:account/o-*/*"

# the Athena engine ([cloudtrail] engine = "athena"): its workgroup, the catalog, the table it keeps, its results
ATHENA_WORKGROUP = f"arn:{P}:athena:${{AWS::Region}}:${{AWS::AccountId}}:workgroup/${{AthenaWorkGroup}}"
ATHENA_CATALOG = f"arn:{P}:athena:${{AWS::Region}}:${{AWS::AccountId}}:datacatalog/AwsDataCatalog"
GLUE_CATALOG = f"arn:{P}:glue:${{AWS::Region}}:${{AWS::AccountId}}:catalog"
GLUE_DATABASE = f"arn:{P}:glue:${{AWS::Region}}:${{AWS::AccountId}}:database/${{AthenaDatabase}}"
GLUE_TABLE = f"arn:{P}:glue:${{AWS::Region}}:${{AWS::AccountId}}:table/${{AthenaDatabase}}/${{AthenaTable}}"
RESULTS_BUCKET = f"arn:{P}:s3:::${{AthenaResultsBucket}}"
RESULTS_OBJECTS = f"arn:{P}:s3:::${{AthenaResultsBucket}}/*"

# Resource sets, named: a statement's Sid ends with the name of the set it is granted on.
SETS: dict[str, tuple[str, ...]] = {
    "": ("*",),
    "OnUsers": (IAM_USERS,),
    "OnUsersAndRoles": (IAM_USERS, IAM_ROLES),
    "OnPolicies": (IAM_POLICIES,),
    "OnTrailBucket": (TRAIL_BUCKET,),
    "OnTrailObjects": (TRAIL_OBJECTS,),
    "OnTrailKey": (TRAIL_KEY,),
    "OnStoreUsers": (STORE, STORE_USERS),
    "OnStoreGroups": (STORE, STORE_GROUPS),
    "OnStoreMemberships": (STORE, STORE_GROUPS, STORE_MEMBERSHIPS),
    "OnStoreUsersAndGroups": (STORE, STORE_GROUPS, STORE_USERS),
    "OnStoreMembershipsOfUsers": (STORE, STORE_GROUPS, STORE_MEMBERSHIPS, STORE_USERS),
    "OnInstance": (INSTANCE,),
    "OnPermissionSets": (INSTANCE, PERMISSION_SETS),
    "OnAccounts": (INSTANCE, SSO_ACCOUNTS),
    "OnAssignments": (INSTANCE, PERMISSION_SETS, SSO_ACCOUNTS),
    "OnParents": (ORG_ROOTS, ORG_UNITS),
    "OnOrgAccounts": (ORG_ACCOUNTS,),
}

# action -> the name of its resource set in SETS (Service Authorization Reference: its resource types)
RESOURCES: dict[str, str] = {
    # IAM: user (and role) ARNs in any account the role is in
    "iam:AttachUserPolicy": "OnUsers",
    "iam:CreateLoginProfile": "OnUsers",
    "iam:DeleteLoginProfile": "OnUsers",
    "iam:DetachUserPolicy": "OnUsers",
    "iam:GenerateServiceLastAccessedDetails": "OnUsersAndRoles",  # Access Advisor reads users and roles
    "iam:GetAccessKeyLastUsed": "OnUsers",
    "iam:GetLoginProfile": "OnUsers",
    "iam:GetUser": "OnUsers",  # a targeted check reads the IAM users a person owns, one by one
    "iam:ListGroupsForUser": "OnUsers",
    "iam:ListUserPolicies": "OnUsers",
    "iam:GetPolicy": "OnPolicies",  # the AWS managed policies in use
    "iam:GetPolicyVersion": "OnPolicies",
    "iam:ListAccessKeys": "OnUsers",
    "iam:ListAttachedUserPolicies": "OnUsers",
    "iam:ListMFADevices": "OnUsers",
    "iam:UpdateAccessKey": "OnUsers",
    # identity store: the configured store, and its users, groups and memberships
    "identitystore:CreateGroupMembership": "OnStoreUsersAndGroups",
    "identitystore:DeleteGroupMembership": "OnStoreMembershipsOfUsers",
    "identitystore:DescribeGroup": "OnStoreGroups",
    "identitystore:DescribeUser": "OnStoreUsers",
    "identitystore:GetUserId": "OnStoreUsers",
    "identitystore:ListGroupMembershipsForMember": "OnStoreMembershipsOfUsers",
    "identitystore:GetGroupMembershipId": "OnStoreMembershipsOfUsers",
    "identitystore:ListGroupMemberships": "OnStoreMemberships",
    "identitystore:ListGroups": "OnStoreGroups",
    "identitystore:ListUsers": "OnStoreUsers",
    "identitystore:UpdateUser": "OnStoreUsers",
    # Identity Center: the configured instance, its permission sets, and accounts
    "sso:CreateAccountAssignment": "OnAssignments",
    "sso:DeleteAccountAssignment": "OnAssignments",
    "sso:DescribeAccountAssignmentCreationStatus": "OnInstance",
    "sso:DescribeAccountAssignmentDeletionStatus": "OnInstance",
    "sso:DescribePermissionSet": "OnPermissionSets",
    "sso:GetInlinePolicyForPermissionSet": "OnPermissionSets",
    "sso:GetPermissionsBoundaryForPermissionSet": "OnPermissionSets",
    "sso:ListAccountAssignments": "OnAssignments",
    "sso:ListAccountAssignmentsForPrincipal": "OnInstance",
    "sso:ListAccountsForProvisionedPermissionSet": "OnPermissionSets",
    "sso:ListCustomerManagedPolicyReferencesInPermissionSet": "OnPermissionSets",
    "sso:ListManagedPoliciesInPermissionSet": "OnPermissionSets",
    "sso:ListPermissionSets": "OnInstance",
    "sso:PutInlinePolicyToPermissionSet": "OnPermissionSets",  # right-sizing writes the inline policy
    "sso:DeleteInlinePolicyFromPermissionSet": "OnPermissionSets",
    "sso:ProvisionPermissionSet": "OnAssignments",  # to every account it is provisioned to
    "sso:DescribePermissionSetProvisioningStatus": "OnInstance",
    "sso:ListPermissionSetsProvisionedToAccount": "OnAccounts",
    "sso:ListTagsForResource": "OnPermissionSets",  # the collector reads permission sets' tags
    # Organizations
    "organizations:ListAccountsForParent": "OnParents",
    "organizations:ListOrganizationalUnitsForParent": "OnParents",
    "organizations:DescribeAccount": "OnOrgAccounts",
    "organizations:ListTagsForResource": "OnOrgAccounts",  # the collector reads accounts' tags
    # the trail bucket and, when it is SSE-KMS encrypted, its key
    "s3:GetObject": "OnTrailObjects",
    "s3:ListBucket": "OnTrailBucket",
    "kms:Decrypt": "OnTrailKey",
}

# What Athena checks as the caller while it runs the engine's statements (Athena user guide, "Access to
# the AWS Glue Data Catalog" and "Access to Amazon S3"): the table in Glue (read; created once), the trail
# bucket (read, and its key when SSE-KMS) and the results location (written, then read back by
# GetQueryResults). (Sid suffix, actions, resources); the Sids start with "AthenaChecks".
ATHENA_CHECKS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("GlueDatabase", ("glue:GetDatabase",), (GLUE_CATALOG, GLUE_DATABASE)),
    ("GlueTable", ("glue:CreateTable", "glue:GetTable"), (GLUE_CATALOG, GLUE_DATABASE, GLUE_TABLE)),
    ("Buckets", ("s3:GetBucketLocation", "s3:ListBucket"), (TRAIL_BUCKET, RESULTS_BUCKET)),
    ("ResultUploads", ("s3:ListBucketMultipartUploads",), (RESULTS_BUCKET,)),
    ("Objects", ("s3:GetObject",), (TRAIL_OBJECTS, RESULTS_OBJECTS)),
    ("ResultWrites", ("s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:PutObject"), (RESULTS_OBJECTS,)),
    ("TrailKeyDecrypt", ("kms:Decrypt",), (TRAIL_KEY,)),
)
# What the engine calls itself: Athena's catalog for the table's metadata, its workgroup for the rest.
ATHENA_CALLS_ON_CATALOG = ("athena:GetTableMetadata",)

# Permissions the product never calls itself but an AWS service checks on its behalf:
# reading an SSE-KMS object makes S3 call KMS Decrypt as the caller.
IMPLIED = {"kms:Decrypt": "s3:GetObject"}

APPLY, ROLLBACK, RIGHTSIZE = "apply", "rollback", "rightsize"
BOTH = (APPLY, ROLLBACK)
ROLE_OF: dict[str, tuple[str, ...]] = {
    # right-sizing: a permission set's inline policy, written both ways, and its provisioning
    "sso:GetInlinePolicyForPermissionSet": (RIGHTSIZE,),
    "sso:PutInlinePolicyToPermissionSet": (RIGHTSIZE,),
    "sso:DeleteInlinePolicyFromPermissionSet": (RIGHTSIZE,),
    "sso:ProvisionPermissionSet": (RIGHTSIZE,),
    "sso:DescribePermissionSetProvisioningStatus": (RIGHTSIZE,),
    # reads: both sides check the target's state before and after a change
    "iam:GetLoginProfile": BOTH,
    "iam:ListAccessKeys": BOTH,
    "iam:ListAttachedUserPolicies": BOTH,
    "identitystore:DescribeUser": BOTH,
    "identitystore:GetGroupMembershipId": BOTH,
    "sso:ListAccountAssignments": BOTH,
    # reads only planning needs (the names protection matches)
    "identitystore:DescribeGroup": (APPLY,),
    "sso:DescribePermissionSet": (APPLY, RIGHTSIZE),
    "sso:ListInstances": (APPLY,),
    # status flips: one action for both directions (see the module's docstring)
    "iam:UpdateAccessKey": BOTH,
    "identitystore:UpdateUser": BOTH,
    # revoking: apply only
    "iam:DeleteLoginProfile": (APPLY,),
    "iam:DetachUserPolicy": (APPLY,),
    "identitystore:DeleteGroupMembership": (APPLY,),
    "sso:DeleteAccountAssignment": (APPLY,),
    "sso:DescribeAccountAssignmentDeletionStatus": (APPLY,),
    # re-granting: rollback only
    "iam:AttachUserPolicy": (ROLLBACK,),
    "iam:CreateLoginProfile": (ROLLBACK,),
    "identitystore:CreateGroupMembership": (ROLLBACK,),
    "sso:CreateAccountAssignment": (ROLLBACK,),
    "sso:DescribeAccountAssignmentCreationStatus": (ROLLBACK,),
}

# Policies rollback may re-attach (iam:PolicyARN): the template parameter ReattachPolicyArns, by default
# the account's own managed policies; AWS's administrator-class policies never, whatever it says.
REATTACH_DEFAULT = ("arn:aws:iam::*:policy/*",)
NEVER_REATTACHED = tuple(
    f"arn:{P}:iam::aws:policy/{name}" for name in ("AdministratorAccess", "IAMFullAccess", "PowerUserAccess")
)
REATTACH_CONDITION = {
    "ArnLike": {"iam:PolicyARN": "${ReattachPolicyArns}"},
    "ArnNotLike": {"iam:PolicyARN": list(NEVER_REATTACHED)},
}
CONDITIONS = {"iam:AttachUserPolicy": REATTACH_CONDITION}
# a statement on these sets exists only when the parameter is given (a CloudFormation condition)
OPTIONAL = {"OnTrailKey": "TrailKmsKeyArn"}


def resources(action: str) -> tuple[str, ...]:
    return SETS[RESOURCES.get(action, "")]


def roles_of(permission: str) -> tuple[str, ...]:
    """Which remediation roles hold ``permission``; a permission nobody classified is an error."""
    try:
        return ROLE_OF[permission]
    except KeyError:
        raise ValueError(
            f"remediation permission {permission!r} is in neither the apply nor the rollback role: "
            "classify it in auditor.deploy.scopes.ROLE_OF"
        ) from None
