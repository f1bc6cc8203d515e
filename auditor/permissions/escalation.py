"""Privilege-escalation paths: how a principal that is not an administrator can make itself one.

The known methods (Rhino Security Labs' list, PMapper's edges): write a new
default version of a policy, attach or write a policy on itself or another
principal, make credentials for another user, pass a more powerful role to a
compute service it can create, assume a more powerful role through trust
policies (across accounts too), and, in Identity Center's account, grant
itself access through sso-admin and identity store writes. Each path is
told as a chain from the principal to the power it reaches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TypeVar

from auditor.model import IamGroup, IamPolicy, IamRole, IamUser, PermissionSet
from auditor.permissions.effective import Effective, Grant, PermissionModel
from auditor.permissions.policy import resource_matches

POLICY_VERSION = "policy_version"
ATTACH_PUT = "attach_put_policy"
CREDENTIALS = "credentials"
PASS_ROLE = "pass_role"
ASSUME_ROLE = "assume_role"
IDENTITY_CENTER = "identity_center"
METHODS = (POLICY_VERSION, ATTACH_PUT, CREDENTIALS, PASS_ROLE, ASSUME_ROLE, IDENTITY_CENTER)

VERSION_ACTIONS = ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion")
ATTACH_ACTIONS = {
    "user": ("iam:AttachUserPolicy", "iam:PutUserPolicy"),
    "group": ("iam:AttachGroupPolicy", "iam:PutGroupPolicy"),
    "role": ("iam:AttachRolePolicy", "iam:PutRolePolicy"),
}
CREDENTIAL_ACTIONS = ("iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile")
# compute and orchestration services that run code as a role passed to them: trusted service -> create/update
COMPUTE_ACTIONS = {
    "lambda.amazonaws.com": ("lambda:CreateFunction", "lambda:UpdateFunctionConfiguration"),
    "ec2.amazonaws.com": ("ec2:RunInstances",),
    "ecs-tasks.amazonaws.com": ("ecs:RegisterTaskDefinition", "ecs:RunTask"),
    "glue.amazonaws.com": ("glue:CreateDevEndpoint", "glue:CreateJob", "glue:UpdateJob"),
    "cloudformation.amazonaws.com": ("cloudformation:CreateStack", "cloudformation:UpdateStack"),
    "codebuild.amazonaws.com": ("codebuild:CreateProject", "codebuild:UpdateProject"),
    "sagemaker.amazonaws.com": ("sagemaker:CreateNotebookInstance", "sagemaker:CreateTrainingJob"),
    "states.amazonaws.com": ("states:CreateStateMachine", "states:UpdateStateMachine"),
    "datapipeline.amazonaws.com": ("datapipeline:CreatePipeline",),
}
# Identity Center writes that grant access (the IAM prefix of sso-admin is "sso")
IDENTITY_CENTER_ACTIONS = (
    "sso:CreateAccountAssignment",
    "sso:AttachManagedPolicyToPermissionSet",
    "sso:AttachCustomerManagedPolicyReferenceToPermissionSet",
    "sso:PutInlinePolicyToPermissionSet",
    "sso:DeletePermissionsBoundaryFromPermissionSet",
    "identitystore:CreateGroupMembership",
)
MAX_CHAIN = 4  # roles assumed one after another


@dataclass(frozen=True)
class Path:
    method: str
    steps: tuple[str, ...]
    target: str | None = None  # what is acted on (policy, user, role ARN)
    conditional: bool = False  # a Condition narrows some step
    break_glass: bool = False  # ends in a role kept for emergencies (its use is alerted on)

    def text(self) -> str:
        return " → ".join(self.steps) + (" (conditional)" if self.conditional else "")


@dataclass
class Subject:
    """A principal whose paths are looked for: an IAM user or role, or a permission set in one account."""

    name: str  # how a path starts: "alice", "permission set Dev in prod (111122223333)"
    account_id: str
    effective: Effective
    arns: tuple[str, ...]  # what trust policies may name it by
    own_policies: frozenset[str] = frozenset()  # managed policy ARNs it holds
    groups: tuple[str, ...] = ()  # IAM group ARNs it belongs to


def _step(grant: Grant, action: str, on: str) -> str:
    return f"{grant.path()} allows {action} on {on}"


Principal = TypeVar("Principal", IamUser, IamGroup, IamRole)


def _by_account(principals: Iterable[Principal]) -> dict[str, list[Principal]]:
    """``principals`` grouped by their account, in order."""
    grouped: dict[str, list[Principal]] = {}
    for principal in principals:
        grouped.setdefault(principal.account_id, []).append(principal)
    return grouped


@dataclass
class Estate:
    """The snapshot's principals indexed for the path search; effective permissions built on demand."""

    model: PermissionModel
    break_glass: tuple[str, ...] = ()  # lower-case name patterns
    home_accounts: frozenset[str] = frozenset()  # where Identity Center is administered
    account_names: dict[str, str] = field(default_factory=dict)
    cache: dict[str, dict[str, list[Path]]] = field(default_factory=dict)  # paths by subject, shared by the rules

    @cached_property
    def users(self) -> list[IamUser]:
        return list(self.model.snapshot.table("iam_users"))

    @cached_property
    def roles(self) -> list[IamRole]:
        return list(self.model.snapshot.table("iam_roles"))

    # The principals of each account: asked per subject, answered without scanning the estate's.
    @cached_property
    def users_in(self) -> dict[str, list[IamUser]]:
        return _by_account(self.users)

    @cached_property
    def groups_in(self) -> dict[str, list[IamGroup]]:
        return _by_account(self.model.groups.values())

    @cached_property
    def roles_in(self) -> dict[str, list[IamRole]]:
        return _by_account(self.roles)

    @cached_property
    def trusting(self) -> dict[str, list[int]]:
        """Each principal a trust policy names (ARN, account id, root ARN, "*") -> the roles naming it, by index.

        A path search asks "which roles may this principal assume" for every
        subject; only the roles whose trust policy names the principal, its
        account or everyone can answer yes (``can_assume``), so only those are asked.
        """
        index: dict[str, list[int]] = {}
        for number, role in enumerate(self.roles):
            named: set[str] = set()
            for statement in _statements(role.trust_policy):
                if statement.get("Effect") == "Allow" and _assume_action(statement.get("Action")):
                    principal = statement.get("Principal")
                    named.update(
                        str(p)
                        for p in (_list(principal.get("AWS")) if isinstance(principal, dict) else _list(principal))
                    )
            for name in named:
                index.setdefault(name, []).append(number)
        return index

    def roles_trusting(self, arns: tuple[str, ...], account: str) -> list[IamRole]:
        """The roles whose trust policy names one of ``arns``, ``account`` (id or root) or everyone, in order."""
        keys = (*arns, "*", account, f"arn:aws:iam::{account}:root")
        numbers = sorted({n for key in keys for n in self.trusting.get(key, ())})
        return [self.roles[n] for n in numbers]

    @cached_property
    def customer_policies(self) -> list[IamPolicy]:
        return [p for p in self.model.snapshot.table("iam_policies") if p.kind == "managed" and p.account_id]

    def role_effective(self, role: IamRole) -> Effective:
        return self.model.iam_role(role)

    def where(self, account_id: str) -> str:
        name = self.account_names.get(account_id)
        return f"{name} ({account_id})" if name else account_id

    def is_break_glass(self, name: str) -> bool:
        return any(p in name.lower() for p in self.break_glass)

    # --- subjects --------------------------------------------------------------------

    def user_subject(self, user: IamUser) -> Subject:
        groups = tuple(
            g.arn for (acct, name), g in self.model.groups.items() if acct == user.account_id and name in user.groups
        )
        held = set(user.attached_policies)
        for (acct, name), group in self.model.groups.items():
            if acct == user.account_id and name in user.groups:
                held.update(group.attached_policies)
        return Subject(
            name=user.user_name,
            account_id=user.account_id,
            effective=self.model.iam_user(user),
            arns=(user.arn,),
            own_policies=frozenset(held),
            groups=groups,
        )

    def role_subject(self, role: IamRole) -> Subject:
        return Subject(
            name=f"role {role.role_name}",
            account_id=role.account_id,
            effective=self.role_effective(role),
            arns=(role.arn,),
            own_policies=frozenset(role.attached_policies),
        )

    def permission_set_subject(self, ps: PermissionSet, account_id: str, via: str = "") -> Subject:
        prefix = f"AWSReservedSSO_{ps.name}_"
        arns = tuple(r.arn for r in self.roles_in.get(account_id, ()) if r.role_name.startswith(prefix))
        return Subject(
            name=f"{via}permission set {ps.name} in {self.where(account_id)}",
            account_id=account_id,
            effective=self.model.permission_set(ps, account_id),
            arns=arns,
        )

    # --- the search ---------------------------------------------------------------------

    def paths(self, subject: Subject) -> dict[str, list[Path]]:
        """Every escalation path of a non-administrator, by method."""
        found: dict[str, list[Path]] = {method: [] for method in METHODS}
        if subject.effective.is_admin:
            return found
        for path in self._policy_versions(subject):
            found[POLICY_VERSION].append(path)
        found[ATTACH_PUT].extend(self._attach_put(subject))
        found[CREDENTIALS].extend(self._credentials(subject))
        found[PASS_ROLE].extend(self._pass_role(subject))
        found[ASSUME_ROLE].extend(self._assume(subject))
        found[IDENTITY_CENTER].extend(self._identity_center(subject))
        return found

    def _policy_versions(self, subject: Subject) -> Iterator[Path]:
        policies = [p for p in self.customer_policies if p.account_id == subject.account_id]
        policies.sort(key=lambda p: p.arn not in subject.own_policies)  # its own policies first
        for action in VERSION_ACTIONS:
            if not subject.effective.allows(action):  # on no resource at all: no target to try
                continue
            for policy in policies:
                grants = subject.effective.allows(action, policy.arn)
                if grants:
                    held = " (a policy it holds)" if policy.arn in subject.own_policies else ""
                    on = f"policy {policy.name}{held}"
                    yield Path(
                        POLICY_VERSION,
                        (subject.name, _step(grants[0], action, on)),
                        target=policy.arn,
                        conditional=all(g.statement.conditional for g in grants),
                    )
                    break

    def _attach_put(self, subject: Subject) -> Iterator[Path]:
        account = subject.account_id
        targets: list[tuple[str, str, str]] = []  # (kind, arn, label)
        targets += [("user", u.arn, f"user {u.user_name}") for u in self.users_in.get(account, ())]
        targets += [("group", g.arn, f"group {g.group_name}") for g in self.groups_in.get(account, ())]
        targets += [
            ("role", r.arn, f"role {r.role_name}")
            for r in self.roles_in.get(account, ())
            if not r.path.startswith(("/aws-reserved/", "/aws-service-role/"))
        ]
        mine = set(subject.arns) | set(subject.groups)
        targets.sort(key=lambda t: t[1] not in mine)
        for kind, actions in ATTACH_ACTIONS.items():
            for action in actions:
                if not subject.effective.allows(action):
                    continue
                for target_kind, arn, label in targets:
                    if target_kind != kind:
                        continue
                    grants = subject.effective.allows(action, arn)
                    if grants:
                        whose = " (itself)" if arn in mine else ""
                        yield Path(
                            ATTACH_PUT,
                            (subject.name, _step(grants[0], action, f"{label}{whose}")),
                            target=arn,
                            conditional=all(g.statement.conditional for g in grants),
                        )
                        break

    def _credentials(self, subject: Subject) -> Iterator[Path]:
        others = [u for u in self.users_in.get(subject.account_id, ()) if u.arn not in subject.arns]
        for action in CREDENTIAL_ACTIONS:
            if not subject.effective.allows(action):
                continue
            for user in others:
                grants = subject.effective.allows(action, user.arn)
                if grants:
                    yield Path(
                        CREDENTIALS,
                        (subject.name, _step(grants[0], action, f"another user, {user.user_name}")),
                        target=user.arn,
                        conditional=all(g.statement.conditional for g in grants),
                    )
                    break

    def _pass_role(self, subject: Subject) -> Iterator[Path]:
        if not subject.effective.allows("iam:PassRole"):
            return
        for role in self.roles_in.get(subject.account_id, ()):
            if not self.role_effective(role).is_admin:
                continue
            services = trusted_services(role)
            creates = [(s, a) for s in services for a in COMPUTE_ACTIONS.get(s, ())]
            if not creates:
                continue
            passes = subject.effective.allows("iam:PassRole", role.arn)
            if not passes:
                continue
            for _service, action in creates:
                runs = subject.effective.allows(action)
                if runs:
                    step = _step(passes[0], "iam:PassRole", f"role {role.role_name} (admin)")
                    yield Path(
                        PASS_ROLE,
                        (subject.name, f"{step} + {action} ({runs[0].path()})"),
                        target=role.arn,
                        conditional=all(g.statement.conditional for g in passes + runs),
                        break_glass=self.is_break_glass(role.role_name),
                    )
                    break

    def _assume(self, subject: Subject) -> Iterator[Path]:
        """Breadth first through trust policies, across accounts, to every administrator role within reach."""
        frontier = [(subject.effective, subject.arns, subject.account_id, (subject.name,), False)]
        seen = set(subject.arns)
        for _ in range(MAX_CHAIN):
            following = []
            for effective, arns, account, steps, conditional in frontier:
                for role in self.roles_trusting(arns, account):
                    if role.arn in seen or role.path.startswith("/aws-service-role/"):
                        continue
                    how = can_assume(effective, arns, account, role)
                    if how is None:
                        continue
                    seen.add(role.arn)
                    target = self.role_effective(role)
                    admin = target.is_admin
                    label = f"role {role.role_name} in {self.where(role.account_id)}" + (" (admin)" if admin else "")
                    chain = (*steps, f"{how[0]} sts:AssumeRole → {label}")
                    cond = conditional or how[1]
                    if admin:
                        yield Path(
                            ASSUME_ROLE,
                            chain,
                            target=role.arn,
                            conditional=cond,
                            break_glass=self.is_break_glass(role.role_name),
                        )
                    else:
                        following.append((target, (role.arn,), role.account_id, chain, cond))
            frontier = following

    def _identity_center(self, subject: Subject) -> Iterator[Path]:
        if subject.account_id not in self.home_accounts:
            return
        for action in IDENTITY_CENTER_ACTIONS:
            grants = subject.effective.allows(action)
            if grants:
                yield Path(
                    IDENTITY_CENTER,
                    (subject.name, _step(grants[0], action, "Identity Center (grants access to any account)")),
                    conditional=all(g.statement.conditional for g in grants),
                )


