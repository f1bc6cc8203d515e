"""Which CloudTrail logs a run reads: the facts the enabled rules need, each from its cheapest source.

A fact is a kind of activity the reducer produces (``auditor.model.ActivityKind``).
Where AWS records it decides what must be read (docs/CLOUDTRAIL.md gives the
AWS documentation behind each line):

- ``idc_user`` (a person signed in, or used the access portal or CLI) and
  ``idc_assignment`` (a person used a permission set in an account): the
  Identity Center home account's logs, in the instance's region only.
  Sign-in (``signin``) and portal (``sso``, ``sso-oauth``) events are
  recorded there, and every use of an assignment, from the console or the
  CLI, starts with the portal's ``GetRoleCredentials`` naming the account
  and permission set. The sessions in the member accounts add detail
  (the last call of a session) but no use the home account misses.
- ``iam_user``, ``access_key``, ``root``, ``iam_role``: the member accounts'
  own logs, in every region (an IAM user's console sign-in can land in any
  region). IAM's own records (credential report, key last used,
  RoleLastUsed) are the cheaper source for these: rules read them first and
  need CloudTrail only where a rule says it cannot decide without it.

``read = "needed"`` reads only what the enabled rules declare they need
(``@rule(trail=...)``); ``"all"`` reads every account in every region.
Each account's status says which facts its read vouches for (``detail.facts``),
so a rule evaluated later against facts that were not read says insufficient
evidence rather than "not used".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from auditor.model import ActivityKind

FACTS = tuple(kind.value for kind in ActivityKind)
HOME_FACTS = frozenset({ActivityKind.IDC_USER.value, ActivityKind.IDC_ASSIGNMENT.value})
# recorded in the account where the principal acts; idc_assignment also in the target account's sessions
ACCOUNT_FACTS = frozenset(FACTS) - {ActivityKind.IDC_USER.value}
READ_MODES = ("needed", "all")
# where the home-account facts are recorded: sign-in, the access portal, and the CLI's OIDC device flow
HOME_EVENT_SOURCES = ("signin.amazonaws.com", "sso.amazonaws.com", "sso-oauth.amazonaws.com")


@dataclass(frozen=True)
class ReadPlan:
    """The accounts and regions a run reads, and the facts each account's read vouches for."""

    mode: str  # needed | all
    facts: frozenset[str]  # what the enabled rules need
    home_account: str | None  # where Identity Center records sign-ins and portal use
    home_region: str | None  # the Identity Center instance's region

    @property
    def every_account(self) -> bool:
        """Whether every account is read in every region."""
        return self.mode == "all" or self.home_account is None or bool(self.facts - HOME_FACTS)

    def reads(self, account_id: str) -> bool:
        return self.every_account or (bool(self.facts) and account_id == self.home_account)

    def regions(self, account_id: str) -> frozenset[str] | None:
        """The regions to list for the account (None: every region)."""
        if self.every_account or self.home_region is None:
            return None
        return frozenset({self.home_region}) if account_id == self.home_account else frozenset()

    def event_sources(self, account_id: str) -> tuple[str, ...] | None:
        """The event sources whose records the account's read needs (None: all of them).

        A log object holds every source's records, so the S3 reader reads it
        whole; an engine that filters records (a query) can select these.
        """
        if not self.reads(account_id):
            return ()
        return HOME_EVENT_SOURCES if self.regions(account_id) is not None else None

    def vouches(self, account_id: str) -> list[str]:
        """The facts the account's read covers: what it records, where it is read."""
        if not self.reads(account_id):
            return []
        if self.regions(account_id) is not None:  # the home account, in the instance's region only
            return sorted(HOME_FACTS)
        return sorted(FACTS if account_id == self.home_account else ACCOUNT_FACTS)

    def detail(self, account_id: str) -> dict:
        return {"mode": self.mode, "facts": self.vouches(account_id)}


def plan_reads(needed: Iterable[str], *, mode: str, home_account: str | None, home_region: str | None) -> ReadPlan:
    """The plan for rules needing the facts ``needed`` (``read = mode`` in [cloudtrail])."""
    if mode not in READ_MODES:
        raise ValueError(f"[cloudtrail] read must be one of {', '.join(READ_MODES)}, not {mode!r}")
    facts = frozenset(needed)
    unknown = facts - set(FACTS)
    if unknown:
        raise ValueError(f"unknown CloudTrail facts {sorted(unknown)} (known: {', '.join(FACTS)})")
    return ReadPlan(mode=mode, facts=facts, home_account=home_account, home_region=home_region)


def vouched(detail: dict, fact: str | None) -> bool:
    """Whether a status ``detail`` vouches for ``fact`` (None: every fact its account records).

    A status written before reads were planned, or by an "all" read, has no
    ``read.facts`` and vouches for everything it read.
    """
    facts = (detail.get("read") or {}).get("facts")
    if facts is None:
        return True
    if fact is None:
        return set(facts) >= ACCOUNT_FACTS
    return fact in facts
