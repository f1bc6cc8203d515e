"""Turn the plan's activity into CloudTrail records, per recipient account.

Identity Center sign-ins and portal calls land in the management account;
the permission-set sessions they open land in the target account; IAM
users, workload roles and root act in their own account. Nothing is
recorded after as-of.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta

from auditor.sandbox.build import Built, saml_provider
from auditor.sandbox.events import BROWSERS, CLI_AGENTS, Events, IamUserRef, IdcIdentity, RoleRef
from auditor.sandbox.fills.sso_admin import reserved_role_name
from auditor.sandbox.plan import IamUserPlan, IdcUserPlan, RolePlan, World

SERVICE_SESSION = {
    "lambda.amazonaws.com": "function",
    "ecs-tasks.amazonaws.com": "task",
    "glue.amazonaws.com": "GlueJobRunnerSession",
}


class Activity:
    def __init__(self, world: World, built: Built) -> None:
        self.world, self.built = world, built
        self.rng = random.Random(f"auditor-sandbox-activity:{world.size}:{world.seed}")
        self.events = Events(self.rng, built.management_id, world.region, built.identity_store_id)
        self.records: dict[str, list[dict]] = defaultdict(list)
        self.provider = saml_provider(built)

    def emit(self, account_id: str, records: list[dict]) -> None:
        self.records[account_id].extend(records)

    def ip(self) -> str:
        return f"{self.rng.choice(('203.0.113', '198.51.100', '192.0.2'))}.{self.rng.randrange(1, 255)}"

    def role_ref(self, account_id: str, name: str) -> RoleRef:
        role = self.built.roles[(account_id, name)]
        return RoleRef(account_id, name, role["RoleId"], role["Arn"])

    # --- Identity Center users ---------------------------------------------------------------

    def idc_user(self, user: IdcUserPlan) -> None:
        identity = IdcIdentity(
            user.user_name, self.built.user_ids[user.user_name], self.ip(), self.rng.choice(BROWSERS)
        )
        management = self.built.management_id
        for session in user.sessions:
            start = session.start
            self.emit(management, self.events.idc_sign_in(identity, start, failed_first=self.rng.random() < 0.04))
            if self.rng.random() < 0.1:
                self.emit(management, [self.events.sso_authenticate(identity, start + timedelta(seconds=20))])
            if not session.targets:
                self.emit(management, self.events.portal(identity, start + timedelta(seconds=30), None, None))
            for number, (account_key, permission_set) in enumerate(session.targets):
                self.permission_set_use(identity, start + timedelta(minutes=3 * number), account_key, permission_set)

    def permission_set_use(self, identity: IdcIdentity, start: datetime, account_key: str, permission_set: str) -> None:
        """Portal calls in the management account, then the SAML session and its calls in the target account."""
        account_id = self.built.account_ids[account_key]
        self.emit(
            self.built.management_id,
            self.events.portal(identity, start + timedelta(seconds=30), account_id, permission_set),
        )
        arn = self.built.permission_set_arns[permission_set]
        role = self.role_ref(account_id, reserved_role_name(permission_set, arn, account_id))
        assumed = start + timedelta(seconds=42)
        record, session_identity = self.events.saml_session(identity, assumed, role, self.provider)
        self.emit(account_id, [record])
        if self.rng.random() < 0.4:
            login = self.events.federated_console_login(
                session_identity, assumed + timedelta(seconds=3), identity.agent, identity.ip
            )
            self.emit(account_id, [login])
        catalogue = self.world.permission_set(permission_set).calls
        self.emit(
            account_id,
            self.events.calls(
                session_identity,
                account_id,
                assumed + timedelta(seconds=30),
                catalogue,
                self.rng.randint(2, 7),
                identity.agent,
                identity.ip,
            ),
        )

    # --- IAM users ---------------------------------------------------------------------------

    def iam_user(self, user: IamUserPlan) -> None:
        account_id = self.built.account_ids[user.account_key]
        created = self.built.iam_users[(account_id, user.name)]
        ref = IamUserRef(
            account_id,
            user.name,
            created["UserId"],
            created["Arn"],
            self.ip(),
            self.built.mfa_serials.get((account_id, user.name)),
        )
        browser = self.rng.choice(BROWSERS)
        for login in user.console_logins:
            self.emit(account_id, [self.events.iam_console_login(ref, login, browser)])
            identity = self.events.iam_identity(ref, self.events.temporary_key(), login, mfa=user.mfa)
            self.emit(
                account_id,
                self.events.calls(
                    identity,
                    account_id,
                    login + timedelta(seconds=20),
                    "console",
                    self.rng.randint(1, 4),
                    "AWS Internal",
                    ref.ip,
                    console=True,
                ),
            )
        agent = self.rng.choice(CLI_AGENTS)
        for key in user.keys:
            identity = self.events.iam_identity(ref, key.key_id)
            for use in key.uses:
                self.emit(
                    account_id,
                    self.events.calls(
                        identity,
                        account_id,
                        use,
                        user.calls,
                        self.rng.randint(1, 3),
                        agent.format(command=user.calls),
                        ref.ip,
                    ),
                )

    # --- workload roles and root -----------------------------------------------------------------

    def role(self, role: RolePlan) -> None:
        account_id = self.built.account_ids[role.account_key]
        ref = self.role_ref(account_id, role.name)
        for number, moment in enumerate(role.sessions, start=1):
            if role.trust_service:
                kind = SERVICE_SESSION[role.trust_service]
                session = {"function": role.name, "task": f"{self.rng.getrandbits(128):032x}"}.get(kind, kind)
                record, identity = self.events.service_assume_role(ref, moment, role.trust_service, session)
                agent, ip = role.trust_service, role.trust_service
            else:
                agent, ip = self.rng.choice(CLI_AGENTS).format(command=role.calls), self.ip()
                record, identity = self.events.cross_account_assume_role(
                    ref, moment, self.built.management_id, f"{role.session_prefix}-{number:05d}", agent, ip
                )
            self.emit(account_id, [record])
            self.emit(
                account_id,
                self.events.calls(
                    identity, account_id, moment + timedelta(seconds=2), role.calls, self.rng.randint(2, 5), agent, ip
                ),
            )

    def root(self, account_key: str, logins: list[datetime]) -> None:
        account_id = self.built.account_ids[account_key]
        for login in logins:
            self.emit(
                account_id, self.events.root_console_login(account_id, login, self.ip(), self.rng.choice(BROWSERS))
            )


def generate(world: World, built: Built) -> dict[str, list[dict]]:
    """Every account's records in [trail start, as-of]."""
    activity = Activity(world, built)
    for user in world.idc_users:
        activity.idc_user(user)
    for iam_user in world.iam_users:
        activity.iam_user(iam_user)
    for role in world.roles:
        activity.role(role)
    for account_key, root in world.roots.items():
        activity.root(account_key, root.logins)
    start, end = world.trail_start.strftime("%Y-%m-%dT%H:%M:%SZ"), world.as_of.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        account: [r for r in records if start <= r["eventTime"] <= end] for account, records in activity.records.items()
    }
