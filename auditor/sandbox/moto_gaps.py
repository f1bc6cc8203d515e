"""Operations moto 5.2.5 lacks or answers inexactly, filled to the AWS API reference.

``install()`` puts these fills into moto's response and backend classes, so
its HTTP server answers them and the product runs the code paths it runs
against AWS, with no workaround for moto. Answers are ``ActionResult``
dicts that moto serialises through botocore's output shapes. Fill state
lives on moto's backend objects, so resetting moto clears it too.

Fills, with the AWS behaviour each one follows:

- identitystore ``UpdateUser`` (Identity Store API reference, UpdateUser and
  User): applies ``AttributeOperation`` items in order; a path names a User
  attribute (``displayName``, ``name.givenName``, ``userStatus``, ...); an
  absent value removes the attribute; ``UserStatus`` is ENABLED or DISABLED.
  ``DescribeUser`` and ``ListUsers`` return ``UserStatus``, ``CreatedAt``
  and ``UpdatedAt``; users start ENABLED.
- cloudtrail ``LookupEvents`` (CloudTrail API reference, LookupEvents):
  management events of one account and region from the last 90 days,
  newest first, at most one lookup attribute, ``MaxResults`` 1-50 (default
  50), a ``NextToken`` valid only with the same parameters.
- iam ``GenerateServiceLastAccessedDetails`` / ``GetServiceLastAccessedDetails``
  (IAM API reference): a job per user, group, role or policy ARN listing the
  services its policies allow, with the last authenticated attempt (denied
  ones included) seen in the account's delivered CloudTrail records;
  ``ACTION_LEVEL`` adds tracked
  actions for the services AWS tracks (EC2, IAM, Lambda, S3).
- iam ``GetCredentialReport`` (IAM user guide, "Getting credential reports"):
  the ``<root_account>`` row first (with its MFA and access key, which only
  the root user itself can create, set by ``set_root_credentials``), ``N/A``
  / ``no_information`` exactly as documented, last-used region and service
  of keys, and the real ``GeneratedTime``.
- sso-admin provisioning (SSO Admin API reference, CreateAccountAssignment,
  ProvisionPermissionSet, ListPermissionSetsProvisionedToAccount,
  ListAccountsForProvisionedPermissionSet): a permission set is provisioned
  per account by ProvisionPermissionSet or by a successful
  CreateAccountAssignment; a later change to it leaves the account at
  ``LATEST_PERMISSION_SET_NOT_PROVISIONED`` until it is provisioned again;
  provisioning creates the ``AWSReservedSSO_<name>_<hash>`` role under
  ``/aws-reserved/sso.amazonaws.com/<region>/`` in the account, as Identity
  Center does, with the permission set's policies and permissions boundary.
  Permissions boundaries (Put/Get/DeletePermissionsBoundary...: Get
  answers ResourceNotFoundException when none is set) and tags
  (Tag/Untag/ListTagsForResource) of permission sets and the instance are
  kept. Permission set ARNs take the real
  ``arn:aws:sso:::permissionSet/<instance id>/ps-...`` form.
- sso-admin ``ListInstances`` answers only in the region where Identity
  Center is enabled (``set_identity_center_region``); moto makes a default
  instance in every region, so a client pointed at the wrong region would
  find an empty Identity Center instead of none.
- IAM unique ids of users and groups start ``AIDA`` / ``AGPA`` (IAM user
  guide, "Unique identifiers"); moto makes lower-case random strings.

Two patches are not API fills: what AWS stamps as it happens (a signed
request's key and role last use, the trail's logging and delivery times)
is stamped at the sandbox's clock (``set_clock``) rather than the wall
clock, and AWS managed policies are loaded into the ``aws`` partition only
(moto would load them into six partitions per account).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import botocore.session
import moto.cloudtrail.models
import moto.iam.models
from moto.cloudtrail.models import cloudtrail_backends
from moto.cloudtrail.responses import CloudTrailResponse
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.iam.exceptions import NotFoundException
from moto.iam.models import IAMBackend, iam_backends
from moto.iam.responses import IamResponse
from moto.identitystore.exceptions import ConflictException as IdsConflict
from moto.identitystore.exceptions import ValidationException as IdsValidation
from moto.identitystore.models import IdentityStoreBackend, IdentityStoreData, Name, User
from moto.identitystore.responses import IdentityStoreResponse
from moto.moto_api._internal import mock_random
from moto.ssoadmin.models import PermissionSet, SSOAdminBackend
from moto.ssoadmin.responses import SSOAdminResponse

_frozen_now: datetime | None = None


def set_clock(moment: datetime | None) -> None:
    """Freeze the time fills stamp (report and job times) at the sandbox's as-of."""
    global _frozen_now
    _frozen_now = moment


def now() -> datetime:
    return _frozen_now or datetime.now(UTC)


def _naive_now() -> datetime:
    """``now()`` the way moto keeps times: naive UTC."""
    return now().astimezone(UTC).replace(tzinfo=None)


def _parse_time(value: Any) -> datetime:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


def _event_time(record: dict) -> datetime:
    return datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _token(offset: int, params: dict) -> str:
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return base64.b64encode(json.dumps({"o": offset, "h": digest}).encode()).decode()


def _offset(token: str | None, params: dict, error: Callable[[str], Exception]) -> int:
    """Offset in a result list; a token minted for other parameters is refused, as AWS does."""
    if not token:
        return 0
    try:
        data = json.loads(base64.b64decode(token))
        expected = json.loads(base64.b64decode(_token(0, params)))["h"]
        if data["h"] != expected:
            raise ValueError("parameters changed")
        return int(data["o"])
    except (ValueError, KeyError, TypeError) as exc:
        raise error("Invalid NextToken: it does not belong to this request") from exc


# --- identity store: UpdateUser, UserStatus, CreatedAt -------------------------

_USER_PATHS = {
    key.lower(): key
    for key in (
        "UserName",
        "Name",
        "DisplayName",
        "NickName",
        "ProfileUrl",
        "Emails",
        "Addresses",
        "PhoneNumbers",
        "UserType",
        "Title",
        "PreferredLanguage",
        "Locale",
        "Timezone",
        "UserStatus",
    )
}
_NAME_PARTS = {key.lower(): key for key in Name._fields}


