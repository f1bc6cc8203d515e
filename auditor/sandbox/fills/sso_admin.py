"""sso-admin: provisioning per account, permissions boundaries, tags, real ARNs, one home region.

SSO Admin API reference (CreateAccountAssignment, ProvisionPermissionSet,
ListPermissionSetsProvisionedToAccount, ListAccountsForProvisionedPermissionSet,
Get/Put/DeletePermissionsBoundary..., ListTagsForResource, ListInstances):

- A permission set is provisioned per account by ProvisionPermissionSet or
  by a successful CreateAccountAssignment; a later change to it leaves the
  account at ``LATEST_PERMISSION_SET_NOT_PROVISIONED`` until it is
  provisioned again. Provisioning creates the ``AWSReservedSSO_<name>_<hash>``
  role under ``/aws-reserved/sso.amazonaws.com/<region>/`` in the account, as
  Identity Center does, with the permission set's policies and permissions
  boundary. moto ignores ``AccountId``, returns only the caller's account and
  pages nothing; these answer exactly, with ``NextToken`` pagination.
- ``GetPermissionsBoundaryForPermissionSet`` answers
  ResourceNotFoundException when none is set.
- ``ListTagsForResource`` lists the tags given at CreatePermissionSet.
- Permission set ARNs take the real
  ``arn:aws:sso:::permissionSet/<instance id>/ps-...`` form.
- ``ListInstances`` answers only in the region where Identity Center is
  enabled (``set_identity_center_region``); moto makes a default instance in
  every region, so a client pointed at the wrong region would find an empty
  Identity Center instead of none.

The Identity Center collector reads all of these; the sandbox builder makes
assignments. State lives on moto's sso-admin backends.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.iam.exceptions import NotFoundException
from moto.iam.models import iam_backends
from moto.moto_api._internal import mock_random
from moto.ssoadmin.models import PermissionSet, SSOAdminBackend, ssoadmin_backends
from moto.ssoadmin.responses import SSOAdminResponse

from auditor.sandbox.moto_setup import now
from auditor.sandbox.patching import Patches


def _token(offset: int, params: dict) -> str:
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return base64.b64encode(json.dumps({"o": offset, "h": digest}).encode()).decode()


def _offset(token: str | None, params: dict) -> int:
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
        raise _Validation("Invalid NextToken: it does not belong to this request") from exc


class _Validation(ServiceException):
    code = "ValidationException"


class _NotFound(ServiceException):
    code = "ResourceNotFoundException"


@dataclass
class _Provisioning:
    versions: dict[str, int] = field(default_factory=dict)  # permission set ARN -> change counter
    accounts: dict[str, dict[str, int]] = field(default_factory=dict)  # ARN -> account -> version provisioned
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)


def _provisioning(backend: SSOAdminBackend) -> _Provisioning:
    return backend.__dict__.setdefault("fill_provisioning", _Provisioning())


def record_for_stock(backend: SSOAdminBackend) -> None:
    """Let stock moto know what was provisioned, as if its own ProvisionPermissionSet had been called.

    Stock moto keeps one instance-wide list of provisioned permission sets (its
    ListPermissionSetsProvisionedToAccount ignores the account); an estate served in
    stock mode must still have provisioned the permission sets it assigned.
    """
    provisioned = _provisioning(backend).accounts
    for instance in backend.instances:
        known = {ps.permission_set_arn for ps in instance.provisioned_permission_sets}
        for permission_set in backend.permission_sets:
            arn = permission_set.permission_set_arn
            if provisioned.get(arn) and arn not in known and permission_set.instance_arn == instance.instance_arn:
                instance.provisioned_permission_sets.append(permission_set)
                known.add(arn)


def record_all_for_stock() -> None:
    """``record_for_stock`` in every account and region the estate used."""
    for account_id in list(dict.keys(ssoadmin_backends)):
        for backend in list(dict.values(ssoadmin_backends[account_id])):
            record_for_stock(backend)


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
            raise _Validation("TargetId is required when TargetType is AWS_ACCOUNT")
        accounts = [target_id]
    elif target_type == "ALL_PROVISIONED_ACCOUNTS":
        accounts = sorted(state.accounts.get(arn, {}))
    else:
        raise _Validation("TargetType must be AWS_ACCOUNT or ALL_PROVISIONED_ACCOUNTS")
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
        raise _NotFound(f"Could not find provisioning request with id {request_id}")
    return ActionResult({"PermissionSetProvisioningStatus": status})


def _status_matches(state: _Provisioning, arn: str, account_id: str, wanted: str | None) -> bool:
    provisioned = state.accounts.get(arn, {})
    if account_id not in provisioned:
        return False
    latest = provisioned[account_id] == state.versions.get(arn, 0)
    return wanted is None or (wanted == "LATEST_PERMISSION_SET_PROVISIONED") == latest


def _page(self: SSOAdminResponse, items: list[str], key: str, params: dict) -> ActionResult:
    size = int(self._get_param("MaxResults") or 100)
    if not 1 <= size <= 100:
        raise _Validation("MaxResults must be between 1 and 100")
    start = _offset(self._get_param("NextToken"), params)
    result: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        result["NextToken"] = _token(start + size, params)
    return ActionResult(result)


def _list_permission_sets_provisioned_to_account(self: SSOAdminResponse) -> ActionResult:
    backend = self.ssoadmin_backend
    instance_arn, account_id = self._get_param("InstanceArn"), self._get_param("AccountId")
    wanted = self._get_param("ProvisioningStatus")
    if not account_id:
        raise _Validation("AccountId is required")
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
    return backend.__dict__.setdefault("fill_boundaries", {})


def _put_permissions_boundary(self: SSOAdminResponse) -> ActionResult:
    backend = self.ssoadmin_backend
    arn = self._get_param("PermissionSetArn")
    backend._find_permission_set(self._get_param("InstanceArn"), arn)
    boundary = self._get_param("PermissionsBoundary") or {}
    if len([key for key in ("CustomerManagedPolicyReference", "ManagedPolicyArn") if boundary.get(key)]) != 1:
        raise _Validation("Specify exactly one of CustomerManagedPolicyReference or ManagedPolicyArn")
    _boundaries(backend)[arn] = boundary
    _changed(backend, arn)
    return ActionResult({})


def _get_permissions_boundary(self: SSOAdminResponse) -> ActionResult:
    backend = self.ssoadmin_backend
    arn = self._get_param("PermissionSetArn")
    backend._find_permission_set(self._get_param("InstanceArn"), arn)
    if arn not in _boundaries(backend):
        raise _NotFound(f"Could not find PermissionsBoundary for PermissionSet {arn.rsplit('/', 1)[-1]}")
    return ActionResult({"PermissionsBoundary": _boundaries(backend)[arn]})


def _delete_permissions_boundary(self: SSOAdminResponse) -> ActionResult:
    backend = self.ssoadmin_backend
    arn = self._get_param("PermissionSetArn")
    backend._find_permission_set(self._get_param("InstanceArn"), arn)
    if _boundaries(backend).pop(arn, None) is None:
        raise _NotFound(f"Could not find PermissionsBoundary for PermissionSet {arn.rsplit('/', 1)[-1]}")
    _changed(backend, arn)
    return ActionResult({})


def _list_tags_for_resource(self: SSOAdminResponse) -> ActionResult:
    """The tags of a permission set (given at CreatePermissionSet), or of the instance (moto makes it with none)."""
    backend, arn = self.ssoadmin_backend, self._get_param("ResourceArn")
    permission_set = next((p for p in backend.permission_sets if p.permission_set_arn == arn), None)
    if permission_set is not None:
        tags = list(permission_set.tags or [])
    elif any(instance.instance_arn == arn for instance in backend.instances):
        tags = []
    else:
        raise _NotFound(f"Could not find resource {arn}")
    return ActionResult({"Tags": tags})  # no MaxResults; a resource holds at most 50 tags, so one page


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
    ssoadmin_backends[account_id][region].__dict__["fill_home"] = True


def _list_instances(self: SSOAdminResponse) -> ActionResult:
    backend = self.ssoadmin_backend
    homes = [b for b in dict.values(ssoadmin_backends[self.current_account]) if b.__dict__.get("fill_home")]
    instances = backend.instances if not homes or backend in homes else []
    views = [{key: value for key, value in instance.to_json().items() if value is not None} for instance in instances]
    for view in views:
        view["CreatedDate"] = datetime.fromtimestamp(view["CreatedDate"], UTC)
    return ActionResult({"Instances": views})


def install(patches: Patches) -> None:
    patches.set(PermissionSet, "generate_id", staticmethod(_permission_set_arn))
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
    ):
        patches.set(SSOAdminResponse, name, fill)
    for name in _CHANGES_PERMISSION_SET:
        patches.set(SSOAdminBackend, name, _bumps_version(getattr(SSOAdminBackend, name)))
    patches.set(SSOAdminBackend, "delete_permission_set", _forgets_deleted(SSOAdminBackend.delete_permission_set))