def trusted_services(role: IamRole) -> list[str]:
    out = []
    for statement in _statements(role.trust_policy):
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        if isinstance(principal, dict):
            out.extend(_list(principal.get("Service")))
    return out


def can_assume(effective: Effective, arns: tuple[str, ...], account: str, role: IamRole) -> tuple[str, bool] | None:
    """How a principal may assume ``role``: (what allows it, conditional), or None.

    A trust policy naming the principal's own ARN is enough in its own
    account; one naming its account (root, the id, or "*") also needs the
    principal's identity policy to allow sts:AssumeRole on the role, and so
    does any crossing of accounts.
    """
    for statement in _statements(role.trust_policy):
        if statement.get("Effect") != "Allow" or not _assume_action(statement.get("Action")):
            continue
        principal = statement.get("Principal")
        named = _list(principal.get("AWS")) if isinstance(principal, dict) else _list(principal)
        trust_conditional = bool(statement.get("Condition"))
        direct = any(arn in arns for arn in named)
        whole_account = any(p in ("*", account, f"arn:aws:iam::{account}:root") for p in named)
        if not (direct or whole_account):
            continue
        grants = effective.allows("sts:AssumeRole", role.arn)
        if grants:
            return f"{grants[0].path()} allows", trust_conditional or all(g.statement.conditional for g in grants)
        if direct and role.account_id == account:
            return "its trust policy allows", trust_conditional
    return None


def _assume_action(action) -> bool:
    return any(resource_matches(str(a).lower(), "sts:assumerole") for a in _list(action))


def _statements(document: dict | None) -> list[dict]:
    if not isinstance(document, dict):
        return []
    return [s for s in _list(document.get("Statement")) if isinstance(s, dict)]


def _list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
