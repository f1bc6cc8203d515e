"""The IAM policies the auditor needs, generated from what its code declares; shipped in deploy/.

Three identities, each allowed exactly what its part of the code declares
(and a fourth policy for the Athena engine):

- the collector (``collector-readonly.json``): the union of every
  registered collector's permissions (``auditor.collect.COLLECTORS``),
  read-only, for the management (or delegated administrator) account, and
  AssumeRole into the member collector role only;
- the remediation role (``remediation.json``): what ``remediate
  plan|apply|verify`` calls; it revokes and never re-grants;
- the rollback role (``rollback.json``): what ``remediate rollback``
  calls; it re-grants what a run revoked (``iam:AttachUserPolicy`` only for
  the policies ``ReattachPolicyArns`` lists) and never revokes;
- the right-sizing role (``rightsize.json``): what every step of a
  right-sizing plan calls (``remediate plan --rightsize``, its apply,
  verify and rollback); it writes permission sets' inline policies, in
  Identity Center only, so neither of the two others holds it;
- the Athena engine (``collector-athena.json``, for ``[cloudtrail] engine =
  "athena"``): the Athena calls ``auditor.collect.cloudtrail_athena``
  declares, in one workgroup, and what Athena checks as the caller (the
  table in Glue, read and created once; the trail bucket, read; the
  results bucket, written). It holds the policy's only writes, to the
  results bucket and the one table, so it is apart from the read-only one.

Which permission goes to which remediation role, and on which resources
every action is granted, is in ``auditor.deploy.scopes``. The member
accounts' roles hold the IAM part of each (``deploy/member-roles.yaml``),
the management account's remediation and rollback roles the whole
(``deploy/management-roles.yaml``), the Lambda function the collector's
(``deploy/template.yaml``): each template holds its statements between
``# BEGIN <name>`` / ``# END <name>`` markers, written with the policies.

ARNs name template parameters (``${TrailBucket}``, ``${IdentityStoreId}``,
``${IdentityCenterInstanceId}``, ...). The JSON files keep them as
parameters unless given values:

    python -m auditor.deploy.policies deploy/policies           # write the files and the template blocks
    python -m auditor.deploy.policies deploy/policies --check   # exit 1 when they drifted
    python -m auditor.deploy.policies out/ --set TrailBucket=org-trail --set IdentityStoreId=d-1234567890 \\
        --set IdentityCenterInstanceId=ssoins-1234567890abcdef   # concrete policies to attach by hand
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from auditor.collect import collector_permissions
from auditor.collect.cloudtrail_athena import PERMISSIONS as ATHENA_PERMISSIONS
from auditor.config import SCHEMA
from auditor.deploy import scopes
from auditor.events.person import PERMISSIONS as CHECK_PERMISSIONS  # `auditor check` and HR events
from auditor.remediate.policy import required_permissions

SIDS = {
    "cloudtrail": "CloudTrailDiscovery",
    "iam": "IamReadOnly",
    "identitystore": "IdentityStoreReadOnly",
    "kms": "TrailKeyDecrypt",
    "organizations": "OrganizationsReadOnly",
    "s3": "TrailBucketReadOnly",
    "sso": "IdentityCenterReadOnly",
    "sts": "CallerIdentity",
}
REMEDIATION_SIDS = {"iam": "IamUserCredentials", "identitystore": "IdentityStore", "sso": "IdentityCenterAssignments"}
RIGHTSIZE_SIDS = {"sso": "PermissionSetInlinePolicy"}
OWN_SIDS = {"iam:AttachUserPolicy": "IamReattachListedPolicies"}  # a condition of its own: a statement of its own
TEMPLATES = ("template.yaml", "member-roles.yaml", "management-roles.yaml")  # beside the policy directory
INDENT = " " * 12
_AWS = SCHEMA["aws"]
DEFAULTS: dict[str, str] = {
    "AWS::Partition": "aws",
    "MemberRoleName": _AWS["member_role_name"].default,
    "RemediationRoleName": _AWS["remediation_role_name"].default,
    "RollbackRoleName": _AWS["rollback_role_name"].default,
    "RightsizeRoleName": _AWS["rightsize_role_name"].default,
    "AthenaWorkGroup": SCHEMA["cloudtrail"]["athena"].fields["workgroup"].default,
    "AthenaDatabase": SCHEMA["cloudtrail"]["athena"].fields["database"].default,
    "AthenaTable": SCHEMA["cloudtrail"]["athena"].fields["table"].default,
}
LIST_PARAMETERS = {"ReattachPolicyArns": scopes.REATTACH_DEFAULT}
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9:]+)\}")
WHEN = "When"  # internal key: the statement exists only when this parameter is given


def statements(permissions: Iterable[str], sids: Mapping[str, str]) -> list[dict]:
    """One statement per (service, resource set), scoped as ``scopes`` says; sorted, so the output is stable."""
    groups: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for permission in sorted(set(permissions)):
        service = permission.split(":", 1)[0]
        groups[(service, scopes.RESOURCES.get(permission, ""), OWN_SIDS.get(permission, ""))].append(permission)
    out = []
    for (service, set_name, own_sid), actions in sorted(groups.items()):
        resources = scopes.SETS[set_name]
        statement = {
            "Sid": own_sid or sids.get(service, service.title()) + set_name,
            "Effect": "Allow",
            "Action": actions,
            "Resource": resources[0] if len(resources) == 1 else list(resources),
        }
        if own_sid:
            statement["Condition"] = scopes.CONDITIONS[actions[0]]
        if set_name in scopes.OPTIONAL:
            statement[WHEN] = scopes.OPTIONAL[set_name]
        out.append(statement)
    return out


def assume(role_parameter: str) -> dict:
    return {
        "Sid": "AssumeMemberRole",
        "Effect": "Allow",
        "Action": ["sts:AssumeRole"],
        "Resource": f"arn:{scopes.P}:iam::*:role/${{{role_parameter}}}",
    }


def collector_statements() -> list[dict]:
    """Read-only: every collector permission, a targeted check's reads, and KMS Decrypt on the trail's key."""
    reads = sorted({p for p in [*collector_permissions(), *CHECK_PERMISSIONS] if p != "sts:AssumeRole"})
    return statements([*reads, *scopes.IMPLIED], SIDS)


def athena_statements() -> list[dict]:
    """The Athena engine's calls, on its workgroup (or catalog), and what Athena checks as the caller."""
    on_catalog = sorted(a for a in ATHENA_PERMISSIONS if a in scopes.ATHENA_CALLS_ON_CATALOG)
    on_workgroup = sorted(a for a in ATHENA_PERMISSIONS if a not in scopes.ATHENA_CALLS_ON_CATALOG)
    parts = [
        ("AthenaCatalog", on_catalog, (scopes.ATHENA_CATALOG,)),
        ("AthenaQueries", on_workgroup, (scopes.ATHENA_WORKGROUP,)),
    ]
    parts += [("AthenaChecks" + name, sorted(actions), resources) for name, actions, resources in scopes.ATHENA_CHECKS]
    out = []
    for sid, actions, resources in parts:
        statement = {
            "Sid": sid,
            "Effect": "Allow",
            "Action": actions,
            "Resource": resources[0] if len(resources) == 1 else list(resources),
        }
        if resources == (scopes.TRAIL_KEY,):
            statement[WHEN] = scopes.OPTIONAL["OnTrailKey"]
        out.append(statement)
    return out


