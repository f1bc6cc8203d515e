"""The IAM policies the auditor needs, generated from what its code declares; shipped in deploy/policies/.

- ``collector-readonly.json``: the union of the permissions every
  registered collector declares (``auditor.collect.COLLECTORS``, the
  pipeline's own list; read-only), for the management (or delegated
  administrator) account and, through the member role, member accounts;
  assuming that role is allowed for the role's name only.
- ``remediation.json``: the union of every remediation action's declared
  permissions (``auditor.remediate.policy``), kept separate so collection
  never carries write access.

The read-only statements are also written into the Lambda function's
policy in ``deploy/template.yaml`` (between its BEGIN/END markers), next to
the policy directory:

    python -m auditor.deploy.policies deploy/policies           # write them
    python -m auditor.deploy.policies deploy/policies --check   # exit 1 when they drifted
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from auditor.aws import DEFAULT_MEMBER_ROLE
from auditor.collect import collector_permissions
from auditor.remediate.policy import remediation_policy

SIDS = {
    "cloudtrail": "CloudTrailDiscovery",
    "iam": "IamReadOnly",
    "identitystore": "IdentityStoreReadOnly",
    "organizations": "OrganizationsReadOnly",
    "s3": "TrailBucketReadOnly",
    "sso": "IdentityCenterReadOnly",
    "sts": "CallerIdentity",
}
FILES = ("collector-readonly.json", "remediation.json")
TEMPLATE = "template.yaml"  # beside the policy directory
BEGIN, END = "# BEGIN collector-readonly", "# END collector-readonly"
INDENT = " " * 12


def collector_policy(member_role_name: str = DEFAULT_MEMBER_ROLE) -> dict:
    """Read-only: every collector permission on any resource, and AssumeRole into the member role only."""
    by_service: dict[str, list[str]] = defaultdict(list)
    for permission in collector_permissions():
        if permission != "sts:AssumeRole":
            by_service[permission.split(":", 1)[0]].append(permission)
    statements = [
        {"Sid": SIDS.get(service, service.title()), "Effect": "Allow", "Action": actions, "Resource": "*"}
        for service, actions in sorted(by_service.items())
    ]
    if "sts:AssumeRole" in collector_permissions():
        statements.append(
            {
                "Sid": "AssumeMemberRole",
                "Effect": "Allow",
                "Action": ["sts:AssumeRole"],
                "Resource": f"arn:aws:iam::*:role/{member_role_name}",
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def policies(member_role_name: str = DEFAULT_MEMBER_ROLE) -> dict[str, dict]:
    return {
        "collector-readonly.json": collector_policy(member_role_name),
        "remediation.json": remediation_policy(member_role_name),
    }


def render(policy: dict) -> str:
    return json.dumps(policy, indent=2) + "\n"


def allowed_actions(policy: dict) -> set[str]:
    """Every action a policy document allows (its Allow statements)."""
    actions: set[str] = set()
    for statement in policy["Statement"]:
        if statement["Effect"] == "Allow":
            value = statement["Action"]
            actions.update([value] if isinstance(value, str) else value)
    return actions


def template_statements() -> str:
    """The read-only statements as the template's YAML, the member role name a template parameter."""
    lines = []
    for statement in collector_policy()["Statement"]:
        lines += [f"- Sid: {statement['Sid']}", "  Effect: Allow", "  Action:"]
        lines += [f"    - {action}" for action in statement["Action"]]
        if statement["Sid"] == "AssumeMemberRole":
            lines.append("  Resource: !Sub arn:${AWS::Partition}:iam::*:role/${MemberRoleName}")
        else:
            lines.append(f"  Resource: {json.dumps(statement['Resource'])}")
    return "".join(f"{INDENT}{line}\n" for line in lines)


def with_statements(template: str) -> str:
    """The template text with its generated block replaced by the current statements."""
    start, end = template.index(BEGIN), template.index(END)
    head = template[: template.index("\n", start) + 1]
    return head + template_statements() + template[template.rindex("\n", 0, end) + 1 :]


def write(directory: Path, member_role_name: str = DEFAULT_MEMBER_ROLE) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, policy in policies(member_role_name).items():
        path = directory / name
        path.write_text(render(policy), encoding="utf-8")
        written.append(path)
    template = directory.parent / TEMPLATE
    if template.is_file() and BEGIN in template.read_text(encoding="utf-8"):
        template.write_text(with_statements(template.read_text(encoding="utf-8")), encoding="utf-8")
        written.append(template)
    return written


def drift(directory: Path, member_role_name: str = DEFAULT_MEMBER_ROLE) -> list[str]:
    """The shipped files that differ from what the code declares now."""
    stale = [
        name
        for name, policy in policies(member_role_name).items()
        if not (directory / name).is_file() or (directory / name).read_text(encoding="utf-8") != render(policy)
    ]
    template = directory.parent / TEMPLATE
    if template.is_file():
        text = template.read_text(encoding="utf-8")
        if BEGIN in text and with_statements(text) != text:
            stale.append(f"../{TEMPLATE}")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m auditor.deploy.policies", description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help="where the policy files live (deploy/policies)")
    parser.add_argument("--member-role-name", default=DEFAULT_MEMBER_ROLE)
    parser.add_argument("--check", action="store_true", help="exit 1 if the files differ from the declared permissions")
    args = parser.parse_args(argv)
    if args.check:
        stale = drift(args.directory, args.member_role_name)
        for name in stale:
            print(f"{args.directory / name}: differs from the declared permissions; regenerate it", file=sys.stderr)
        return 1 if stale else 0
    for path in write(args.directory, args.member_role_name):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