def _user_meta(store: IdentityStoreData, user_id: str) -> dict[str, Any]:
    """What AWS keeps beside the attributes moto stores: status, times, ARN and revision.

    Current service models make ``UserArn`` and ``Revision`` required in every
    User (and in UpdateUser's answer); the revision changes with each update.
    """
    table = store.__dict__.setdefault("gap_user_meta", {})
    if user_id not in table:
        table[user_id] = {
            "UserStatus": "ENABLED",
            "CreatedAt": now(),
            "UpdatedAt": now(),
            "UserArn": f"arn:aws:identitystore:::user/{user_id}",
            "Revision": "1",
        }
    return table[user_id]


def _store(backend: IdentityStoreBackend, identity_store_id: str) -> IdentityStoreData:
    return backend._IdentityStoreBackend__get_identity_store(identity_store_id)  # type: ignore[attr-defined]


def set_idc_user_times(
    account_id: str,
    region: str,
    identity_store_id: str,
    user_id: str,
    created: datetime,
    updated: datetime | None = None,
) -> None:
    """Set when a user was created and last updated (no API sets them; AWS stamps them itself)."""
    from moto.identitystore.models import identitystore_backends

    meta = _user_meta(_store(identitystore_backends[account_id][region], identity_store_id), user_id)
    meta["CreatedAt"] = created
    meta["UpdatedAt"] = updated or created


@cache
def _members(service: str, shape: str) -> frozenset[str]:
    """The members a shape has in the installed service model (AWS adds fields over time)."""
    return frozenset(botocore.session.get_session().get_service_model(service).shape_for(shape).members)


def _user_view(store: IdentityStoreData, user: User) -> dict[str, Any]:
    view = {key: value for key, value in user._asdict().items() if value not in (None, "", [])}
    if user.Name is not None:
        view["Name"] = {key: value for key, value in user.Name._asdict().items() if value}
    view.update(_user_meta(store, user.UserId))
    allowed = _members("identitystore", "User")
    return {key: value for key, value in view.items() if key in allowed}


def _describe_user(self: IdentityStoreResponse) -> ActionResult:
    store_id = self._get_param("IdentityStoreId")
    user = self.identitystore_backend.describe_user(store_id, self._get_param("UserId"))
    return ActionResult(_user_view(_store(self.identitystore_backend, store_id), user))


def _list_users(self: IdentityStoreResponse) -> ActionResult:
    store_id = self._get_param("IdentityStoreId")
    users, next_token = self.identitystore_backend.list_users(
        identity_store_id=store_id,
        max_results=self._get_param("MaxResults"),
        next_token=self._get_param("NextToken"),
        filters=self._get_param("Filters"),
    )
    store = _store(self.identitystore_backend, store_id)
    views = [_user_view(store, store.users[user["UserId"]]) for user in users]
    return ActionResult({"Users": views, "NextToken": next_token})


def _apply_user_operation(store: IdentityStoreData, fields: dict[str, Any], meta: dict, operation: dict) -> None:
    path = operation.get("AttributePath") or ""
    value = operation.get("AttributeValue")
    head, _, sub = path.partition(".")
    key = _USER_PATHS.get(head.lower())
    if key is None or (sub and key != "Name") or (sub and sub.lower() not in _NAME_PARTS):
        raise IdsValidation(message=f"Invalid attribute path: {path}")
    if key == "UserStatus":
        if value not in ("ENABLED", "DISABLED"):
            raise IdsValidation(message="userStatus must be ENABLED or DISABLED")
        meta["UserStatus"] = value
    elif key == "UserName":
        if not value:
            raise IdsValidation(message="userName is a required attribute")
        if any(u.UserName == value and u.UserId != fields["UserId"] for u in store.users.values()):
            raise IdsConflict(message="Duplicate UserName", reason="UNIQUENESS_CONSTRAINT_VIOLATION")
        fields["UserName"] = value
    elif key == "Name" and sub:
        name = (fields["Name"] or Name.from_dict({"Formatted": None}))._asdict()
        name[_NAME_PARTS[sub.lower()]] = value
        fields["Name"] = Name(**name)
    elif key == "Name":
        fields["Name"] = Name.from_dict(value) if value else None
    else:
        fields[key] = value


def _update_user(self: IdentityStoreResponse) -> ActionResult:
    store_id = self._get_param("IdentityStoreId")
    operations = self._get_param("Operations") or []
    if not 1 <= len(operations) <= 100:
        raise IdsValidation(message="Operations must hold 1 to 100 items")
    user = self.identitystore_backend.describe_user(store_id, self._get_param("UserId"))
    store = _store(self.identitystore_backend, store_id)
    fields = user._asdict()
    meta = dict(_user_meta(store, user.UserId))
    for operation in operations:
        _apply_user_operation(store, fields, meta, operation)
    meta["UpdatedAt"] = now()
    meta["Revision"] = str(int(meta["Revision"]) + 1)
    store.users[user.UserId] = User(**fields)
    store.gap_user_meta[user.UserId] = meta
    answer = {
        "IdentityStoreId": store_id,
        "UserId": user.UserId,
        "UserArn": meta["UserArn"],
        "Revision": meta["Revision"],
    }
    allowed = _members("identitystore", "UpdateUserResponse")  # empty in older models, four members in newer
    return ActionResult({key: value for key, value in answer.items() if key in allowed})


# --- CloudTrail: LookupEvents ---------------------------------------------------


class _CloudTrailError(ServiceException):
    pass


class InvalidLookupAttributesException(_CloudTrailError):
    code = "InvalidLookupAttributesException"


class InvalidTimeRangeException(_CloudTrailError):
    code = "InvalidTimeRangeException"


class InvalidMaxResultsException(_CloudTrailError):
    code = "InvalidMaxResultsException"


class InvalidNextTokenException(_CloudTrailError):
    code = "InvalidNextTokenException"