def remediation_statements(role: str) -> list[dict]:
    """The permissions of the ``apply``, ``rollback`` or ``rightsize`` role."""
    declared = required_permissions(grants=role == scopes.RIGHTSIZE)
    sids = RIGHTSIZE_SIDS if role == scopes.RIGHTSIZE else REMEDIATION_SIDS
    return statements([p for p in declared if role in scopes.roles_of(p)], sids)


def _iam_only(items: list[dict]) -> list[dict]:
    return [s for s in items if all(a.startswith("iam:") for a in s["Action"])]


# every policy and template block, by name: statements with ${...} parameters
BLOCKS: dict[str, Callable[[], list[dict]]] = {
    "collector-readonly": lambda: [*collector_statements(), assume("MemberRoleName")],
    "remediation": lambda: [*remediation_statements(scopes.APPLY), assume("RemediationRoleName")],
    "rollback": lambda: [*remediation_statements(scopes.ROLLBACK), assume("RollbackRoleName")],
    "rightsize": lambda: remediation_statements(scopes.RIGHTSIZE),  # Identity Center only: no member account
    "member-collector": lambda: _iam_only(collector_statements()),
    "member-remediation": lambda: _iam_only(remediation_statements(scopes.APPLY)),
    "member-rollback": lambda: _iam_only(remediation_statements(scopes.ROLLBACK)),
    "collector-athena": athena_statements,
}
FILES = {
    "collector-readonly.json": "collector-readonly",
    "remediation.json": "remediation",
    "rollback.json": "rollback",
    "rightsize.json": "rightsize",
    "collector-athena.json": "collector-athena",
}


def concrete(items: list[dict], values: Mapping[str, object] | None = None) -> dict:
    """A policy document: ${...} parameters with a value filled in, optional statements only when their value is given."""
    given = {**DEFAULTS, **(values or {})}

    def fill(value):
        if isinstance(value, str):
            name = value[2:-1] if value.startswith("${") and value.endswith("}") else None
            if name in LIST_PARAMETERS:
                return list(given.get(name) or LIST_PARAMETERS[name])
            return PLACEHOLDER.sub(lambda m: str(given.get(m.group(1), m.group(0))), value)
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    return {
        "Version": "2012-10-17",
        "Statement": [
            fill({k: v for k, v in s.items() if k != WHEN}) for s in items if WHEN not in s or given.get(s[WHEN])
        ],
    }


