"""Identity Center actions: group membership, account assignment, user status.

Shapes follow botocore's identitystore and sso-admin models: UpdateUser
takes ``Operations=[{"AttributePath": "userStatus", "AttributeValue": ...}]``
(a User attribute path, ENABLED or DISABLED); account assignments change
asynchronously, so deleting or creating one waits for its request status.
"""

from __future__ import annotations

from auditor.aws import pages
from auditor.model import RevocationKind
from auditor.remediate.actions import Action, State, Target, not_found, register
from auditor.remediate.clients import Clients

_NOT_FOUND = ("ResourceNotFoundException",)


# --- names, for the protection check ---------------------------------------------


def _user_names(clients: Clients, store_id: str, user_id: str) -> list[str]:
    try:
        user = clients.identitystore().describe_user(IdentityStoreId=store_id, UserId=user_id)
    except Exception as exc:
        if not_found(exc, *_NOT_FOUND):
            return []
        raise
    emails = [e.get("Value") for e in user.get("Emails") or []]
    return [n for n in (user.get("UserName"), user.get("DisplayName"), *emails) if n]


def _group_names(clients: Clients, store_id: str, group_id: str) -> list[str]:
    try:
        group = clients.identitystore().describe_group(IdentityStoreId=store_id, GroupId=group_id)
    except Exception as exc:
        if not_found(exc, *_NOT_FOUND):
            return []
        raise
    return [n for n in (group.get("DisplayName"),) if n]


def _identity_store_id(clients: Clients, instance_arn: str) -> str | None:
    for page in pages(clients.sso_admin(), "list_instances"):
        for instance in page.get("Instances", []):
            if instance["InstanceArn"] == instance_arn:
                return instance["IdentityStoreId"]
    return None


# --- remove a group membership -----------------------------------------------------


def _read_membership(clients: Clients, t: Target) -> State:
    try:
        found = clients.identitystore().get_group_membership_id(
            IdentityStoreId=t["identity_store_id"], GroupId=t["group_id"], MemberId={"UserId": t["user_id"]}
        )
    except Exception as exc:
        if not_found(exc, *_NOT_FOUND):
            return {"member": False, "membership_id": None}
        raise
    return {"member": True, "membership_id": found["MembershipId"]}


def _delete_membership(clients: Clients, t: Target, pre: State) -> dict:
    clients.identitystore().delete_group_membership(
        IdentityStoreId=t["identity_store_id"], MembershipId=pre["membership_id"]
    )
    return {"deleted_membership_id": pre["membership_id"]}


def _create_membership(clients: Clients, t: Target, pre: State) -> dict:
    created = clients.identitystore().create_group_membership(
        IdentityStoreId=t["identity_store_id"], GroupId=t["group_id"], MemberId={"UserId": t["user_id"]}
    )
    return {"membership_id": created["MembershipId"]}


register(
    Action(
        kind=RevocationKind.IDC_GROUP_MEMBERSHIP.value,
        verb="remove from Identity Center group",
        target_keys=("identity_store_id", "group_id", "user_id"),
        permissions=(
            "identitystore:GetGroupMembershipId",
            "identitystore:DeleteGroupMembership",
            "identitystore:CreateGroupMembership",
            "identitystore:DescribeUser",
            "identitystore:DescribeGroup",
        ),
        read=_read_membership,
        revoked=lambda s: not s["member"],
        apply=_delete_membership,
        inverse=_create_membership,
        compare=("member",),
        drift_keys=("member", "membership_id"),
        describe=lambda t: f"remove user {t['user_id']} from group {t['group_id']}",
        names=lambda c, t: [
            *_user_names(c, t["identity_store_id"], t["user_id"]),
            *_group_names(c, t["identity_store_id"], t["group_id"]),
        ],
        subject=lambda t: ("idc_user", t["user_id"]),
        rollback_note="rollback re-adds the user to the group; the membership gets a new MembershipId",
    )
)


# --- delete an account assignment ----------------------------------------------------


def _assignment_params(t: Target) -> dict:
    return {
        "InstanceArn": t["instance_arn"],
        "TargetId": t["account_id"],
        "TargetType": "AWS_ACCOUNT",
        "PermissionSetArn": t["permission_set_arn"],
        "PrincipalType": t["principal_type"],
        "PrincipalId": t["principal_id"],
    }


def _read_assignment(clients: Clients, t: Target) -> State:
    listed = pages(
        clients.sso_admin(),
        "list_account_assignments",
        InstanceArn=t["instance_arn"],
        AccountId=t["account_id"],
        PermissionSetArn=t["permission_set_arn"],
    )
    wanted = (t["principal_type"], t["principal_id"])
    assigned = any(
        (a.get("PrincipalType"), a.get("PrincipalId")) == wanted
        for page in listed
        for a in page.get("AccountAssignments", [])
    )
    return {"assigned": assigned}


