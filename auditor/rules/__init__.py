"""The rule catalogue. Importing this package registers every rule, explicitly."""

from auditor.rules import iam, identity_center  # noqa: F401  (registration by import)
from auditor.rules.context import RuleContext
from auditor.rules.registry import RULES, Rule, rule

__all__ = ["RULES", "Rule", "RuleContext", "rule"]
