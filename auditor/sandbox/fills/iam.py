"""IAM: Access Advisor, the credential report's ``<root_account>`` row, and AWS's unique id prefixes.

- ``GenerateServiceLastAccessedDetails`` / ``GetServiceLastAccessedDetails``
  (IAM API reference): a job per user, group, role or policy ARN listing the
  services its policies allow, with the last authenticated attempt (denied
  ones included) seen in the account's delivered CloudTrail records
  (``record_access``); ``ACTION_LEVEL`` adds tracked actions for the services
  AWS tracks (EC2, IAM, Lambda, S3). Used by the Access Advisor collector.
- ``GetCredentialReport`` (IAM user guide, "Getting credential reports"): the
  ``<root_account>`` row first (with its MFA and access key, which only the
  root user itself can create, set by ``set_root_credentials``), ``N/A`` /
  ``no_information`` exactly as documented, last-used region and service of
  keys, and the real ``GeneratedTime``. Used by the IAM collector.
- Unique ids of users and groups start ``AIDA`` / ``AGPA`` (IAM user guide,
  "Unique identifiers"); moto makes lower-case random strings.

State lives on moto's IAM backends, so resetting moto clears it too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import moto.iam.models
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.iam.exceptions import NotFoundException, ReportNotPresentException
from moto.iam.models import IAMBackend, iam_backends
from moto.iam.responses import IamResponse
from moto.iam.utils import generate_access_key_id_from_account_id
from moto.moto_api._internal import mock_random

from auditor.sandbox.moto_setup import now
from auditor.sandbox.patching import Patches

# --- Access Advisor ---------------------------------------------------------------------

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


def record_access(account_id: str, records: Iterable[dict]) -> None:
    """Make one account's delivered CloudTrail records visible to Access Advisor.

    Access Advisor keeps the last authentication per entity and service,
    denied attempts included.
    """
    backend = iam_backends[account_id]["aws"]
    for record in records:
        _index_access(backend, record)


def _event_time(record: dict) -> datetime:
    return datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _access_index(backend: IAMBackend) -> dict[str, dict[str, _Access]]:
    return backend.__dict__.setdefault("fill_access", {})


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
    self.backend.__dict__.setdefault("fill_jobs", {})[job_id] = {
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
    job = self.backend.__dict__.get("fill_jobs", {}).get(job_id)
    if job is None:
        raise NotFoundException(f"Job with id {job_id} not found")
    max_items = int(self._get_param("MaxItems") or 100)
    if not 1 <= max_items <= 1000:
        raise _InvalidInput("MaxItems must be between 1 and 1000")
    marker = self._get_param("Marker") or "0"
    if not marker.isdigit():
        raise _InvalidInput("Invalid Marker")
    start = int(marker)
    services = job["ServicesLastAccessed"]
    result = dict(
        job, ServicesLastAccessed=services[start : start + max_items], IsTruncated=start + max_items < len(services)
    )
    if result["IsTruncated"]:
        result["Marker"] = str(start + max_items)
    return ActionResult(result)


# --- the credential report with the <root_account> row ------------------------------


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
    iam_backends[account_id]["aws"].__dict__["fill_root"] = root


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
    root: RootCredentials = backend.__dict__.get("fill_root") or RootCredentials(created=now())
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
    if not self.credential_report:
        raise ReportNotPresentException("Credential report not present")
    rows = [_REPORT_HEADER, _root_row(self)] + [_user_row(user) for user in self.users.values()]
    return "\n".join(rows) + "\n"


def _generate_report(self: IAMBackend) -> None:
    self.credential_report = True
    self.__dict__["fill_report_time"] = now()


def _get_credential_report(self: IamResponse) -> ActionResult:
    content = self.backend.get_credential_report()
    return ActionResult(
        {
            "Content": content,
            "ReportFormat": "text/csv",
            "GeneratedTime": self.backend.__dict__.get("fill_report_time", now()),
        }
    )


# --- unique ids ------------------------------------------------------------------------------


def _prefixed_id(init: Callable[..., None], prefix: str) -> Callable[..., None]:
    def __init__(self: Any, account_id: str, *args: Any, **kwargs: Any) -> None:
        init(self, account_id, *args, **kwargs)
        self.id = generate_access_key_id_from_account_id(account_id, prefix=prefix, total_length=21)

    return __init__


def install(patches: Patches) -> None:
    for name, fill in (
        ("generate_service_last_accessed_details", _generate_service_last_accessed_details),
        ("get_service_last_accessed_details", _get_service_last_accessed_details),
        ("get_credential_report", _get_credential_report),
    ):
        patches.set(IamResponse, name, fill)
    patches.set(IAMBackend, "get_credential_report", _credential_report)
    patches.set(IAMBackend, "generate_report", _generate_report)
    patches.set(moto.iam.models.User, "__init__", _prefixed_id(moto.iam.models.User.__init__, "AIDA"))
    patches.set(moto.iam.models.Group, "__init__", _prefixed_id(moto.iam.models.Group.__init__, "AGPA"))
