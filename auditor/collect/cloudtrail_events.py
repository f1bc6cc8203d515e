"""Attribution: which principal a CloudTrail record proves active, and when.

Pure functions of decoded records, with no I/O, so the S3 reader, files on
disk and any later LookupEvents or Athena path share them. What counts:

- Identity Center sign-in: ``signin:UserAuthentication`` (only written when
  every factor passed) and legacy ``sso:Authenticate``; other portal and CLI
  calls (``sso``/``sso-oauth``) by the user; ``GetRoleCredentials`` also
  proves use of a permission set in its target account.
- Permission-set use in an account: sessions of ``AWSReservedSSO_<PS>_<hash>``
  roles (the session name is the user name) and ``AssumeRoleWithSAML`` into
  them.
- IAM users (console or keys), long-term ``AKIA`` keys, root, and role
  sessions; ``AssumeRole*`` calls prove their target role was used.

A call that failed with an ``errorCode`` still proves its credential is live
and counts; a failed sign-in proves nothing and does not. Identity Center
users are keyed ``id:<identity store UserId>`` when the record carries
``onBehalfOf`` (events since mid 2025) and ``name:<user name, lower case>``
otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from auditor.collect.cloudtrail_records import (
    AdditionalEventData,
    CloudTrailRecord,
    LeanRecord,
    OnBehalfOf,
    RequestParameters,
    ResponseElements,
    ServiceEventDetails,
    SessionContext,
    SessionIssuer,
    UserIdentity,
)
from auditor.model import ActivityKind

# (kind, key, account_id, detail): one principal proven active by a record
Hit = tuple[str, str, str | None, str | None]

IDC_USER = ActivityKind.IDC_USER.value
IDC_ASSIGNMENT = ActivityKind.IDC_ASSIGNMENT.value
IAM_USER = ActivityKind.IAM_USER.value
ACCESS_KEY = ActivityKind.ACCESS_KEY.value
ROOT = ActivityKind.ROOT.value
IAM_ROLE = ActivityKind.IAM_ROLE.value

SIGNIN = "signin.amazonaws.com"
SSO = "sso.amazonaws.com"
STS = "sts.amazonaws.com"
# tuples, not sets: membership by equality never fails on an unhashable value from a damaged record
IDC_PORTAL_SOURCES = (SSO, "sso-oauth.amazonaws.com")
# "Unknown" before the July 2025 change, "IdentityCenterUser" after; AWS says to accept both
IDC_USER_TYPES = ("Unknown", "IdentityCenterUser")
ASSUME_ROLE_EVENTS = ("AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity")
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
# the owner shown for a root access key, as in the IAM credential report
ROOT_KEY_OWNER = "<root_account>"
SSO_ROLE_PREFIX = "AWSReservedSSO_"
# greedy name: permission set names may contain "_"; the hash is 16 hex chars in
# real accounts but sanitised samples carry anything, so any alphanumeric suffix
_SSO_ROLE = re.compile(r"AWSReservedSSO_(.+)_([0-9A-Za-z]+)")


def _text(value: object) -> str | None:
    """A usable string leaf: not missing, not empty, not redacted by AWS."""
    return value if isinstance(value, str) and value and value != HIDDEN else None


def arn_account(arn: str | None) -> str | None:
    if not arn:
        return None
    parts = arn.split(":", 5)
    return (parts[4] or None) if len(parts) == 6 else None


def permission_set_name(role_name: str) -> str | None:
    """The permission set behind an ``AWSReservedSSO_<name>_<hash>`` role, else None."""
    if not role_name.startswith(SSO_ROLE_PREFIX):
        return None
    match = _SSO_ROLE.fullmatch(role_name)
    if match:
        return match.group(1)
    return role_name[len(SSO_ROLE_PREFIX) :] or None


def idc_key(user_id: str | None, user_name: str | None) -> str | None:
    if user_id:
        return f"id:{user_id}"
    if user_name:
        return f"name:{user_name.lower()}"
    return None


def _issuer(identity: UserIdentity) -> SessionIssuer | None:
    context = identity.sessionContext
    if isinstance(context, SessionContext) and isinstance(context.sessionIssuer, SessionIssuer):
        return context.sessionIssuer
    return None


def _user_id(identity: UserIdentity) -> str | None:
    behalf = identity.onBehalfOf
    return _text(behalf.userId) if isinstance(behalf, OnBehalfOf) else None


def failed_sign_in(record: CloudTrailRecord) -> bool:
    """A sign-in that did not succeed: it proves nothing about the credential's use."""
    source = record.eventSource
    if source == SIGNIN:
        if record.errorCode:
            return True
        outcome = record.responseElements
        return isinstance(outcome, ResponseElements) and "Failure" in (
            outcome.ConsoleLogin,
            outcome.CheckMfa,
            outcome.ExternalIdPDirectoryLogin,
            outcome.PasswordUpdated,
            outcome.SwitchRole,
        )
    return source == SSO and record.eventName == "Authenticate" and bool(record.errorCode)


