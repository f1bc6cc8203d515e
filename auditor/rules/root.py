"""Rules about each account's root user (from the IAM credential report)."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.model import Category, Finding, Severity
from auditor.rules.context import RuleContext, iso, root_principal
from auditor.rules.findings import make_finding
from auditor.rules.registry import Rule, rule


@rule(
    id="iam-root-access-key",
    category=Category.CREDENTIAL_HYGIENE,
    severity=Severity.CRITICAL,
    title="Root user has an active access key",
    description="The root user of an account has an active access key (credential report).",
    controls=("CIS-AWS-1.4", "SOC2-CC6.1", "PCI-DSS-8.2.2", "ISO27001-A.5.17"),
    recommendation="Delete the root access key.",
)
def root_access_key(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    for row in ctx.snapshot.table("root_credentials"):
        active = [
            n for n, on in (("access_key_1", row.access_key_1_active), ("access_key_2", row.access_key_2_active)) if on
        ]
        if active:
            yield make_finding(
                meta,
                principal=root_principal(row.account_id),
                account_id=row.account_id,
                resource=None,
                title=f"Root user of {row.account_id} has {len(active)} active access key(s)",
                evidence={
                    "active": active,
                    "access_key_1_last_used": iso(row.access_key_1_last_used),
                    "access_key_2_last_used": iso(row.access_key_2_last_used),
                },
            )


@rule(
    id="iam-root-without-mfa",
    category=Category.CREDENTIAL_HYGIENE,
    severity=Severity.CRITICAL,
    title="Root user without MFA",
    description="The root user of an account has no MFA device (credential report). Member accounts whose root "
    "password was never set still need MFA or centrally managed root access.",
    controls=("CIS-AWS-1.5", "CIS-AWS-1.6", "SOC2-CC6.1", "PCI-DSS-8.4.1", "ISO27001-A.5.17"),
    recommendation="Enable a hardware MFA device on the root user, or remove root credentials centrally.",
)
def root_without_mfa(ctx: RuleContext, meta: Rule) -> Iterator[Finding]:
    for row in ctx.snapshot.table("root_credentials"):
        if not row.mfa_active:
            yield make_finding(
                meta,
                principal=root_principal(row.account_id),
                account_id=row.account_id,
                resource=None,
                title=f"Root user of {row.account_id} has no MFA",
                evidence={"mfa_active": False, "password_last_used": iso(row.password_last_used) or "never"},
            )
