"""Safe remediation: plan -> apply -> verify -> rollback, with every change journaled.

Importing the package registers every action (``idc_actions``, ``iam_actions``, ``rightsize_actions``).
"""

from auditor.remediate import iam_actions, idc_actions, rightsize_actions  # noqa: F401 - they register the actions
from auditor.remediate.actions import ACTIONS, Action
from auditor.remediate.clients import Clients, Waiter
from auditor.remediate.errors import ActionFailed, PlanError, Refused, RemediationError
from auditor.remediate.executor import RunResult, apply_plan, rollback_run
from auditor.remediate.plan import Plan, build_plan, load_plan, save_plan
from auditor.remediate.population import Population
from auditor.remediate.registry import RecordedPlan, record_plan, recorded_plan
from auditor.remediate.verify import Verification, verify_run

__all__ = [
    "ACTIONS",
    "Action",
    "ActionFailed",
    "Clients",
    "Plan",
    "PlanError",
    "Population",
    "RecordedPlan",
    "Refused",
    "RemediationError",
    "RunResult",
    "Verification",
    "Waiter",
    "apply_plan",
    "build_plan",
    "load_plan",
    "record_plan",
    "recorded_plan",
    "rollback_run",
    "save_plan",
    "verify_run",
]
