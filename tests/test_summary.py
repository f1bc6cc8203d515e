"""Readable source summaries: one line per (source, kind of error), the full list in the manifest."""

from datetime import UTC, datetime

import botocore.exceptions

from auditor.collect.completeness import Completeness
from auditor.collect.iam import TABLES as IAM_TABLES
from auditor.snapshot import Manifest, SourceStatus, Unreadable
from auditor.summary import ProblemGroup, group_source_problems

AS_OF = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
ACCOUNTS = [f"{100000000000 + n}" for n in range(20)]


def _denied(account_id: str, action: str, operation: str) -> botocore.exceptions.ClientError:
    message = f"User: arn:aws:sts::{account_id}:assumed-role/auditor/run is not authorized to perform: {action}"
    return botocore.exceptions.ClientError({"Error": {"Code": "AccessDenied", "Message": message}}, operation)


def _iam_status(account_id: str, users: list[str]) -> SourceStatus:
    """What the IAM collector writes when ListMFADevices is denied for these users."""
    book = Completeness(IAM_TABLES)
    for user in users:
        arn = f"arn:aws:iam::{account_id}:user/{user}"
        error = _denied(account_id, "iam:ListMFADevices", "ListMFADevices")
        book.attribute_error("iam_user.mfa_active", [arn], error, "iam", "ListMFADevices", f"user {user}")
    return book.status("iam", account_id, failed=False, detail={})


def test_one_optional_api_failing_in_twenty_accounts_is_one_line():
    manifest = Manifest(as_of=AS_OF, sources=[_iam_status(a, ["alice", "bob"]) for a in ACCOUNTS])

    groups = group_source_problems(manifest)

    assert groups == [
        ProblemGroup(
            source="iam",
            kind="AccessDenied (iam, ListMFADevices)",
            accounts=20,
            objects=40,
            example=(
                f"account {ACCOUNTS[0]}: AccessDenied: User: arn:aws:sts::{ACCOUNTS[0]}:assumed-role/auditor/run "
                "is not authorized to perform: iam:ListMFADevices (iam, ListMFADevices) for user alice"
            ),
        )
    ]
    assert groups[0].line.startswith("iam: AccessDenied (iam, ListMFADevices): 20 accounts, 40 objects; e.g. account ")
    # the manifest keeps every error and every object
    assert sum(len(s.detail["errors"]) for s in manifest.sources) == 40
    assert sum(len(gap.objects) for s in manifest.sources for gap in s.attributes) == 40


def test_different_errors_of_one_source_are_different_lines_most_widespread_first():
    sources = [_iam_status(a, ["alice"]) for a in ACCOUNTS[:3]]
    sources.append(
        SourceStatus(
            source="iam",
            account_id=ACCOUNTS[3],
            status="failed",
            error="AccessDenied: not authorized (sts, AssumeRole)",
            detail={"errors": ["AccessDenied: not authorized (sts, AssumeRole)"]},
        )
    )
    sources.append(
        SourceStatus(
            source="identity_center",
            status="partial",
            error="see detail",
            detail={
                "errors": [
                    f"AccessDeniedException: no (sso-admin, ListPermissionSetsProvisionedToAccount) for account {a}"
                    for a in ACCOUNTS[:2]
                ]
            },
        )
    )

    lines = [
        (g.source, g.kind, g.accounts, g.objects) for g in group_source_problems(Manifest(as_of=AS_OF, sources=sources))
    ]

    assert lines == [
        ("identity_center", "AccessDeniedException (sso-admin, ListPermissionSetsProvisionedToAccount)", 2, 0),
        ("iam", "AccessDenied (iam, ListMFADevices)", 3, 3),
        ("iam", "AccessDenied (sts, AssumeRole)", 1, 0),
    ]


def test_messages_without_a_code_group_by_their_wording_and_unreadable_inputs_by_their_error():
    sources = [
        SourceStatus(
            source="cloudtrail",
            account_id=account_id,
            status="partial",
            error=f"no CloudTrail log objects from 2026-07-31 to 2026-11-29 found under s3://trail/AWSLogs/{account_id}/CloudTrail/",
        )
        for account_id in ACCOUNTS[:4]
    ]
    sources.append(SourceStatus(source="organizations"))  # ok: nothing to say
    unreadable = [
        Unreadable(
            what=f"s3://trail/AWSLogs/{account_id}/CloudTrail/us-east-1/2026/11/01/{n}.json.gz",
            error="AccessDenied: Access Denied (s3, GetObject)",
        )
        for account_id in ACCOUNTS[:2]
        for n in range(3)
    ]
    unreadable.append(Unreadable(what="hr.csv line 7", error="has 3 fields, the header has 11"))
    unreadable.append(Unreadable(what="hr.csv line 9", error="has 5 fields, the header has 11"))

    groups = group_source_problems(Manifest(as_of=AS_OF, sources=sources, unreadable=unreadable))

    assert [(g.source, g.kind, g.accounts, g.objects) for g in groups] == [
        (
            "cloudtrail",
            "no CloudTrail log objects from 2026-07-31 to 2026-11-29 found under s3://trail/AWSLogs/<account>/CloudTrail/",
            4,
            0,
        ),
        ("cloudtrail", "unreadable: AccessDenied (s3, GetObject)", 2, 6),
        ("input", "unreadable: has N fields, the header has N", 0, 2),
    ]
    assert groups[-1].example == "hr.csv line 7: has 3 fields, the header has 11"


def test_a_complete_manifest_has_nothing_to_say():
    manifest = Manifest(as_of=AS_OF, sources=[SourceStatus(source="organizations"), SourceStatus(source="hr")])

    assert group_source_problems(manifest) == []
