"""deploy/template.yaml: valid for cfn-lint, its schedules name configured job kinds, its policy is the shipped one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.deploy.policies import collector_policy

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "template.yaml"

cfnlint = pytest.importorskip("cfnlint", reason="cfn-lint is in the test extra: pip install -e '.[test]'")


def template() -> dict:
    from cfnlint.decode.cfn_yaml import load

    return load(str(TEMPLATE))


def test_cfn_lint_finds_nothing():
    from cfnlint.api import lint_file

    matches = lint_file(TEMPLATE)
    assert [str(m) for m in matches] == []


def test_the_function_holds_exactly_the_shipped_read_only_statements():
    function = template()["Resources"]["AuditorFunction"]["Properties"]
    (inline,) = [p for p in function["Policies"] if isinstance(p, dict) and "Statement" in p]
    shipped = collector_policy()["Statement"]
    assert [(s["Sid"], sorted(s["Action"])) for s in inline["Statement"]] == [
        (s["Sid"], sorted(s["Action"])) for s in shipped
    ]
    assume = inline["Statement"][-1]
    assert assume["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}"}
    assert all(s["Resource"] == "*" for s in inline["Statement"][:-1])


def test_each_schedule_sends_a_job_id_and_runs_one_at_a_time():
    function = template()["Resources"]["AuditorFunction"]["Properties"]
    jobs = {name: json.loads(event["Properties"]["Input"])["job"] for name, event in function["Events"].items()}
    assert jobs == {
        "Nightly": "nightly",
        "Quarterly": "quarterly-review",
        "Reminders": "reminders",
        "CloseDue": "close-due",
    }
    assert all(
        e["Type"] == "ScheduleV2" and "ScheduleExpressionTimezone" in e["Properties"]
        for e in function["Events"].values()
    )
    assert function["ReservedConcurrentExecutions"] == 1
    assert function["Handler"] == "auditor.deploy.lambda_handler.handler"