LOOKUP_WINDOW = timedelta(days=90)
_LOOKUP_KEYS = (
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
)


def _username(record: dict) -> str | None:
    """The "User name" Event history shows: IAM user name, role session name, or ``root``."""
    identity = record.get("userIdentity") or {}
    if identity.get("type") == "Root":
        return "root"
    if identity.get("type") == "AssumedRole" and identity.get("arn"):
        return identity["arn"].rsplit("/", 1)[-1]
    extra = record.get("additionalEventData") or {}
    return identity.get("userName") or extra.get("UserName")


def _lookup_event(record: dict) -> dict[str, Any]:
    event = {
        "EventId": record["eventID"],
        "EventName": record["eventName"],
        "ReadOnly": str(record.get("readOnly", False)).lower(),
        "EventTime": _event_time(record),
        "EventSource": record["eventSource"],
        "Resources": [
            {"ResourceType": item.get("type"), "ResourceName": item.get("ARN")}
            for item in record.get("resources") or []
        ],
        "CloudTrailEvent": json.dumps(record),
    }
    access_key = (record.get("userIdentity") or {}).get("accessKeyId")
    if access_key:
        event["AccessKeyId"] = access_key
    username = _username(record)
    if username:
        event["Username"] = username
    return event


def _matches(record: dict, key: str, value: str) -> bool:
    if key == "ResourceType":
        return any(item.get("type") == value for item in record.get("resources") or [])
    if key == "ResourceName":
        return any(item.get("ARN") == value for item in record.get("resources") or [])
    if key == "Username":
        return _username(record) == value
    if key == "AccessKeyId":
        return (record.get("userIdentity") or {}).get("accessKeyId") == value
    if key == "ReadOnly":
        return str(record.get("readOnly", False)).lower() == value
    return record.get({"EventId": "eventID", "EventName": "eventName", "EventSource": "eventSource"}[key]) == value


def _lookup_events(self: CloudTrailResponse) -> ActionResult:
    attributes = self._get_param("LookupAttributes") or []
    if len(attributes) > 1:
        raise InvalidLookupAttributesException("You cannot make a lookup with more than one lookup attribute.")
    for attribute in attributes:
        if attribute.get("AttributeKey") not in _LOOKUP_KEYS or not attribute.get("AttributeValue"):
            raise InvalidLookupAttributesException("The lookup attribute is not valid.")
    max_results = self._get_param("MaxResults")
    if max_results is not None and not 1 <= int(max_results) <= 50:
        raise InvalidMaxResultsException("Value for MaxResults must be between 1 and 50.")
    moment = now()
    start = _parse_time(self._get_param("StartTime")) if self._get_param("StartTime") is not None else None
    end = _parse_time(self._get_param("EndTime")) if self._get_param("EndTime") is not None else moment
    if start is not None and start > end:
        raise InvalidTimeRangeException("Start time must be before end time.")
    earliest = max(start or moment - LOOKUP_WINDOW, moment - LOOKUP_WINDOW)
    params = {
        "a": attributes,
        "s": self._get_param("StartTime"),
        "e": self._get_param("EndTime"),
        "c": self._get_param("EventCategory"),
    }
    offset = _offset(self._get_param("NextToken"), params, InvalidNextTokenException)
    records = [] if self._get_param("EventCategory") == "insight" else _lookup_store(self.cloudtrail_backend)
    selected = [
        record
        for moment_of, record in records
        if earliest <= moment_of <= end
        and all(_matches(record, a["AttributeKey"], a["AttributeValue"]) for a in attributes)
    ]
    size = int(max_results or 50)
    result: dict[str, Any] = {"Events": [_lookup_event(record) for record in selected[offset : offset + size]]}
    if offset + size < len(selected):
        result["NextToken"] = _token(offset + size, params)
    return ActionResult(result)


def _lookup_store(backend: Any) -> list[tuple[datetime, dict]]:
    return backend.__dict__.setdefault("gap_events", [])


# --- IAM: service last accessed (Access Advisor) ---------------------------------

SERVICE_NAMES = {
    "access-analyzer": "IAM Access Analyzer",
    "athena": "Amazon Athena",
    "autoscaling": "Amazon EC2 Auto Scaling",
    "aws-portal": "AWS Billing",
    "budgets": "AWS Budgets",
    "ce": "AWS Cost Explorer Service",
    "cloudformation": "AWS CloudFormation",
    "cloudtrail": "AWS CloudTrail",
    "cloudwatch": "Amazon CloudWatch",
    "config": "AWS Config",
    "dynamodb": "Amazon DynamoDB",
    "ec2": "Amazon EC2",
    "ecr": "Amazon Elastic Container Registry",
    "ecs": "Amazon Elastic Container Service",
    "eks": "Amazon Elastic Kubernetes Service",
    "elasticloadbalancing": "Elastic Load Balancing",
    "glue": "AWS Glue",
    "guardduty": "Amazon GuardDuty",
    "iam": "AWS Identity and Access Management",
    "kms": "AWS Key Management Service",
    "lambda": "AWS Lambda",
    "logs": "Amazon CloudWatch Logs",
    "organizations": "AWS Organizations",
    "rds": "Amazon RDS",
    "route53": "Amazon Route 53",
    "s3": "Amazon S3",
    "secretsmanager": "AWS Secrets Manager",
    "securityhub": "AWS Security Hub",
    "sns": "Amazon SNS",
    "sqs": "Amazon SQS",
    "ssm": "AWS Systems Manager",
    "sso": "AWS IAM Identity Center",
    "sts": "AWS Security Token Service",
    "tag": "Amazon Resource Group Tagging API",
}
TRACKED_ACTION_SERVICES = frozenset({"ec2", "iam", "lambda", "s3"})
_SOURCE_NAMESPACE = {"monitoring": "cloudwatch", "tagging": "tag"}
_NOT_SERVICE_ACCESS = frozenset({"signin", "sso", "sso-oauth"})


def _namespace(event_source: str) -> str:
    prefix = event_source.split(".", 1)[0]
    return _SOURCE_NAMESPACE.get(prefix, prefix)


