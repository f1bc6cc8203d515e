"""The action registry: each action declares everything needed to change one access safely.

An action does one change and knows its exact inverse. It declares the AWS
permissions it needs (their union is the remediation IAM policy), how to
read the target's state (the pre-state a plan records, the drift check
before a change and the proof after it), which state keys define "the same
access" (what a rollback restores) and which show that the target drifted. Actions never decide whether to run: the executor does, in
one place, and dry-run lives there.

Definitions live in ``idc_actions`` and ``iam_actions`` and register here
with ``register``; the package imports both, so ``ACTIONS`` is complete as
soon as anything in ``auditor.remediate`` is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import botocore.exceptions

from auditor.aws import error_code
from auditor.remediate.clients import Clients

State = dict  # JSON-safe facts about one target, read from AWS
Target = dict[str, str]


@dataclass(frozen=True)
class Action:
    kind: str  # a RevocationKind value
    verb: str  # what the change does, for people: "deactivate access key"
    target_keys: tuple[str, ...]  # what a revocation's target must name
    permissions: tuple[str, ...]  # IAM actions for read, apply, verify and inverse
    read: Callable[[Clients, Target], State]
    revoked: Callable[[State], bool]  # the revocation is in effect in this state
    apply: Callable[[Clients, Target, State], dict]  # makes the change; returns what AWS answered
    inverse: Callable[[Clients, Target, State], dict]  # restores the given pre-state
    compare: tuple[str, ...]  # state keys that define "the same access" (a rollback restores these)
    describe: Callable[[Target], str]
    names: Callable[[Clients, Target], list[str]]  # live names of what it touches (protection)
    subject: Callable[[Target], tuple[str, str]]  # the principal changed, for the circuit breaker
    rollback_note: str | None = None  # what rollback cannot restore exactly
    # keys that must still hold what the plan recorded, or the target drifted (default: ``compare``);
    # e.g. a membership deleted and created again after the review has a new id
    drift_keys: tuple[str, ...] = ()
    # the change writes a policy, so both directions may grant: never planned from revocations, and applied,
    # verified and rolled back through a role of its own ([aws] rightsize_role_name), never the apply role
    grants: bool = False

    def same(self, a: State, b: State) -> bool:
        """The same access (what a rollback must restore)."""
        return all(a.get(key) == b.get(key) for key in self.compare)

    def unchanged(self, current: State, planned: State) -> bool:
        """Nothing moved since the plan read ``planned`` (otherwise the target drifted)."""
        return all(current.get(key) == planned.get(key) for key in self.drift_keys or self.compare)

    def missing_keys(self, target: Target) -> list[str]:
        return [key for key in self.target_keys if not target.get(key)]


ACTIONS: dict[str, Action] = {}


def register(action: Action) -> Action:
    if action.kind in ACTIONS:
        raise ValueError(f"remediation action {action.kind!r} registered twice")
    if not action.permissions:
        raise ValueError(f"remediation action {action.kind!r} declares no permissions")
    ACTIONS[action.kind] = action
    return action


def not_found(exc: BaseException, *codes: str) -> bool:
    """An AWS error meaning the thing is not there (so a read reports its absence)."""
    return isinstance(exc, botocore.exceptions.ClientError) and error_code(exc) in codes
