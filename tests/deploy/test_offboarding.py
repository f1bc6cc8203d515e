"""deploy/offboarding.yaml (linted with the others in test_template.py): its state machine and rules agree with the library they call."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.deploy.offboarding import STEPS
from auditor.events.model import CHANGES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"

cfnlint = pytest.importorskip("cfnlint", reason="cfn-lint is in the test extra: pip install -e '.[test]'")


def template() -> dict:
    from cfnlint.decode.cfn_yaml import load

    return load(str(DEPLOY / "offboarding.yaml"))


def states(machine: dict):
    for name, state in machine["States"].items():
        yield name, state, machine
        for branch in state.get("Branches", []):
            yield from states(branch)


def test_every_task_is_a_step_the_handler_runs_and_every_transition_lands():
    machine = template()["Resources"]["OffboardingStateMachine"]["Properties"]["Definition"]
    steps = []
    for name, state, owner in states(machine):
        for target in [state.get("Next"), state.get("Default"), *(c["Next"] for c in state.get("Choices", []))]:
            assert target is None or target in owner["States"], f"{name} -> {target}"
        if state["Type"] == "Task":
            assert state["Parameters"]["FunctionName"] == "${StepFunctionArn}"
            steps.append(state["Parameters"]["Payload"]["step"])
    assert set(steps) == set(STEPS)
    (wait,) = [s for _, s, _ in states(machine) if s.get("Resource", "").endswith(".waitForTaskToken")]
    assert wait["Parameters"]["Payload"] == {
        "step": "request_approval",
        "event_id.$": "$.event_id",
        "task_token.$": "$$.Task.Token",
    }
    assert [c["ErrorEquals"] for c in wait["Catch"]] == [["Denied", "States.Timeout"]]


def test_the_cloudtrail_rule_sends_exactly_the_calls_the_library_follows():
    pattern = template()["Resources"]["AccessGrantedRule"]["Properties"]["EventPattern"]
    assert sorted(pattern["detail"]["eventSource"]) == sorted(CHANGES)
    assert sorted(pattern["detail"]["eventName"]) == sorted({n for names in CHANGES.values() for n in names})


def test_leavers_start_the_state_machine_and_other_hr_events_the_function():
    resources = template()["Resources"]
    leaver = resources["OffboardingStateMachine"]["Properties"]["Events"]["Leaver"]["Properties"]["Pattern"]
    others = resources["OtherHrEventsRule"]["Properties"]["EventPattern"]
    assert leaver["detail"] == {"type": ["leaver"]} and others["detail"] == {"type": [{"anything-but": "leaver"}]}
    assert leaver["source"] == others["source"] == [{"Ref": "HrEventSource"}]


def test_the_functions_may_make_every_call_of_a_targeted_check():
    from auditor.events.person import PERMISSIONS

    in_management = {p for p in PERMISSIONS if not p.startswith("iam:")}
    for function in ("EventFunction", "StepFunction"):
        policies = template()["Resources"][function]["Properties"]["Policies"]
        statements = [s for p in policies if isinstance(p, dict) and "Statement" in p for s in p["Statement"]]
        (read,) = [s for s in statements if s["Sid"] == "TargetedCheckReadOnly"]
        assert in_management <= set(read["Action"]), in_management - set(read["Action"])