@dataclass
class _Access:
    """Last authentication of one entity to one service, and of each tracked action."""

    when: datetime
    region: str
    entity: str
    actions: dict[str, tuple[datetime, str]] = field(default_factory=dict)


def _access_index(backend: IAMBackend) -> dict[str, dict[str, _Access]]:
    return backend.__dict__.setdefault("gap_access", {})


def _index_access(backend: IAMBackend, record: dict) -> None:
    identity = record.get("userIdentity") or {}
    if identity.get("type") == "IAMUser":
        entity = identity.get("arn")
    elif identity.get("type") == "AssumedRole":
        entity = ((identity.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn")
    else:
        return
    namespace = _namespace(record["eventSource"])
    if not entity or namespace in _NOT_SERVICE_ACCESS:
        return
    when, region = _event_time(record), record["awsRegion"]
    services = _access_index(backend).setdefault(entity, {})
    seen = services.get(namespace)
    if seen is None:
        seen = services[namespace] = _Access(when, region, entity)
    elif when > seen.when:
        seen.when, seen.region = when, region
    if namespace in TRACKED_ACTION_SERVICES:
        last = seen.actions.get(record["eventName"])
        if last is None or when > last[0]:
            seen.actions[record["eventName"]] = (when, region)


def _allowed_namespaces(documents: Iterable[str]) -> set[str]:
    """Service namespaces an ``Allow`` statement grants (``*`` and NotAction: every listed service)."""
    found: set[str] = set()
    for text in documents:
        document = json.loads(text) if isinstance(text, str) else text
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            if statement.get("Effect") != "Allow":
                continue
            if "NotAction" in statement:
                return set(SERVICE_NAMES)
            actions = statement.get("Action", [])
            for action in [actions] if isinstance(actions, str) else actions:
                if action == "*":
                    return set(SERVICE_NAMES)
                found.add(action.split(":", 1)[0].lower())
    return found & set(SERVICE_NAMES)


def _policy_documents(policies: Iterable[Any], inline: Iterable[str]) -> list[str]:
    documents = list(inline)
    for policy in policies:
        default = next((v for v in policy.versions if v.is_default), None)
        if default is not None and default.document:
            documents.append(default.document)
    return documents


def _entities(backend: IAMBackend, arn: str) -> tuple[list[str], list[str]]:
    """(the entity ARNs whose use counts, the policy documents that define the services) for ``arn``."""
    for user in backend.users.values():
        if user.arn == arn:
            groups = backend.get_groups_for_user(user.name)
            policies = list(user.managed_policies.values()) + [p for g in groups for p in g.managed_policies.values()]
            inline = list(user.policies.values()) + [d for g in groups for d in g.policies.values()]
            return [arn], _policy_documents(policies, inline)
    for role in backend.roles.values():
        if role.arn == arn:
            return [arn], _policy_documents(role.managed_policies.values(), role.policies.values())
    for group in backend.groups.values():
        if group.arn == arn:
            members = [user.arn for user in group.users]
            return members, _policy_documents(group.managed_policies.values(), group.policies.values())
    policy = backend.managed_policies.get(arn)
    if policy is not None:
        holders = [u.arn for u in backend.users.values() if arn in u.managed_policies]
        holders += [r.arn for r in backend.roles.values() if arn in r.managed_policies]
        holders += [u.arn for g in backend.groups.values() if arn in g.managed_policies for u in g.users]
        return holders, _policy_documents([policy], [])
    raise NotFoundException(f"The entity {arn} does not exist.")


def _service_report(backend: IAMBackend, arn: str, granularity: str) -> list[dict[str, Any]]:
    entities, documents = _entities(backend, arn)
    index = _access_index(backend)
    report = []
    for namespace in sorted(_allowed_namespaces(documents)):
        uses = [index[e][namespace] for e in entities if namespace in index.get(e, {})]
        item: dict[str, Any] = {
            "ServiceName": SERVICE_NAMES[namespace],
            "ServiceNamespace": namespace,
            "TotalAuthenticatedEntities": len(uses),
        }
        if uses:
            last = max(uses, key=lambda use: use.when)
            item.update(
                LastAuthenticated=last.when, LastAuthenticatedEntity=last.entity, LastAuthenticatedRegion=last.region
            )
        if granularity == "ACTION_LEVEL" and namespace in TRACKED_ACTION_SERVICES:
            actions: dict[str, tuple[datetime, str, str]] = {}
            for use in uses:
                for action, (when, region) in use.actions.items():
                    if action not in actions or when > actions[action][0]:
                        actions[action] = (when, region, use.entity)
            item["TrackedActionsLastAccessed"] = [
                {
                    "ActionName": action,
                    "LastAccessedTime": when,
                    "LastAccessedRegion": region,
                    "LastAccessedEntity": entity,
                }
                for action, (when, region, entity) in sorted(actions.items())
            ]
        report.append(item)
    return report


def _generate_service_last_accessed_details(self: IamResponse) -> ActionResult:
    arn = self._get_param("Arn")
    granularity = self._get_param("Granularity") or "SERVICE_LEVEL"
    if granularity not in ("SERVICE_LEVEL", "ACTION_LEVEL"):
        raise _InvalidInput("Granularity must be SERVICE_LEVEL or ACTION_LEVEL")
    report = _service_report(self.backend, arn, granularity)
    job_id = str(mock_random.uuid4())
    self.backend.__dict__.setdefault("gap_jobs", {})[job_id] = {
        "JobStatus": "COMPLETED",
        "JobType": granularity,
        "JobCreationDate": now(),
        "JobCompletionDate": now(),
        "ServicesLastAccessed": report,
    }
    return ActionResult({"JobId": job_id})


class _InvalidInput(ServiceException):
    code = "InvalidInput"


def _get_service_last_accessed_details(self: IamResponse) -> ActionResult:
    job_id = self._get_param("JobId")
    job = self.backend.__dict__.get("gap_jobs", {}).get(job_id)
    if job is None:
        raise NotFoundException(f"Job with id {job_id} not found")
    max_items = int(self._get_param("MaxItems") or 100)
    start = int(self._get_param("Marker") or 0)
    services = job["ServicesLastAccessed"]
    result = dict(
        job, ServicesLastAccessed=services[start : start + max_items], IsTruncated=start + max_items < len(services)
    )
    if result["IsTruncated"]:
        result["Marker"] = str(start + max_items)
    return ActionResult(result)


# --- IAM: credential report with the <root_account> row --------------------------


@dataclass
class RootCredentials:
    """What the root user's credential report row says (no API sets these; only root can make its key)."""

    created: datetime
    password_last_used: datetime | None = None
    mfa_active: bool = False
    access_key_created: datetime | None = None  # None: no root access key
    access_key_last_used: datetime | None = None
    access_key_last_used_region: str | None = None
    access_key_last_used_service: str | None = None


def set_root_credentials(account_id: str, root: RootCredentials) -> None:
    iam_backends[account_id]["aws"].__dict__["gap_root"] = root


_REPORT_HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,"
    "access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,"
    "access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
)


def _iso(moment: datetime | None, missing: str = "N/A") -> str:
    """Credential report time; moto keeps naive UTC datetimes, the sandbox aware ones."""
    if moment is None:
        return missing
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _key_columns(key: Any) -> list[str]:
    if key is None:
        return ["false", "N/A", "N/A", "N/A", "N/A"]
    used = key.last_used
    when = getattr(used, "timestamp", used)
    return [
        str(key.status == "Active").lower(),
        _iso(key.create_date),
        _iso(when),
        getattr(used, "region", None) or "N/A",
        getattr(used, "service", None) or "N/A",
    ]


def _user_row(user: Any) -> str:
    keys = list(user.access_keys) + [None, None]
    certs = list(user.signing_certificates.values()) + [None, None]
    has_password = bool(user.password)
    columns = [
        user.name,
        user.arn,
        _iso(user.create_date),
        str(has_password).lower(),
        _iso(user.password_last_used, "no_information") if has_password else "N/A",
        _iso(user.create_date) if has_password else "N/A",
        "N/A",
        str(bool(user.mfa_devices)).lower(),
        *_key_columns(keys[0]),
        *_key_columns(keys[1]),
    ]
    for cert in certs[:2]:
        columns += [str(cert is not None and cert.status == "Active").lower(), "N/A"]
    return ",".join(columns)


def _root_row(backend: IAMBackend) -> str:
    root: RootCredentials = backend.__dict__.get("gap_root") or RootCredentials(created=now())
    key = ["false", "N/A", "N/A", "N/A", "N/A"]
    if root.access_key_created is not None:
        key = [
            "true",
            _iso(root.access_key_created),
            _iso(root.access_key_last_used),
            root.access_key_last_used_region or "N/A",
            root.access_key_last_used_service or "N/A",
        ]
    columns = [
        "<root_account>",
        f"arn:{backend.partition}:iam::{backend.account_id}:root",
        _iso(root.created),
        "not_supported",
        _iso(root.password_last_used, "no_information"),
        "not_supported",
        "not_supported",
        str(root.mfa_active).lower(),
        *key,
        "false",
        "N/A",
        "N/A",
        "N/A",
        "N/A",
        "false",
        "N/A",
        "false",
        "N/A",
    ]
    return ",".join(columns)


def _credential_report(self: IAMBackend) -> str:
    from moto.iam.exceptions import ReportNotPresentException

    if not self.credential_report:
        raise ReportNotPresentException("Credential report not present")
    rows = [_REPORT_HEADER, _root_row(self)] + [_user_row(user) for user in self.users.values()]
    return "\n".join(rows) + "\n"


def _generate_report(self: IAMBackend) -> None:
    self.credential_report = True
    self.__dict__["gap_report_time"] = now()


def _get_credential_report(self: IamResponse) -> ActionResult:
    content = self.backend.get_credential_report()
    return ActionResult(
        {
            "Content": content,
            "ReportFormat": "text/csv",
            "GeneratedTime": self.backend.__dict__.get("gap_report_time", now()),
        }
    )


# --- sso-admin: exact provisioning per account ------------------------------------


class _SsoValidation(ServiceException):
    code = "ValidationException"


class _SsoNotFound(ServiceException):
    code = "ResourceNotFoundException"


@dataclass
class _Provisioning:
    versions: dict[str, int] = field(default_factory=dict)  # permission set ARN -> change counter
    accounts: dict[str, dict[str, int]] = field(default_factory=dict)  # ARN -> account -> version provisioned
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)


