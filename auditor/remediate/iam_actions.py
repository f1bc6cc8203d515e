"""IAM actions, each in the account that holds the user: access key, console password, attached policy."""

from __future__ import annotations

import secrets
import string

from auditor.aws import pages, utc
from auditor.model import RevocationKind
from auditor.remediate.actions import Action, State, Target, not_found, register
from auditor.remediate.clients import Clients

_NO_ENTITY = ("NoSuchEntity", "NoSuchEntityException")
PASSWORD_LENGTH = 40  # IAM allows up to 128; every character class is included for any password policy


def _subject(t: Target) -> tuple[str, str]:
    return ("iam_user", f"{t['account_id']}:{t['user_name']}")


# --- deactivate an access key ------------------------------------------------------


def _read_key(clients: Clients, t: Target) -> State:
    try:
        for page in pages(clients.iam(t["account_id"]), "list_access_keys", UserName=t["user_name"]):
            for key in page.get("AccessKeyMetadata", []):
                if key["AccessKeyId"] == t["access_key_id"]:
                    return {"exists": True, "status": key["Status"]}
    except Exception as exc:
        if not not_found(exc, *_NO_ENTITY):
            raise
    return {"exists": False, "status": None}


def _set_key_status(clients: Clients, t: Target, status: str) -> dict:
    clients.iam(t["account_id"]).update_access_key(
        UserName=t["user_name"], AccessKeyId=t["access_key_id"], Status=status
    )
    return {"status": status}


register(
    Action(
        kind=RevocationKind.IAM_ACCESS_KEY.value,
        verb="deactivate IAM access key",
        target_keys=("account_id", "user_name", "access_key_id"),
        permissions=("iam:ListAccessKeys", "iam:UpdateAccessKey"),
        read=_read_key,
        revoked=lambda s: not s["exists"] or s["status"] == "Inactive",
        apply=lambda c, t, pre: _set_key_status(c, t, "Inactive"),
        inverse=lambda c, t, pre: _set_key_status(c, t, pre["status"]),
        compare=("exists", "status"),
        describe=lambda t: f"deactivate access key {t['access_key_id']} of {t['user_name']} in {t['account_id']}",
        names=lambda c, t: [],
        subject=_subject,
    )
)


# --- delete the console login profile ------------------------------------------------


def random_password(length: int = PASSWORD_LENGTH) -> str:
    """A password no one knows that satisfies any IAM password policy (every character class)."""
    classes = [string.ascii_uppercase, string.ascii_lowercase, string.digits, "!@#$%^&*()_+-=[]{}|'"]
    chars = [secrets.choice(c) for c in classes]
    alphabet = "".join(classes)
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def _read_login_profile(clients: Clients, t: Target) -> State:
    try:
        profile = clients.iam(t["account_id"]).get_login_profile(UserName=t["user_name"])["LoginProfile"]
    except Exception as exc:
        if not_found(exc, *_NO_ENTITY):
            return {"login_profile": False, "password_reset_required": None, "created": None}
        raise
    created = utc(profile.get("CreateDate"))
    return {
        "login_profile": True,
        "password_reset_required": bool(profile.get("PasswordResetRequired", False)),
        "created": created.isoformat() if created else None,
    }


def _delete_login_profile(clients: Clients, t: Target, pre: State) -> dict:
    clients.iam(t["account_id"]).delete_login_profile(UserName=t["user_name"])
    return {"login_profile": "deleted"}


def _recreate_login_profile(clients: Clients, t: Target, pre: State) -> dict:
    clients.iam(t["account_id"]).create_login_profile(
        UserName=t["user_name"], Password=random_password(), PasswordResetRequired=True
    )
    return {"login_profile": "created", "password": "random, neither shown nor stored", "password_reset_required": True}


LOGIN_PROFILE_NOTE = (
    "rollback cannot restore the old console password (AWS never reveals it): it creates a new random "
    "password, neither shown nor stored, with PasswordResetRequired=true; an administrator then gives the "
    "user a temporary password (iam UpdateLoginProfile) to sign in again"
)

register(
    Action(
        kind=RevocationKind.IAM_LOGIN_PROFILE.value,
        verb="delete IAM console password",
        target_keys=("account_id", "user_name"),
        permissions=("iam:GetLoginProfile", "iam:DeleteLoginProfile", "iam:CreateLoginProfile"),
        read=_read_login_profile,
        revoked=lambda s: not s["login_profile"],
        apply=_delete_login_profile,
        inverse=_recreate_login_profile,
        compare=("login_profile",),
        drift_keys=("login_profile", "created"),
        describe=lambda t: f"delete the console password of {t['user_name']} in {t['account_id']}",
        names=lambda c, t: [],
        subject=_subject,
        rollback_note=LOGIN_PROFILE_NOTE,
    )
)


# --- detach a directly attached managed policy ---------------------------------------


def _read_attachment(clients: Clients, t: Target) -> State:
    try:
        for page in pages(clients.iam(t["account_id"]), "list_attached_user_policies", UserName=t["user_name"]):
            if any(p["PolicyArn"] == t["policy_arn"] for p in page.get("AttachedPolicies", [])):
                return {"attached": True}
    except Exception as exc:
        if not not_found(exc, *_NO_ENTITY):
            raise
    return {"attached": False}


def _detach(clients: Clients, t: Target, pre: State) -> dict:
    clients.iam(t["account_id"]).detach_user_policy(UserName=t["user_name"], PolicyArn=t["policy_arn"])
    return {"detached": t["policy_arn"]}


def _attach(clients: Clients, t: Target, pre: State) -> dict:
    clients.iam(t["account_id"]).attach_user_policy(UserName=t["user_name"], PolicyArn=t["policy_arn"])
    return {"attached": t["policy_arn"]}


register(
    Action(
        kind=RevocationKind.IAM_USER_POLICY.value,
        verb="detach policy from IAM user",
        target_keys=("account_id", "user_name", "policy_arn"),
        permissions=("iam:ListAttachedUserPolicies", "iam:DetachUserPolicy", "iam:AttachUserPolicy"),
        read=_read_attachment,
        revoked=lambda s: not s["attached"],
        apply=_detach,
        inverse=_attach,
        compare=("attached",),
        describe=lambda t: f"detach {t['policy_arn']} from {t['user_name']} in {t['account_id']}",
        names=lambda c, t: [],
        subject=_subject,
    )
)
