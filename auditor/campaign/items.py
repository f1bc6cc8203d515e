"""The access under review, built once from a snapshot and its findings (pure, no I/O).

One item per (person, access path): each Identity Center assignment a
person holds directly or through a group, and each IAM user's credentials;
plus, for a group named in the scope, the group as one entitlement. Each
item carries the Revocations it becomes if revoked (with real AWS ids) and
every access path that revocation would take away, so the reviewer sees it
and close can refuse to remove access someone decided to keep.
"""

from __future__ import annotations

from datetime import datetime

from auditor.access import AccessPath, tag
from auditor.campaign.model import CampaignError, Item, ItemKind, RevokeSpec
from auditor.campaign.relate import FindingIndex, recommend, summarise
from auditor.campaign.scope import Scope, accounts_in_scope
from auditor.model import (
    AccountAssignment,
    Finding,
    HrPerson,
    IamUser,
    IdcGroup,
    IdcUser,
    Principal,
    PrincipalType,
    RevocationKind,
)
from auditor.permissions.capabilities import summary
from auditor.rules.context import RuleContext
from auditor.rules.policies import is_admin_policy_arn
from auditor.snapshot import Snapshot


def path_key(user_id: str, account_id: str, ps_arn: str, group_id: str | None) -> str:
    return f"idc:{user_id}:{account_id}:{ps_arn}:{group_id or 'direct'}"


def build_items(
    snapshot: Snapshot,
    findings: list[Finding],
    scope: Scope,
    *,
    privileged_only: bool,
    rules_settings: dict,
    as_of: datetime,
) -> list[Item]:
    """Every item in scope, without ids or reviewers (assigned when the campaign is opened)."""
    builder = _Builder(snapshot, findings, scope, privileged_only, rules_settings, as_of)
    items = builder.assignment_items() + builder.group_items() + builder.iam_items()
    if privileged_only:
        items = [item for item in items if item.admin]
    return items