def _provisioning(backend: SSOAdminBackend) -> _Provisioning:
    return backend.__dict__.setdefault("gap_provisioning", _Provisioning())


def _permission_set_arn(instance_arn: str) -> str:
    instance_id = instance_arn.rsplit("/", 1)[-1]
    return f"{instance_arn.split(':instance/')[0]}:permissionSet/{instance_id}/ps-{mock_random.get_random_hex(16)}"


def reserved_role_name(permission_set_name: str, permission_set_arn: str, account_id: str) -> str:
    """``AWSReservedSSO_<name>_<16 hex>``: the role Identity Center creates for a permission set in an account."""
    suffix = hashlib.sha256(f"{permission_set_arn}|{account_id}".encode()).hexdigest()[:16]
    return f"AWSReservedSSO_{permission_set_name}_{suffix}"


def reserved_role_path(region: str) -> str:
    return f"/aws-reserved/sso.amazonaws.com/{region}/"


def saml_provider_name(instance_arn: str) -> str:
    return f"AWSSSO_{hashlib.sha256(instance_arn.encode()).hexdigest()[:16]}_DO_NOT_DELETE"


def _session_seconds(duration: str | None) -> str:
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?", duration or "PT1H")
    hours, minutes = (int(part or 0) for part in match.groups()) if match else (1, 0)
    return str(hours * 3600 + minutes * 60 or 3600)


