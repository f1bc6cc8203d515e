"""Rules about each account's root user (from the IAM credential report).

Every account of the snapshot has a root user, so each rule decides for each
account: a finding, the fact that cleared it, or insufficient evidence when
the account's credential report could not be read or has no ``<root_account>``
row (AWS always writes one; a report without it says nothing about root).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from auditor.model import Category, Finding, RootCredentials, Severity
from auditor.rules.context import RuleContext, iso, root_principal
from auditor.rules.findings import cleared, insufficient_evidence, make_finding
from auditor.rules.iam_evidence import source_unread
from auditor.rules.registry import Rule, rule
from auditor.rules.verdicts import Verdict

Outcome = Finding | Verdict


def _root_unread(ctx: RuleContext, account_id: str) -> str:
    """Why the root row of ``account_id`` is not in the snapshot, as ``evidence.missing`` words it."""
    status = ctx.snapshot.status_of("iam", account_id)
    unread = source_unread(ctx, "iam", account_id)
    if unread or status is None:
        return unread or f"IAM was not collected for account {account_id}"
    if status.tables.get("root_credentials") == "failed":
        return (
            f"the credential report of account {account_id} could not be read ({status.error or 'no error recorded'})"
        )
    return f"the credential report of account {account_id} has no <root_account> row: nothing is known of its root user"


def _each_root(
    ctx: RuleContext, meta: Rule, title: Callable[[str], str], decide: Callable[[RootCredentials], Outcome]
) -> Iterator[Outcome]:
    """``decide`` for the root row of each account (listed, or with a row), or insufficient evidence naming why not."""
    rows = {row.account_id: row for row in ctx.snapshot.table("root_credentials")}
    for account_id in sorted({a.account_id for a in ctx.snapshot.table("accounts")} | set(rows)):
        row = rows.get(account_id)
        if row is not None and source_unread(ctx, "iam", account_id) is None:
            yield decide(row)
            continue
        yield insufficient_evidence(
            meta,
            principal=root_principal(account_id),
            account_id=account_id,
            resource=None,
            title=title(account_id),
            missing=_root_unread(ctx, account_id),
        )


@rule(
    id="iam-root-access-key",
    category=Category.CREDENTIAL_HYGIENE,
    severity=Severity.CRITICAL,
    title="Root user has an active access key",
    description="The root user of an account has an active access key (credential report).",
    controls=("CIS-AWS-1.4", "SOC2-CC6.1", "PCI-DSS-8.2.2", "ISO27001-A.5.17"),
    recommendation="Delete the root access key.",
    subjects=("root",),
    needs=("iam.root_credentials",),
)
def root_access_key(ctx: RuleContext, meta: Rule) -> Iterator[Outcome]:
    def title(account_id: str) -> str:
        return f"Root user of {account_id} may have an active access key"

    def decide(row: RootCredentials) -> Outcome:
        principal = root_principal(row.account_id)
        active = [
            n for n, on in (("access_key_1", row.access_key_1_active), ("access_key_2", row.access_key_2_active)) if on
        ]
        if not active:
            return cleared(meta, principal, "no active root access key (credential report)", account_id=row.account_id)
        return make_finding(
            meta,
            principal=principal,
            account_id=row.account_id,
            resource=None,
            title=f"Root user of {row.account_id} has {len(active)} active access key(s)",
            evidence={
                "active": active,
                "access_key_1_last_used": iso(row.access_key_1_last_used),
                "access_key_2_last_used": iso(row.access_key_2_last_used),
            },
        )

    yield from _each_root(ctx, meta, title, decide)


@rule(
    id="iam-root-without-mfa",
    category=Category.CREDENTIAL_HYGIENE,
    severity=Severity.CRITICAL,
    title="Root user without MFA",
    description="The root user of an account has no MFA device (credential report). Member accounts whose root "
    "password was never set still need MFA or centrally managed root access.",
    controls=("CIS-AWS-1.5", "CIS-AWS-1.6", "SOC2-CC6.1", "PCI-DSS-8.4.1", "ISO27001-A.5.17"),
    recommendation="Enable a hardware MFA device on the root user, or remove root credentials centrally.",
    subjects=("root",),
    needs=("iam.root_credentials",),
)
def root_without_mfa(ctx: RuleContext, meta: Rule) -> Iterator[Outcome]:
    def title(account_id: str) -> str:
        return f"Root user of {account_id} has no MFA"

    def decide(row: RootCredentials) -> Outcome:
        principal = root_principal(row.account_id)
        if row.mfa_active:
            return cleared(meta, principal, "root MFA active (credential report)", account_id=row.account_id)
        return make_finding(
            meta,
            principal=principal,
            account_id=row.account_id,
            resource=None,
            title=title(row.account_id),
            evidence={"mfa_active": False, "password_last_used": iso(row.password_last_used) or "never"},
        )

    yield from _each_root(ctx, meta, title, decide)
