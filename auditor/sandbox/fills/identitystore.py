"""Identity store: ``UpdateUser``, and ``UserStatus``/``CreatedAt``/``UpdatedAt`` in ``DescribeUser``/``ListUsers``.

Identity Store API reference, UpdateUser and User: ``UpdateUser`` applies
``AttributeOperation`` items in order; a path names a User attribute
(``displayName``, ``name.givenName``, ``userStatus``, ...); an absent value
removes the attribute; ``UserStatus`` is ENABLED or DISABLED. Users start
ENABLED. Answers hold only the members the installed service model has
(newer models add ``UserArn`` and ``Revision``). What AWS keeps beside the
attributes moto stores lives on moto's identity store objects, so resetting
moto clears it too. Used by the Identity Center collector (ListUsers) and by
remediation (DescribeUser, UpdateUser).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

import botocore.session
from moto.core.responses import ActionResult
from moto.identitystore.exceptions import ConflictException, ValidationException
from moto.identitystore.models import IdentityStoreBackend, IdentityStoreData, Name, User, identitystore_backends
from moto.identitystore.responses import IdentityStoreResponse

from auditor.sandbox.moto_setup import now
from auditor.sandbox.patching import Patches

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


@cache
def _members(shape: str) -> frozenset[str]:
    """The members a shape has in the installed service model (AWS adds fields over time)."""
    return frozenset(botocore.session.get_session().get_service_model("identitystore").shape_for(shape).members)


def _store(backend: IdentityStoreBackend, identity_store_id: str) -> IdentityStoreData:
    return backend._IdentityStoreBackend__get_identity_store(identity_store_id)  # type: ignore[attr-defined]


def _user_meta(store: IdentityStoreData, user_id: str) -> dict[str, Any]:
    """What AWS keeps beside the attributes moto stores: status, times, ARN and revision."""
    table = store.__dict__.setdefault("fill_user_meta", {})
    if user_id not in table:
        table[user_id] = {
            "UserStatus": "ENABLED",
            "CreatedAt": now(),
            "UpdatedAt": now(),
            "UserArn": f"arn:aws:identitystore:::user/{user_id}",
            "Revision": "1",
        }
    return table[user_id]


def set_user_times(
    account_id: str,
    region: str,
    identity_store_id: str,
    user_id: str,
    created: datetime,
    updated: datetime | None = None,
) -> None:
    """Set when a user was created and last updated (no API sets them; AWS stamps them itself)."""
    meta = _user_meta(_store(identitystore_backends[account_id][region], identity_store_id), user_id)
    meta["CreatedAt"] = created
    meta["UpdatedAt"] = updated or created


def _user_view(store: IdentityStoreData, user: User) -> dict[str, Any]:
    view = {key: value for key, value in user._asdict().items() if value not in (None, "", [])}
    if user.Name is not None:
        view["Name"] = {key: value for key, value in user.Name._asdict().items() if value}
    view.update(_user_meta(store, user.UserId))
    allowed = _members("User")
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


def _apply(store: IdentityStoreData, fields: dict[str, Any], meta: dict, operation: dict) -> None:
    path = operation.get("AttributePath") or ""
    value = operation.get("AttributeValue")
    head, _, sub = path.partition(".")
    key = _USER_PATHS.get(head.lower())
    if key is None or (sub and key != "Name") or (sub and sub.lower() not in _NAME_PARTS):
        raise ValidationException(message=f"Invalid attribute path: {path}")
    if key == "UserStatus":
        if value not in ("ENABLED", "DISABLED"):
            raise ValidationException(message="userStatus must be ENABLED or DISABLED")
        meta["UserStatus"] = value
    elif key == "UserName":
        if not value:
            raise ValidationException(message="userName is a required attribute")
        if any(u.UserName == value and u.UserId != fields["UserId"] for u in store.users.values()):
            raise ConflictException(message="Duplicate UserName", reason="UNIQUENESS_CONSTRAINT_VIOLATION")
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
        raise ValidationException(message="Operations must hold 1 to 100 items")
    user = self.identitystore_backend.describe_user(store_id, self._get_param("UserId"))
    store = _store(self.identitystore_backend, store_id)
    fields = user._asdict()
    meta = dict(_user_meta(store, user.UserId))
    for operation in operations:
        _apply(store, fields, meta, operation)
    meta["UpdatedAt"] = now()
    meta["Revision"] = str(int(meta["Revision"]) + 1)
    store.users[user.UserId] = User(**fields)
    store.fill_user_meta[user.UserId] = meta
    answer = {
        "IdentityStoreId": store_id,
        "UserId": user.UserId,
        "UserArn": meta["UserArn"],
        "Revision": meta["Revision"],
    }
    allowed = _members("UpdateUserResponse")  # empty in older models, four members in newer
    return ActionResult({key: value for key, value in answer.items() if key in allowed})


def install(patches: Patches) -> None:
    for name, fill in (("update_user", _update_user), ("describe_user", _describe_user), ("list_users", _list_users)):
        patches.set(IdentityStoreResponse, name, fill)