def _provision(backend: SSOAdminBackend, permission_set: PermissionSet, account_id: str) -> None:
    """Create or refresh the reserved role in ``account_id`` and record the account as provisioned.

    Policies moto does not hold in that account (AWS managed ones when moto
    loads none, customer managed ones never created there) are left out:
    AWS would attach the former and fail provisioning on the latter.
    """
    iam = iam_backends[account_id][backend.partition]
    provider = saml_provider_name(permission_set.instance_arn)
    if provider not in iam.saml_providers:
        iam.create_saml_provider(provider, "<EntityDescriptor>IAM Identity Center</EntityDescriptor>")
    name = reserved_role_name(permission_set.name, permission_set.permission_set_arn, account_id)
    try:
        role = iam.get_role(name)
    except NotFoundException:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": f"arn:{backend.partition}:iam::{account_id}:saml-provider/{provider}"},
                    "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
                    "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
                }
            ],
        }
        role = iam.create_role(
            name,
            json.dumps(trust),
            reserved_role_path(backend.region_name),
            None,
            "",
            [],
            _session_seconds(permission_set.session_duration),
        )
    for arn in list(role.managed_policies):
        iam.detach_role_policy(arn, name)
    customer = [
        f"arn:{backend.partition}:iam::{account_id}:policy{ref.path}{ref.name}"
        for ref in permission_set.customer_managed_policies
    ]
    for arn in [policy.arn for policy in permission_set.managed_policies] + customer:
        if arn in iam.managed_policies:
            iam.attach_role_policy(arn, name)
    role.policies = {"AwsSSOInlinePolicy": permission_set.inline_policy} if permission_set.inline_policy else {}
    boundary = _boundaries(backend).get(permission_set.permission_set_arn) or {}
    reference = boundary.get("CustomerManagedPolicyReference")
    role.permissions_boundary_arn = boundary.get("ManagedPolicyArn") or (
        f"arn:{backend.partition}:iam::{account_id}:policy{reference.get('Path', '/')}{reference['Name']}"
        if reference
        else None
    )
    state = _provisioning(backend)
    state.accounts.setdefault(permission_set.permission_set_arn, {})[account_id] = state.versions.get(
        permission_set.permission_set_arn, 0
    )


def _provision_permission_set(self: SSOAdminResponse) -> ActionResult:
    backend = self.ssoadmin_backend
    instance_arn, arn = self._get_param("InstanceArn"), self._get_param("PermissionSetArn")
    target_type, target_id = self._get_param("TargetType"), self._get_param("TargetId")
    permission_set = backend._find_permission_set(instance_arn, arn)
    state = _provisioning(backend)
    if target_type == "AWS_ACCOUNT":
        if not target_id:
            raise _SsoValidation("TargetId is required when TargetType is AWS_ACCOUNT")
        accounts = [target_id]
    elif target_type == "ALL_PROVISIONED_ACCOUNTS":
        accounts = sorted(state.accounts.get(arn, {}))
    else:
        raise _SsoValidation("TargetType must be AWS_ACCOUNT or ALL_PROVISIONED_ACCOUNTS")
    for account in accounts:
        _provision(backend, permission_set, account)
    status: dict[str, Any] = {
        "Status": "SUCCEEDED",
        "RequestId": str(mock_random.uuid4()),
        "PermissionSetArn": arn,
        "CreatedDate": now(),
    }
    if target_type == "AWS_ACCOUNT":
        status["AccountId"] = target_id
    state.requests[status["RequestId"]] = status
    return ActionResult({"PermissionSetProvisioningStatus": status})


def _describe_permission_set_provisioning_status(self: SSOAdminResponse) -> ActionResult:
    request_id = self._get_param("ProvisionPermissionSetRequestId")
    status = _provisioning(self.ssoadmin_backend).requests.get(request_id)
    if status is None:
        raise _SsoNotFound(f"Could not find provisioning request with id {request_id}")
    return ActionResult({"PermissionSetProvisioningStatus": status})


def _status_matches(state: _Provisioning, arn: str, account_id: str, wanted: str | None) -> bool:
    provisioned = state.accounts.get(arn, {})
    if account_id not in provisioned:
        return False
    latest = provisioned[account_id] == state.versions.get(arn, 0)
    return wanted is None or (wanted == "LATEST_PERMISSION_SET_PROVISIONED") == latest


def _page(self: SSOAdminResponse, items: list[str], key: str, params: dict) -> ActionResult:
    return _page_of(self, items, key, params, 100)


def _page_of(self: SSOAdminResponse, items: list, key: str, params: dict, default: int) -> ActionResult:
    size = int(self._get_param("MaxResults") or default)
    if not 1 <= size <= 100:
        raise _SsoValidation("MaxResults must be between 1 and 100")
    start = _offset(self._get_param("NextToken"), params, _SsoValidation)
    result: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        result["NextToken"] = _token(start + size, params)
    return ActionResult(result)


def _list_permission_sets_provisioned_to_account(self: SSOAdminResponse) -> ActionResult:
    backend = self.ssoadmin_backend
    instance_arn, account_id = self._get_param("InstanceArn"), self._get_param("AccountId")
    wanted = self._get_param("ProvisioningStatus")
    if not account_id:
        raise _SsoValidation("AccountId is required")
    state = _provisioning(backend)
    arns = [
        ps.permission_set_arn
        for ps in backend.permission_sets
        if ps.instance_arn == instance_arn and _status_matches(state, ps.permission_set_arn, account_id, wanted)
    ]
    return _page(self, arns, "PermissionSets", {"i": instance_arn, "a": account_id, "s": wanted})


def _list_accounts_for_provisioned_permission_set(self: SSOAdminResponse) -> ActionResult:
    backend = self.ssoadmin_backend
    instance_arn, arn = self._get_param("InstanceArn"), self._get_param("PermissionSetArn")
    wanted = self._get_param("ProvisioningStatus")
    backend._find_permission_set(instance_arn, arn)
    state = _provisioning(backend)
    accounts = [a for a in sorted(state.accounts.get(arn, {})) if _status_matches(state, arn, a, wanted)]
    return _page(self, accounts, "AccountIds", {"i": instance_arn, "p": arn, "s": wanted})


def _boundaries(backend: SSOAdminBackend) -> dict[str, dict[str, Any]]:
    return backend.__dict__.setdefault("gap_boundaries", {})


