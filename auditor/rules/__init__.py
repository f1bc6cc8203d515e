"""The rule catalogue. Importing this package registers every rule, explicitly."""

from auditor.rules import (  # noqa: F401  (registration by import)
    anomalies,
    assignments,
    emergency,
    escalation,
    hygiene,
    iam,
    iam_owner,
    iam_permissions,
    identity_center,
    lifecycle,
    root,
)
from auditor.rules.context import RuleContext
from auditor.rules.registry import RULES, Rule, rule

__all__ = ["RULES", "Rule", "RuleContext", "rule"]