def _delete_assignment(clients: Clients, t: Target, pre: State) -> dict:
    return _change_assignment(clients, t, "delete", f"deleting the assignment of {t['permission_set_arn']}")


def _create_assignment(clients: Clients, t: Target, pre: State) -> dict:
    return _change_assignment(clients, t, "create", f"re-creating the assignment of {t['permission_set_arn']}")


def _change_assignment(clients: Clients, t: Target, change: str, what: str) -> dict:
    """Create or delete an assignment; both are asynchronous, so wait for the request's final status."""
    sso = clients.sso_admin()
    noun = "Deletion" if change == "delete" else "Creation"
    key = f"AccountAssignment{noun}Status"
    request = getattr(sso, f"{change}_account_assignment")(**_assignment_params(t))[key]
    status = request
    if request.get("Status") != "SUCCEEDED":
        describe = getattr(sso, f"describe_account_assignment_{noun.lower()}_status")
        status = clients.waiter.wait(
            lambda: describe(
                InstanceArn=t["instance_arn"], **{f"AccountAssignment{noun}RequestId": request["RequestId"]}
            )[key],
            f"{what} in {t['account_id']}",
        )
    return {"request_id": request.get("RequestId"), "status": status.get("Status")}


def _assignment_names(clients: Clients, t: Target) -> list[str]:
    try:
        permission_set = clients.sso_admin().describe_permission_set(
            InstanceArn=t["instance_arn"], PermissionSetArn=t["permission_set_arn"]
        )["PermissionSet"]
        names = [permission_set.get("Name")]
    except Exception as exc:
        if not not_found(exc, *_NOT_FOUND):
            raise
        names = []
    store_id = _identity_store_id(clients, t["instance_arn"])
    if store_id is not None:
        if t["principal_type"] == "USER":
            names += _user_names(clients, store_id, t["principal_id"])
        else:
            names += _group_names(clients, store_id, t["principal_id"])
    return [n for n in names if n]


register(
    Action(
        kind=RevocationKind.IDC_ACCOUNT_ASSIGNMENT.value,
        verb="delete Identity Center account assignment",
        target_keys=("instance_arn", "account_id", "permission_set_arn", "principal_type", "principal_id"),
        permissions=(
            "sso:ListAccountAssignments",
            "sso:DeleteAccountAssignment",
            "sso:DescribeAccountAssignmentDeletionStatus",
            "sso:CreateAccountAssignment",
            "sso:DescribeAccountAssignmentCreationStatus",
            "sso:DescribePermissionSet",
            "sso:ListInstances",
            "identitystore:DescribeUser",
            "identitystore:DescribeGroup",
        ),
        read=_read_assignment,
        revoked=lambda s: not s["assigned"],
        apply=_delete_assignment,
        inverse=_create_assignment,
        compare=("assigned",),
        describe=lambda t: (
            f"delete assignment of {t['principal_type'].lower()} {t['principal_id']} to "
            f"{t['permission_set_arn']} in account {t['account_id']}"
        ),
        names=_assignment_names,
        subject=lambda t: ("idc_user" if t["principal_type"] == "USER" else "idc_group", t["principal_id"]),
    )
)


# --- disable a user --------------------------------------------------------------------


def _read_user(clients: Clients, t: Target) -> State:
    try:
        user = clients.identitystore().describe_user(IdentityStoreId=t["identity_store_id"], UserId=t["user_id"])
    except Exception as exc:
        if not_found(exc, *_NOT_FOUND):
            return {"exists": False, "user_status": None}
        raise
    # an identity store that does not report a status treats the user as enabled
    return {"exists": True, "user_status": user.get("UserStatus") or "ENABLED"}


def _set_status(clients: Clients, t: Target, status: str) -> dict:
    clients.identitystore().update_user(
        IdentityStoreId=t["identity_store_id"],
        UserId=t["user_id"],
        Operations=[{"AttributePath": "userStatus", "AttributeValue": status}],
    )
    return {"user_status": status}


register(
    Action(
        kind=RevocationKind.IDC_USER.value,
        verb="disable Identity Center user",
        target_keys=("identity_store_id", "user_id"),
        permissions=("identitystore:DescribeUser", "identitystore:UpdateUser"),
        read=_read_user,
        revoked=lambda s: not s["exists"] or s["user_status"] == "DISABLED",
        apply=lambda c, t, pre: _set_status(c, t, "DISABLED"),
        inverse=lambda c, t, pre: _set_status(c, t, pre["user_status"]),
        compare=("exists", "user_status"),
        describe=lambda t: f"disable Identity Center user {t['user_id']}",
        names=lambda c, t: _user_names(c, t["identity_store_id"], t["user_id"]),
        subject=lambda t: ("idc_user", t["user_id"]),
    )
)