class _Builder:
    def __init__(self, snapshot, findings, scope, privileged_only, rules_settings, as_of) -> None:
        self.ctx = RuleContext(snapshot=snapshot, as_of=as_of, settings=rules_settings)
        self.access = self.ctx.access
        self.snapshot, self.scope, self.as_of = snapshot, scope, as_of
        self.privileged_only = privileged_only
        self.index = FindingIndex(findings)
        self.accounts = accounts_in_scope(scope, snapshot)
        self.unused_days = rules_settings["unused_assignment_days"]
        self.iam_unused_days = rules_settings["iam_user_inactive_days"]
        status = snapshot.status_of("identity_center")
        detail = status.detail if status else {}
        self.instance_arn = detail.get("instance_arn") or ""
        self.identity_store_id = detail.get("identity_store_id") or ""
        self._check_names()

    def _check_names(self) -> None:
        known_ps = {ps.name.lower() for ps in self.snapshot.table("permission_sets")}
        known_groups = {g.display_name.lower() for g in self.snapshot.table("idc_groups")}
        for kind, wanted, known in (
            ("permission-set", self.scope.permission_sets, known_ps),
            ("group", self.scope.groups, known_groups),
        ):
            missing = sorted(wanted - known)
            if missing:
                raise CampaignError(f"--scope {kind}: no {kind.replace('-', ' ')} named {', '.join(missing)}")

    def _require_idc_ids(self) -> None:
        if not (self.instance_arn and self.identity_store_id):
            raise CampaignError(
                "the snapshot does not record the Identity Center instance (identity_center detail "
                "instance_arn and identity_store_id), so revocations could not name their targets; "
                "collect a fresh snapshot"
            )

    # --- scope -------------------------------------------------------------------

    def _where(self, account_id: str) -> bool:
        return self.accounts is None or account_id in self.accounts

    def _what_idc(self, ps_name: str, group: str | None) -> bool:
        if not self.scope.selects_what:
            return True
        return ps_name.lower() in self.scope.permission_sets or (
            group is not None and group.lower() in self.scope.groups
        )

    def _account_name(self, account_id: str) -> str:
        account = self.ctx.accounts.get(account_id)
        return account.name if account else account_id

    def _environment(self, account_id: str) -> str | None:
        account = self.ctx.accounts.get(account_id)
        return (tag(account.tags, "environment") or None) if account else None

    def _where_text(self, account_id: str) -> str:
        return f"{self._account_name(account_id)} ({account_id})"

    # --- Identity Center paths ------------------------------------------------------

    def assignment_items(self) -> list[Item]:
        items = []
        for user in self.snapshot.table("idc_users"):
            for path in self.access.paths_of(user.user_id):
                ps_name = self.access.permission_set_name(path.permission_set_arn)
                if not self._where(path.account_id) or not self._what_idc(ps_name, path.group_name):
                    continue
                items.append(self._assignment_item(user, path, ps_name))
        if items:
            self._require_idc_ids()
        return items

    def _assignment_item(self, user: IdcUser, path: AccessPath, ps_name: str) -> Item:
        ctx, account_id, ps_arn = self.ctx, path.account_id, path.permission_set_arn
        group_id, group_name = path.group_id, path.group_name
        person = self.access.hr_person(user)
        last = self.access.assignment_last_used(user, account_id, ps_name)
        existence = self.access.idc_user_existence(user)
        age = existence.days(self.as_of)
        unknown = None if last else (existence.missing or ctx.missing_window(account_id, self.unused_days))
        related = self.index.for_assignment(user.user_id, account_id, ps_arn, group_name)
        break_glass = ctx.is_break_glass(ps_name, user.user_name, group_name)
        too_new = age is not None and age < self.unused_days
        flagged, recommendation, why = recommend(
            related,
            last,
            unknown,
            as_of=self.as_of,
            unused_days=self.unused_days,
            too_new=too_new,
            break_glass=break_glass,
        )
        context: dict = {"user_status": user.status or "unknown", "user_name": user.user_name}
        ps = self.access.permission_sets.get(ps_arn)
        if ps is not None:
            permissions = ctx.permissions
            context["sensitive_capabilities"] = summary(
                permissions.sensitive(permissions.permission_set(ps, account_id))
            )
        own = path_key(user.user_id, account_id, ps_arn, group_id)
        if group_name is None:
            how = "assigned directly"
            revokes = [
                RevokeSpec(
                    kind=RevocationKind.IDC_ACCOUNT_ASSIGNMENT.value,
                    target={
                        "instance_arn": self.instance_arn,
                        "account_id": account_id,
                        "permission_set_arn": ps_arn,
                        "principal_type": "USER",
                        "principal_id": user.user_id,
                    },
                )
            ]
            removes = [own]
        else:
            how = f"via group {group_name}"
            grants = self.access.assignments_of_group(group_id)
            context["membership_also_grants"] = sorted(
                f"{self.access.permission_set_name(g.permission_set_arn)} in {self._where_text(g.account_id)}"
                for g in grants
                if (g.account_id, g.permission_set_arn) != (account_id, ps_arn)
            )
            revokes = [
                RevokeSpec(
                    kind=RevocationKind.IDC_GROUP_MEMBERSHIP.value,
                    target={
                        "identity_store_id": self.identity_store_id,
                        "group_id": group_id,
                        "user_id": user.user_id,
                    },
                )
            ]
            removes = sorted(
                {path_key(user.user_id, g.account_id, g.permission_set_arn, group_id) for g in grants} | {own}
            )
        return Item(
            item_id="",
            kind=ItemKind.IDC_ASSIGNMENT.value,
            principal=ctx.idc_principal(user),
            subject_email=_email(person, user.email),
            subject_name=(person.display_name if person else None) or user.display_name or user.user_name,
            access=f"{ps_name} in {self._where_text(account_id)}, {how}",
            account_id=account_id,
            account_name=self._account_name(account_id),
            environment=self._environment(account_id),
            permission_set=ps_name,
            permission_set_arn=ps_arn,
            group=group_name,
            group_id=group_id,
            **_hr_fields(person),
            last_used=_used_text(last, unknown),
            admin=ctx.is_admin(ps_arn),
            break_glass=break_glass,
            related_findings=summarise(related),
            flagged=flagged,
            recommendation=recommendation,
            recommendation_reason=why,
            revokes=revokes,
            paths=[own],
            removes_paths=removes,
            context=context,
        )

    # --- groups as entitlements ------------------------------------------------------

    def group_items(self) -> list[Item]:
        items = []
        for group in sorted(self.access.groups.values(), key=lambda g: g.display_name):
            if group.display_name.lower() not in self.scope.groups:
                continue
            grants = [g for g in self.access.assignments_of_group(group.group_id) if self._where(g.account_id)]
            if self.privileged_only:
                grants = [g for g in grants if self.ctx.is_admin(g.permission_set_arn)]
            if grants:
                self._require_idc_ids()
                items.append(self._group_item(group, grants))
        return items

    def _group_item(self, group: IdcGroup, grants: list[AccountAssignment]) -> Item:
        ctx, access = self.ctx, self.access
        members = [access.idc_users[m] for m in access.members_of(group.group_id) if m in access.idc_users]
        last = max(
            (
                t
                for user in members
                for g in grants
                if (
                    t := access.assignment_last_used(
                        user, g.account_id, access.permission_set_name(g.permission_set_arn)
                    )
                )
            ),
            default=None,
        )
        unknowns = sorted({m for g in grants if (m := ctx.missing_window(g.account_id, self.unused_days))})
        unknown = None if last else (unknowns[0] if unknowns else None)
        related = self.index.for_group(group.group_id, [g.permission_set_arn for g in grants])
        break_glass = ctx.is_break_glass(
            group.display_name, *(ctx.permission_set_name(g.permission_set_arn) for g in grants)
        )
        flagged, recommendation, why = recommend(
            related,
            last,
            unknown,
            as_of=self.as_of,
            unused_days=self.unused_days,
            too_new=not members,
            break_glass=break_glass,
        )
        grant_texts = sorted(
            f"{ctx.permission_set_name(g.permission_set_arn)} in {self._where_text(g.account_id)}" for g in grants
        )
        member_names = sorted((u.email or u.user_name) for u in members)
        return Item(
            item_id="",
            kind=ItemKind.IDC_GROUP.value,
            principal=Principal(type=PrincipalType.IDC_GROUP.value, id=group.group_id, name=group.display_name),
            subject_email=None,
            subject_name=f"group {group.display_name}",
            access=f"group {group.display_name} ({len(members)} members) grants {'; '.join(grant_texts)}",
            group=group.display_name,
            group_id=group.group_id,
            last_used=_used_text(last, unknown),
            admin=any(ctx.is_admin(g.permission_set_arn) for g in grants),
            break_glass=break_glass,
            related_findings=summarise(related),
            flagged=flagged,
            recommendation=recommendation,
            recommendation_reason=why,
            revokes=[
                RevokeSpec(
                    kind=RevocationKind.IDC_ACCOUNT_ASSIGNMENT.value,
                    target={
                        "instance_arn": self.instance_arn,
                        "account_id": g.account_id,
                        "permission_set_arn": g.permission_set_arn,
                        "principal_type": "GROUP",
                        "principal_id": group.group_id,
                    },
                )
                for g in sorted(grants, key=lambda g: (g.account_id, g.permission_set_arn))
            ],
            paths=[f"group:{group.group_id}"],
            removes_paths=sorted(
                path_key(u.user_id, g.account_id, g.permission_set_arn, group.group_id) for u in members for g in grants
            ),
            context={"members": member_names, "grants": grant_texts, "description": group.description or ""},
        )

    # --- IAM users -------------------------------------------------------------------

    def iam_items(self) -> list[Item]:
        if self.scope.selects_what and not self.scope.iam:
            return []
        admin_groups = {
            (g.account_id, g.group_name)
            for g in self.snapshot.table("iam_groups")
            if any(is_admin_policy_arn(a) for a in g.attached_policies)
        }
        return [
            self._iam_item(user, admin_groups)
            for user in self.snapshot.table("iam_users")
            if self._where(user.account_id)
        ]

    def _iam_item(self, user: IamUser, admin_groups: set) -> Item:
        ctx, access = self.ctx, self.access
        active = sorted((k for k in access.keys_of(user) if k.status == "Active"), key=lambda k: k.access_key_id)
        person = access.iam_user_person(user)
        last = access.iam_user_last_used(user)
        existence = access.iam_user_existence(user)
        age = existence.days(self.as_of)
        unknown = None if last else existence.missing
        related = self.index.for_iam_user(user.user_id, user.arn)
        break_glass = ctx.is_break_glass(user.user_name)
        too_new = age is not None and age < self.iam_unused_days
        flagged, recommendation, why = recommend(
            related,
            last,
            unknown,
            as_of=self.as_of,
            unused_days=self.iam_unused_days,
            too_new=too_new,
            break_glass=break_glass,
        )
        credentials = (["console password"] if user.password_enabled else []) + (
            [f"{len(active)} active access key(s)"] if active else []
        )
        revokes = [
            RevokeSpec(
                kind=RevocationKind.IAM_ACCESS_KEY.value,
                target={"account_id": user.account_id, "user_name": user.user_name, "access_key_id": k.access_key_id},
            )
            for k in active
        ]
        if user.password_enabled:
            revokes.append(
                RevokeSpec(
                    kind=RevocationKind.IAM_LOGIN_PROFILE.value,
                    target={"account_id": user.account_id, "user_name": user.user_name},
                )
            )
        own = f"iam:{user.account_id}:{user.user_name}"
        return Item(
            item_id="",
            kind=ItemKind.IAM_USER.value,
            principal=Principal(type=PrincipalType.IAM_USER.value, id=user.user_id, name=user.user_name, arn=user.arn),
            subject_email=person.email.lower() if person else None,
            subject_name=(person.display_name if person else None) or f"IAM user {user.user_name}",
            access=f"IAM user {user.user_name} in {self._where_text(user.account_id)}: "
            f"{', '.join(credentials) or 'no active credentials'}",
            account_id=user.account_id,
            account_name=self._account_name(user.account_id),
            environment=self._environment(user.account_id),
            **_hr_fields(person),
            last_used=_used_text(last, unknown),
            admin=any(is_admin_policy_arn(a) for a in user.attached_policies)
            or any((user.account_id, g) in admin_groups for g in user.groups),
            break_glass=break_glass,
            related_findings=summarise(related),
            flagged=flagged,
            recommendation=recommendation,
            recommendation_reason=why,
            revokes=revokes,
            paths=[own],
            removes_paths=[own],
            context={
                "owner_tag": tag(user.tags, "owner") or "",
                "active_keys": [k.access_key_id for k in active],
                "console_password": user.password_enabled,
                "mfa": user.mfa_active,
                "policies": list(user.attached_policies) + list(user.inline_policies),
                "groups": list(user.groups),
                "sensitive_capabilities": summary(ctx.permissions.sensitive(ctx.permissions.iam_user(user))),
            },
        )


def _email(person: HrPerson | None, fallback: str | None) -> str | None:
    value = person.email if person else fallback
    return value.lower() if value else None


def _hr_fields(person: HrPerson | None) -> dict:
    if person is None:
        return {"hr_status": "not in HR"}
    return {
        "hr_status": person.status,
        "department": person.department,
        "title": person.title,
        "manager": person.manager_email.lower() or None,
        "end_date": person.end_date.isoformat() if person.end_date else None,
    }


def _used_text(last: datetime | None, unknown: str | None) -> str:
    if last is not None:
        return last.isoformat()
    return f"unknown: {unknown}" if unknown else "never"