def _put_permissions_boundary(self: SSOAdminResponse) -> ActionResult:
    backend = self.ssoadmin_backend
    arn = self._get_param("PermissionSetArn")
    backend._find_permission_set(self._get_param("InstanceArn"), arn)
    boundary = self._get_param("PermissionsBoundary") or {}
    if len([key for key in ("CustomerManagedPolicyReference", "ManagedPolicyArn") if boundary.get(key)]) != 1:
        raise _SsoValidation("Specify exactly one of CustomerManagedPolicyReference or ManagedPolicyArn")
    _boundaries(backend)[arn] = boundary
    _changed(backend, arn)
    return ActionResult({})


def _get_permissions_boundary(self: SSOAdminResponse) -> ActionResult:
    backend = self.ssoadmin_backend
    arn = self._get_param("PermissionSetArn")
    backend._find_permission_set(self._get_param("InstanceArn"), arn)
    if arn not in _boundaries(backend):
        raise _SsoNotFound(f"Could not find PermissionsBoundary for PermissionSet {arn.rsplit('/', 1)[-1]}")
    return ActionResult({"PermissionsBoundary": _boundaries(backend)[arn]})


def _delete_permissions_boundary(self: SSOAdminResponse) -> ActionResult:
    backend = self.ssoadmin_backend
    arn = self._get_param("PermissionSetArn")
    backend._find_permission_set(self._get_param("InstanceArn"), arn)
    if _boundaries(backend).pop(arn, None) is None:
        raise _SsoNotFound(f"Could not find PermissionsBoundary for PermissionSet {arn.rsplit('/', 1)[-1]}")
    _changed(backend, arn)
    return ActionResult({})


def _tags(self: SSOAdminResponse) -> list[dict[str, str]]:
    """The tag list of a permission set or of the instance (the taggable Identity Center resources)."""
    backend, arn = self.ssoadmin_backend, self._get_param("ResourceArn")
    for permission_set in backend.permission_sets:
        if permission_set.permission_set_arn == arn:
            if permission_set.tags is None:
                permission_set.tags = []
            return permission_set.tags
    if any(instance.instance_arn == arn for instance in backend.instances):
        return backend.__dict__.setdefault("gap_instance_tags", {}).setdefault(arn, [])
    raise _SsoNotFound(f"Could not find resource {arn}")


def _list_tags_for_resource(self: SSOAdminResponse) -> ActionResult:
    tags = _tags(self)
    return _page_of(self, list(tags), "Tags", {"r": self._get_param("ResourceArn")}, 50)


def _tag_resource(self: SSOAdminResponse) -> ActionResult:
    tags = _tags(self)
    incoming = {tag["Key"]: tag.get("Value", "") for tag in self._get_param("Tags") or []}
    merged = {tag["Key"]: tag["Value"] for tag in tags} | incoming
    if len(merged) > 50:
        raise _SsoValidation("A resource can have at most 50 tags")
    tags[:] = [{"Key": key, "Value": value} for key, value in merged.items()]
    return ActionResult({})


def _untag_resource(self: SSOAdminResponse) -> ActionResult:
    tags = _tags(self)
    removed = set(self._get_param("TagKeys") or [])
    tags[:] = [tag for tag in tags if tag["Key"] not in removed]
    return ActionResult({})


def _after_assignment(original: Callable[[SSOAdminResponse], str]) -> Callable[[SSOAdminResponse], str]:
    def create_account_assignment(self: SSOAdminResponse) -> str:
        body = original(self)
        backend = self.ssoadmin_backend
        permission_set = backend._find_permission_set(
            self._get_param("InstanceArn"), self._get_param("PermissionSetArn")
        )
        _provision(backend, permission_set, self._get_param("TargetId"))
        return body

    return create_account_assignment


def _changed(backend: SSOAdminBackend, arn: str) -> None:
    """A change to a permission set leaves every account it is provisioned to behind the latest version."""
    state = _provisioning(backend)
    state.versions[arn] = state.versions.get(arn, 0) + 1


