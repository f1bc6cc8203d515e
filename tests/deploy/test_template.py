"""deploy/*.yaml: valid for cfn-lint, the function's schedules and policy, the roles' trust and statements."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.deploy.policies import BLOCKS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
TEMPLATES = sorted(path.name for path in DEPLOY.glob("*.yaml"))  # every template ships lint-clean

cfnlint = pytest.importorskip("cfnlint", reason="cfn-lint is in the test extra: pip install -e '.[test]'")


def template(name: str = "template.yaml") -> dict:
    from cfnlint.decode.cfn_yaml import load

    return load(str(DEPLOY / name))


def statements(items: list) -> list[dict]:
    """Statements as deployed when every optional one is on (``Fn::If`` unwrapped)."""
    return [s["Fn::If"][1] if "Fn::If" in s else s for s in items]


def sids_and_actions(items: list[dict]) -> list[tuple[str, list[str]]]:
    return [(s["Sid"], sorted(s["Action"])) for s in items]


@pytest.mark.parametrize("name", TEMPLATES)
def test_cfn_lint_finds_nothing(name):
    from cfnlint.api import lint_file

    matches = lint_file(DEPLOY / name)
    assert [str(m) for m in matches] == []


def test_the_function_holds_exactly_the_shipped_read_only_statements():
    function = template()["Resources"]["AuditorFunction"]["Properties"]
    (inline,) = [p for p in function["Policies"] if isinstance(p, dict) and "Statement" in p]
    shipped = BLOCKS["collector-readonly"]()
    assert sids_and_actions(statements(inline["Statement"])) == sids_and_actions(shipped)
    assume = inline["Statement"][-1]
    assert assume["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}"}
    resources = {a: s["Resource"] for s in statements(inline["Statement"]) for a in s["Action"]}
    assert resources["s3:GetObject"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${TrailBucket}/*"}
    assert resources["kms:Decrypt"] == {"Ref": "TrailKmsKeyArn"}
    (decrypt,) = [s for s in inline["Statement"] if "Fn::If" in s]
    assert decrypt["Fn::If"][0] == "HasTrailKmsKeyArn"


def test_the_state_url_and_the_audit_key_are_secrets_the_function_alone_reads():
    parameters, function = template()["Parameters"], template()["Resources"]["AuditorFunction"]["Properties"]
    assert "StateUrl" not in parameters and "AUDITOR_STATE_URL" not in function["Environment"]["Variables"]
    variables = function["Environment"]["Variables"]
    secrets = {"AUDITOR_STATE_SECRET_ARN": "StateUrlSecretArn", "AUDITOR_AUDIT_KEY_SECRET_ARN": "AuditKeySecretArn"}
    for variable, parameter in secrets.items():
        assert variables[variable] == {"Fn::If": [f"Has{parameter}", {"Ref": parameter}, {"Ref": "AWS::NoValue"}]}
    statements = [p["Fn::If"][1]["Statement"] for p in function["Policies"] if isinstance(p, dict) and "Fn::If" in p]
    assert statements == [
        [
            {
                "Sid": sid,
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": {"Ref": parameter},
            }
        ]
        for sid, parameter in (("StateUrlSecret", "StateUrlSecretArn"), ("AuditKeySecret", "AuditKeySecretArn"))
    ]


@pytest.mark.parametrize(
    ("name", "role", "block"),
    [
        ("member-roles.yaml", "CollectorRole", "member-collector"),
        ("member-roles.yaml", "RemediationRole", "member-remediation"),
        ("member-roles.yaml", "RollbackRole", "member-rollback"),
        ("management-roles.yaml", "RemediationRole", "remediation"),
        ("management-roles.yaml", "RollbackRole", "rollback"),
    ],
)
def test_each_role_holds_its_statements_and_trusts_one_principal_with_the_external_id(name, role, block):
    properties = template(name)["Resources"][role]["Properties"]
    (policy,) = properties["Policies"]
    assert sids_and_actions(policy["PolicyDocument"]["Statement"]) == sids_and_actions(BLOCKS[block]())
    (trust,) = properties["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}}
    principal = trust["Principal"]["AWS"]
    if name == "member-roles.yaml" and role != "CollectorRole":  # only the namesake in the auditor's account
        assert principal == {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AuditorAccountId}}:role/${{{role}Name}}"}
    else:
        assert "Ref" in principal and principal["Ref"].endswith("PrincipalArns")


def test_member_role_names_default_to_the_products_defaults():
    from auditor.config import SCHEMA

    parameters = template("member-roles.yaml")["Parameters"]
    assert [parameters[f"{kind}RoleName"]["Default"] for kind in ("Collector", "Remediation", "Rollback")] == [
        SCHEMA["aws"][key].default for key in ("member_role_name", "remediation_role_name", "rollback_role_name")
    ]
    assert template()["Parameters"]["MemberRoleName"]["Default"] == SCHEMA["aws"]["member_role_name"].default


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


def test_the_nightly_run_is_the_function_or_the_workflow_never_both():
    resources = template()["Resources"]
    function = resources["AuditorFunction"]["Properties"]["Events"]["Nightly"]["Properties"]
    workflow = resources["NightlyWorkflow"]["Properties"]["Events"]["Nightly"]["Properties"]
    assert function["State"] == {"Fn::If": ["UseStepFunctions", "DISABLED", "ENABLED"]}
    assert workflow["State"] == {"Fn::If": ["UseStepFunctions", "ENABLED", "DISABLED"]}
    assert workflow["ScheduleExpression"] == function["ScheduleExpression"] == {"Ref": "NightlySchedule"}
    assert template()["Parameters"]["NightlyOrchestration"]["Default"] == "function"


def test_the_workflow_fans_out_iam_per_account_and_its_function_holds_the_collector_and_athena_statements():
    resources = template()["Resources"]
    states = resources["NightlyWorkflow"]["Properties"]["Definition"]["States"]
    (iam_branch,) = [b for b in states["Collect"]["Branches"] if b["StartAt"] == "CollectIamPerAccount"]
    fan_out = iam_branch["States"]["CollectIamPerAccount"]
    assert fan_out["Type"] == "Map" and fan_out["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    function = resources["WorkflowFunction"]["Properties"]
    assert function["Handler"] == "auditor.deploy.stepfunctions.handler"
    inline = [p for p in function["Policies"] if isinstance(p, dict) and "Statement" in p]
    assert [sids_and_actions(statements(p["Statement"])) for p in inline] == [
        sids_and_actions(BLOCKS["collector-readonly"]()),
        sids_and_actions(BLOCKS["collector-athena"]()),
    ]
    resource = {a: s["Resource"] for s in statements(inline[1]["Statement"]) for a in s["Action"]}
    assert resource["s3:PutObject"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${AthenaResultsBucket}/*"}
    assert resource["glue:CreateTable"][-1] == {
        "Fn::Sub": "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:table/${AthenaDatabase}/${AthenaTable}"
    }
    variables = function["Environment"]["Variables"]
    assert variables["AUDITOR_ATHENA_OUTPUT"] == {"Fn::Sub": "s3://${AthenaResultsBucket}/athena/"}