def sign_in_workflow(record: CloudTrailRecord) -> tuple[str | None, str | None]:
    """``(AuthWorkflowID, UserName)`` of an Identity Center sign-in step."""
    extra = record.additionalEventData
    if not isinstance(extra, AdditionalEventData):
        return None, None
    return _text(extra.AuthWorkflowID), _text(extra.UserName)


def _successful_user_authentication(record: CloudTrailRecord) -> bool:
    details = record.serviceEventDetails
    return (
        record.eventName == "UserAuthentication"
        and isinstance(details, ServiceEventDetails)
        and details.UserAuthentication == "Success"
    )


def unresolved_sign_in(record: CloudTrailRecord) -> str | None:
    """The AuthWorkflowID of a successful sign-in that names no user by itself."""
    identity = record.userIdentity
    if record.eventSource != SIGNIN or not isinstance(identity, UserIdentity) or identity.type not in IDC_USER_TYPES:
        return None
    if not _successful_user_authentication(record) or _user_id(identity) or _text(identity.userName):
        return None
    workflow, name = sign_in_workflow(record)
    return None if name else workflow


def attribute(record: CloudTrailRecord, workflow_names: Mapping[str, str] | None = None) -> list[Hit]:
    """The principals ``record`` proves active (empty when it proves none).

    ``workflow_names`` maps AuthWorkflowID to the user name another step of
    the same sign-in carried (newer sign-ins name the user only once).
    """
    hits = caller_hits(record, workflow_names)
    if assumes_role(record):
        hits.extend(assumed_role_target(record.requestParameters, record.userIdentity))
    return hits


def caller_hits(record: CloudTrailRecord, workflow_names: Mapping[str, str] | None = None) -> list[Hit]:
    """The principals the caller (``userIdentity``) proves active: ``attribute`` without an assumed role's target."""
    hits: list[Hit] = []
    identity = record.userIdentity
    if isinstance(identity, UserIdentity) and not failed_sign_in(record):
        kind = identity.type
        if kind == "AssumedRole":
            _role_session(identity, hits)
        elif kind == "IAMUser":
            _iam_user(record, identity, hits)
        elif kind in IDC_USER_TYPES:
            _idc_user(record, identity, hits, workflow_names)
        elif kind == "Root":
            _root(record, identity, hits)
        elif kind == "FederatedUser":
            _federated_user(identity, hits)
    return hits


def assumes_role(record: CloudTrailRecord | LeanRecord) -> bool:
    """A successful AssumeRole*: besides its caller, it proves its target role used (``assumed_role_target``)."""
    return record.eventSource == STS and record.eventName in ASSUME_ROLE_EVENTS and not record.errorCode


def _parse_session_arn(arn: str | None) -> tuple[str, str, str, str | None] | None:
    """``arn:<partition>:sts::<acct>:assumed-role/<role>/<session>`` -> (partition, acct, role, session)."""
    if not arn:
        return None
    parts = arn.split(":", 5)
    if len(parts) != 6 or not parts[5].startswith("assumed-role/"):
        return None
    pieces = parts[5].split("/", 2)
    if len(pieces) < 2 or not pieces[1]:
        return None
    return parts[1], parts[4], pieces[1], (pieces[2] if len(pieces) == 3 and pieces[2] else None)


def _role_session(identity: UserIdentity, hits: list[Hit]) -> None:
    session = _parse_session_arn(_text(identity.arn))
    issuer = _issuer(identity)
    issuer_arn = _text(issuer.arn) if issuer is not None else None
    if issuer_arn and ":role/" in issuer_arn:
        role_arn = issuer_arn
        role_name = issuer_arn.rsplit("/", 1)[-1]
    elif session:
        partition, account, role_name, _ = session
        role_arn = f"arn:{partition}:iam::{account}:role/{role_name}"
    else:
        return
    account = arn_account(role_arn)
    permission_set = permission_set_name(role_name)
    if permission_set is None:
        hits.append((IAM_ROLE, role_arn, account, None))
        return
    key = idc_key(_user_id(identity), _session_name(identity, session))
    if key:
        hits.append((IDC_ASSIGNMENT, key, account, permission_set))