def _bumps_version(original: Callable[..., Any]) -> Callable[..., Any]:
    def changed(self: SSOAdminBackend, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        _changed(self, kwargs.get("permission_set_arn") or args[1])
        return result

    return changed


def _forgets_deleted(original: Callable[..., Any]) -> Callable[..., Any]:
    def delete_permission_set(self: SSOAdminBackend, instance_arn: str, permission_set_arn: str) -> Any:
        result = original(self, instance_arn, permission_set_arn)
        _provisioning(self).accounts.pop(permission_set_arn, None)
        return result

    return delete_permission_set


_CHANGES_PERMISSION_SET = (
    "update_permission_set",
    "put_inline_policy_to_permission_set",
    "delete_inline_policy_from_permission_set",
    "attach_managed_policy_to_permission_set",
    "detach_managed_policy_from_permission_set",
    "attach_customer_managed_policy_reference_to_permission_set",
    "detach_customer_managed_policy_reference_from_permission_set",
)


def set_identity_center_region(account_id: str, region: str) -> None:
    """Identity Center is enabled in one region of the account: ListInstances answers there only."""
    from moto.ssoadmin.models import ssoadmin_backends

    ssoadmin_backends[account_id][region].__dict__["gap_home"] = True


def _list_instances(self: SSOAdminResponse) -> ActionResult:
    from moto.ssoadmin.models import ssoadmin_backends

    backend = self.ssoadmin_backend
    homes = [b for b in dict.values(ssoadmin_backends[self.current_account]) if b.__dict__.get("gap_home")]
    instances = backend.instances if not homes or backend in homes else []
    views = [{key: value for key, value in instance.to_json().items() if value is not None} for instance in instances]
    for view in views:
        view["CreatedDate"] = datetime.fromtimestamp(view["CreatedDate"], UTC)
    return ActionResult({"Instances": views})


# --- delivery of the sandbox's CloudTrail records --------------------------------


def deliver_events(account_id: str, records: Iterable[dict]) -> None:
    """Make one account's CloudTrail records visible to LookupEvents and Access Advisor.

    Event history keeps management events per account and region; Access
    Advisor keeps the last authentication per entity and service.
    """
    by_region: dict[str, list[tuple[datetime, dict]]] = {}
    iam = iam_backends[account_id]["aws"]
    for record in records:
        if record.get("managementEvent", True):
            by_region.setdefault(record["awsRegion"], []).append((_event_time(record), record))
        _index_access(iam, record)  # Access Advisor counts denied attempts too
    for region, items in by_region.items():
        store = _lookup_store(cloudtrail_backends[account_id][region])
        store.extend(items)
        store.sort(key=lambda item: (item[0], item[1]["eventID"]), reverse=True)


# --- requests are stamped at the sandbox's clock -------------------------------------


def _mark_visited(account_id: str, access_key: str, service: str, region: str) -> None:
    """What AWS records when a request is signed: the key's and the assumed role's last use, at ``now()``.

    moto stamps the wall clock, which lies after as-of when the sandbox's
    world is set in the past (the role the product assumes would look used
    "in the future").
    """
    from moto.iam.models import AccessKeyLastUsed
    from moto.utilities.utils import get_partition

    backend = iam_backends[account_id][get_partition(region)]
    key = backend.access_keys.get(access_key)
    if key is None:
        return
    moment = _naive_now()
    key.last_used = AccessKeyLastUsed(timestamp=moment, service=service, region=region)
    if key.role_arn:
        try:
            role = backend.get_role_by_arn(key.role_arn)
        except NotFoundException:
            return
        role.last_used, role.last_used_region = moment, region


# --- IAM unique ids carry AWS's prefixes ------------------------------------------------


def _prefixed_id(init: Callable[..., None], prefix: str) -> Callable[..., None]:
    """IAM unique ids start AIDA (users) and AGPA (groups) (IAM user guide, "Unique identifiers")."""
    from moto.iam.utils import generate_access_key_id_from_account_id

    def __init__(self: Any, account_id: str, *args: Any, **kwargs: Any) -> None:
        init(self, account_id, *args, **kwargs)
        self.id = generate_access_key_id_from_account_id(account_id, prefix=prefix, total_length=21)

    return __init__


# --- not a fill: moto's memory and time ------------------------------------------------


def _aws_partition_policies_only(original: Callable[[IAMBackend], list]) -> Callable[[IAMBackend], list]:
    """Load AWS managed policies into the ``aws`` partition's IAM backends only.

    moto resolves every request's access key by visiting each account's IAM
    backend in all six partitions, creating them on the way, and each would
    parse ~1,600 managed policies: a third of a medium sandbox's build time
    and most of its memory. The sandbox lives in the ``aws`` partition.
    """

    def init_aws_policies(self: IAMBackend) -> list:
        return original(self) if self.partition == "aws" else []

    return init_aws_policies


# --- installation -------------------------------------------------------------------


_MISSING = object()
_originals: list[tuple[Any, str, Any]] = []  # (owner, attribute, what was there), in patch order


def _patch(owner: Any, name: str, value: Any) -> None:
    _originals.append((owner, name, owner.__dict__.get(name, _MISSING)))
    setattr(owner, name, value)


def install() -> None:
    """Patch moto's classes (process-wide, as moto's state is); idempotent. ``uninstall`` undoes it."""
    if _originals:
        return
    for name, fill in (("update_user", _update_user), ("describe_user", _describe_user), ("list_users", _list_users)):
        _patch(IdentityStoreResponse, name, fill)
    _patch(CloudTrailResponse, "lookup_events", _lookup_events)
    for name, fill in (
        ("generate_service_last_accessed_details", _generate_service_last_accessed_details),
        ("get_service_last_accessed_details", _get_service_last_accessed_details),
        ("get_credential_report", _get_credential_report),
    ):
        _patch(IamResponse, name, fill)
    _patch(IAMBackend, "get_credential_report", _credential_report)
    _patch(IAMBackend, "generate_report", _generate_report)
    _patch(PermissionSet, "generate_id", staticmethod(_permission_set_arn))
    for name, fill in (
        ("list_instances", _list_instances),
        ("provision_permission_set", _provision_permission_set),
        ("describe_permission_set_provisioning_status", _describe_permission_set_provisioning_status),
        ("list_permission_sets_provisioned_to_account", _list_permission_sets_provisioned_to_account),
        ("list_accounts_for_provisioned_permission_set", _list_accounts_for_provisioned_permission_set),
        ("create_account_assignment", _after_assignment(SSOAdminResponse.create_account_assignment)),
        ("put_permissions_boundary_to_permission_set", _put_permissions_boundary),
        ("get_permissions_boundary_for_permission_set", _get_permissions_boundary),
        ("delete_permissions_boundary_from_permission_set", _delete_permissions_boundary),
        ("list_tags_for_resource", _list_tags_for_resource),
        ("tag_resource", _tag_resource),
        ("untag_resource", _untag_resource),
    ):
        _patch(SSOAdminResponse, name, fill)
    for name in _CHANGES_PERMISSION_SET:
        _patch(SSOAdminBackend, name, _bumps_version(getattr(SSOAdminBackend, name)))
    _patch(SSOAdminBackend, "delete_permission_set", _forgets_deleted(SSOAdminBackend.delete_permission_set))
    _patch(IAMBackend, "_init_aws_policies", _aws_partition_policies_only(IAMBackend._init_aws_policies))
    _patch(moto.iam.models, "mark_account_as_visited", _mark_visited)
    _patch(moto.cloudtrail.models, "utcnow", _naive_now)  # trail status: logging started, latest delivery
    _patch(moto.iam.models.User, "__init__", _prefixed_id(moto.iam.models.User.__init__, "AIDA"))
    _patch(moto.iam.models.Group, "__init__", _prefixed_id(moto.iam.models.Group.__init__, "AGPA"))


def uninstall() -> None:
    """Give moto back its own classes, so code that expects plain moto sees it again."""
    while _originals:
        owner, name, original = _originals.pop()
        if original is _MISSING:
            delattr(owner, name)
        else:
            setattr(owner, name, original)