def collector_policy(values: Mapping[str, object] | None = None) -> dict:
    return concrete(BLOCKS["collector-readonly"](), values)


def policies(values: Mapping[str, object] | None = None) -> dict[str, dict]:
    return {name: concrete(BLOCKS[block](), values) for name, block in FILES.items()}


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


# --- the templates' blocks: YAML with CloudFormation's short-form functions


def _scalar(value: str) -> str:
    name = value[2:-1] if value.startswith("${") and value.endswith("}") else None
    if name and PLACEHOLDER.fullmatch(value):
        return f"!Ref {name}"
    return f"!Sub {json.dumps(value)}" if "${" in value else json.dumps(value) if value == "*" else value


def _yaml(value, indent: int) -> list[str]:
    """``value`` as block YAML lines at ``indent`` (mappings and lists of scalars, as statements have)."""
    pad = " " * indent
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            if isinstance(item, str):
                lines.append(f"{pad}{key}: {_scalar(item)}")
            else:
                lines += [f"{pad}{key}:", *_yaml(item, indent + 2)]
        return lines
    return [f"{pad}- {_scalar(item)}" for item in value]


def template_statements(block: str) -> list[str]:
    """A block's statements as the template's YAML list items (an optional one under ``!If``)."""
    lines = []
    for statement in BLOCKS[block]():
        body = {k: v for k, v in statement.items() if k != WHEN}
        if WHEN in statement:
            lines += [f"- !If\n  - Has{statement[WHEN]}", "  - " + _yaml(body, 4)[0].lstrip()]
            lines += _yaml(body, 4)[1:] + ["  - !Ref AWS::NoValue"]
        else:
            lines += ["- " + _yaml(body, 2)[0].lstrip(), *_yaml(body, 2)[1:]]
    return lines


def with_blocks(template: str) -> str:
    """The template text with each generated block (``# BEGIN name`` ... ``# END name``) replaced."""
    for name in BLOCKS:
        begin, end = f"# BEGIN {name}:", f"# END {name}\n"
        start = template.find(begin)
        while start >= 0:  # every copy: two functions may hold the same block
            head_end = template.index("\n", start) + 1
            indent = " " * (start - template.rindex("\n", 0, start) - 1)
            stop = template.rindex("\n", 0, template.index(end, start)) + 1
            body = "".join(f"{indent}{line}\n" for text in template_statements(name) for line in text.split("\n"))
            template = template[:head_end] + body + template[stop:]
            start = template.find(begin, head_end + len(body))
    return template


def write(directory: Path, values: Mapping[str, object] | None = None) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, policy in policies(values).items():
        path = directory / name
        path.write_text(render(policy), encoding="utf-8")
        written.append(path)
    for name in TEMPLATES:
        template = directory.parent / name
        if template.is_file():
            text = template.read_text(encoding="utf-8")
            if with_blocks(text) != text:
                template.write_text(with_blocks(text), encoding="utf-8")
                written.append(template)
    return written


def drift(directory: Path, values: Mapping[str, object] | None = None) -> list[str]:
    """The shipped files that differ from what the code declares now."""
    stale = [
        name
        for name, policy in policies(values).items()
        if not (directory / name).is_file() or (directory / name).read_text(encoding="utf-8") != render(policy)
    ]
    for name in TEMPLATES:
        template = directory.parent / name
        if template.is_file():
            text = template.read_text(encoding="utf-8")
            if with_blocks(text) != text:
                stale.append(f"../{name}")
    return stale


def _assignment(text: str) -> tuple[str, object]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {text!r}")
    return name, value.split(",") if name in LIST_PARAMETERS else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m auditor.deploy.policies", description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help="where the policy files live (deploy/policies)")
    parser.add_argument(
        "--set",
        dest="values",
        type=_assignment,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a template parameter's value (TrailBucket, TrailKmsKeyArn, IdentityStoreId, IdentityCenterInstanceId, "
        "MemberRoleName, RemediationRoleName, RollbackRoleName, RightsizeRoleName, ReattachPolicyArns=ARN,ARN)",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if the files differ from the declared permissions")
    args = parser.parse_args(argv)
    values = dict(args.values)
    if args.check:
        stale = drift(args.directory, values)
        for name in stale:
            print(f"{args.directory / name}: differs from the declared permissions; regenerate it", file=sys.stderr)
        return 1 if stale else 0
    for path in write(args.directory, values):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
