"""The task registry: each job kind and the function that does it (an explicit dict, no discovery)."""

from __future__ import annotations

from auditor.schedule.campaigns import close_due, create_quarterly, remind_open
from auditor.schedule.context import Task
from auditor.schedule.jobs import KINDS
from auditor.schedule.nightly import run_nightly
from auditor.schedule.retention import apply_retention

TASKS: dict[str, Task] = {
    "run": run_nightly,
    "campaign": create_quarterly,
    "remind": remind_open,
    "close": close_due,
    "retention": apply_retention,
}
if set(TASKS) != set(KINDS):  # a kind that can be configured must have a task, and the reverse
    raise RuntimeError(f"job kinds {sorted(KINDS)} and tasks {sorted(TASKS)} disagree")