def _session_name(identity: UserIdentity, session: tuple[str, str, str, str | None] | None) -> str | None:
    """The role session name: from the session ARN, else from ``principalId`` (``AROA...:<session>``)."""
    if session and session[3]:
        return session[3]
    principal = _text(identity.principalId)
    if principal and ":" in principal:
        return principal.split(":", 1)[1] or None
    return None


def _iam_user(record: CloudTrailRecord, identity: UserIdentity, hits: list[Hit]) -> None:
    arn = _text(identity.arn)
    name = _text(identity.userName) or (arn.rsplit("/", 1)[-1] if arn and ":user/" in arn else None)
    if not name:
        return
    account = _text(identity.accountId) or arn_account(arn) or _text(record.recipientAccountId)
    hits.append((IAM_USER, name, account, None))
    key = identity.accessKeyId
    if isinstance(key, str) and key.startswith("AKIA"):
        hits.append((ACCESS_KEY, key, account, name))


def _root(record: CloudTrailRecord, identity: UserIdentity, hits: list[Hit]) -> None:
    account = _text(identity.accountId) or arn_account(_text(identity.arn)) or _text(record.recipientAccountId)
    if not account:
        return
    hits.append((ROOT, account, account, None))
    key = identity.accessKeyId
    if isinstance(key, str) and key.startswith("AKIA"):
        hits.append((ACCESS_KEY, key, account, ROOT_KEY_OWNER))


def _federated_user(identity: UserIdentity, hits: list[Hit]) -> None:
    """GetFederationToken sessions belong to the IAM user (or root) that issued them."""
    issuer = _issuer(identity)
    if issuer is None:
        return
    arn = _text(issuer.arn)
    account = _text(issuer.accountId) or arn_account(arn)
    if issuer.type == "IAMUser":
        name = _text(issuer.userName) or (arn.rsplit("/", 1)[-1] if arn and ":user/" in arn else None)
        if name:
            hits.append((IAM_USER, name, account, None))
    elif issuer.type == "Root" and account:
        hits.append((ROOT, account, account, None))


def _idc_user(
    record: CloudTrailRecord, identity: UserIdentity, hits: list[Hit], workflow_names: Mapping[str, str] | None
) -> None:
    source = record.eventSource
    user_id = _user_id(identity)
    if source == SIGNIN:
        if not _successful_user_authentication(record):
            return  # challenge and verification steps; a failed sign-in has no UserAuthentication
        name = _text(identity.userName)
        if not name and not user_id:
            workflow, name = sign_in_workflow(record)
            if not name and workflow and workflow_names:
                name = workflow_names.get(workflow)
        key = idc_key(user_id, name)
        if key:
            hits.append((IDC_USER, key, None, None))
        return
    # "Unknown" is also used outside Identity Center: only its portal sources count
    if source not in IDC_PORTAL_SOURCES and identity.type != "IdentityCenterUser":
        return
    key = idc_key(user_id, _text(identity.userName))
    if key is None:
        return
    hits.append((IDC_USER, key, None, None))
    if record.eventName == "GetRoleCredentials" and not record.errorCode:
        account, role = _role_credentials_target(record)
        if account and role:
            hits.append((IDC_ASSIGNMENT, key, account, role))


def _role_credentials_target(record: CloudTrailRecord) -> tuple[str | None, str | None]:
    """Target account and permission set: serviceEventDetails (real events) or requestParameters."""
    details = record.serviceEventDetails
    if isinstance(details, ServiceEventDetails) and _text(details.account_id) and _text(details.role_name):
        return _text(details.account_id), _text(details.role_name)
    params = record.requestParameters
    if isinstance(params, RequestParameters):
        return _text(params.accountId), _text(params.roleName)
    return None, None


def assumed_role_target(params: object, identity: object) -> list[Hit]:
    """The role a successful AssumeRole* (``params``: its requestParameters, decoded) proves used; [] if none."""
    if not isinstance(params, RequestParameters):
        return []
    role_arn = _text(params.roleArn)
    if not role_arn or ":role/" not in role_arn:
        return []
    account = arn_account(role_arn)
    permission_set = permission_set_name(role_arn.rsplit("/", 1)[-1])
    if permission_set is None:
        return [(IAM_ROLE, role_arn, account, None)]
    # Identity Center's SAML federation: the session name is the user name
    name = _text(params.roleSessionName)
    if not name and isinstance(identity, UserIdentity):
        name = _text(identity.userName)
    key = idc_key(None, name)
    return [(IDC_ASSIGNMENT, key, account, permission_set)] if key else []
