"""What the IAM, IAM-permission and root rules lack to decide, worded for ``evidence.missing``.

A rule over IAM principals reads one account's IAM (and Access Advisor)
answers. When they are missing for a candidate the rule says so for that
candidate, naming the account and the error, instead of skipping it. A
table listed only partly vouches for an absence ("no active key", "no
service used") only where the collector named the objects it could not
read: then every other object's list is whole.
"""

from __future__ import annotations

from datetime import datetime

from auditor.access import Existence
from auditor.model import AccessKey, Finding, IamUser, Principal
from auditor.rules.context import RuleContext, days_between
from auditor.rules.findings import cleared, insufficient_evidence
from auditor.rules.registry import Rule
from auditor.rules.verdicts import Verdict

IAM = "IAM"
ACCESS_ADVISOR = "IAM Access Advisor"
_LABELS = {"iam": IAM, "access_advisor": ACCESS_ADVISOR}


def source_unread(ctx: RuleContext, source: str, account_id: str) -> str | None:
    """None when ``source`` was read (fully or partly) for ``account_id``; else what is missing."""
    label = _LABELS.get(source, source)
    status = ctx.snapshot.status_of(source, account_id)
    if status is None:
        account = ctx.accounts.get(account_id)
        state = f", whose status is {account.status}" if account and account.status != "ACTIVE" else ""
        return f"{label} was not collected for account {account_id}{state}"
    if not ctx.usable(source, account_id):
        return f"{label} could not be read for account {account_id} ({status.error or 'no error recorded'})"
    return None


def listed_for(
    ctx: RuleContext, source: str, table: str, account_id: str, attribute: str, object_id: str
) -> str | None:
    """None when ``object_id``'s rows of ``table`` were all listed; else the error that kept some unlisted.

    ``attribute`` is the gap the collector books for an object whose rows it
    could not list (e.g. ``iam_user.access_keys``): a table that is partial
    with such gaps is whole for every object not named in them.
    """
    error = ctx.attribute_missing(attribute, object_id)
    if error:
        return error
    if ctx.table_complete(source, table, account_id):
        return None
    status = ctx.snapshot.status_of(source, account_id)
    if status is not None and status.status != "failed" and any(gap.what == attribute for gap in status.attributes):
        return None  # the partial listing names its objects, and this one is not among them
    label = _LABELS.get(source, source)
    return f"{label} did not list {table} completely for account {account_id}"


def keys_unlisted(ctx: RuleContext, user: IamUser) -> str | None:
    """What keeps the list of ``user``'s access keys unknown (None: listed completely)."""
    error = listed_for(ctx, "iam", "access_keys", user.account_id, "iam_user.access_keys", user.arn)
    return f"the access keys of {user.user_name} could not be listed ({error})" if error else None


def key_use_unread(ctx: RuleContext, key: AccessKey, days: int) -> str | None:
    """What keeps "unused for ``days`` days" undecidable for ``key`` (None: IAM's record or CloudTrail suffices)."""
    error = ctx.attribute_missing("access_key.last_used", key.access_key_id)
    if not error:
        return None
    window = ctx.missing_window(key.account_id, days, "access_key")
    return f"IAM's last use of key {key.access_key_id} could not be read ({error}), and {window}" if window else None


def user_use_unread(ctx: RuleContext, user: IamUser, keys: list[AccessKey], days: int) -> str | None:
    """What keeps "unused for ``days`` days" undecidable for ``user`` (None: the records, or CloudTrail, suffice).

    IAM's own records (console sign-ins from the credential report, each
    key's last use) are read first; where one is missing, CloudTrail
    observing the whole window stands in for it.
    """
    unread = []
    if user.password_enabled or ctx.attribute_missing("iam_user.password_enabled", user.arn):
        error = ctx.attribute_missing("iam_user.password_last_used", user.arn)
        if error:
            unread.append(f"the console sign-ins of {user.user_name} ({error})")
    for key in keys:
        error = ctx.attribute_missing("access_key.last_used", key.access_key_id)
        if error:
            unread.append(f"the last use of key {key.access_key_id} ({error})")
    if not unread:
        return None
    window = ctx.missing_window(user.account_id, days, "iam_user")
    return f"IAM could not read {'; '.join(unread)}, and {window}" if window else None


def since(when: datetime, as_of: datetime) -> str:
    """ "3 days ago (2026-11-25)": how a reviewer reads a time."""
    return f"{int(days_between(when, as_of))} days ago ({when.date().isoformat()})"


def younger_than_threshold(
    rule: Rule,
    principal: Principal,
    existence: Existence,
    as_of: datetime,
    days: int,
    *,
    account_id: str | None,
    resource: str | None,
    title: str,
    evidence: dict,
) -> Finding | Verdict:
    """The outcome for a principal known to exist for fewer than ``days`` days.

    Only the creation time proves a principal that young: a later sighting
    or an HR date bounds its age from below, so it leaves the rule undecided.
    """
    age = int(existence.days(as_of) or 0)
    if existence.exact:
        return cleared(
            rule,
            principal,
            f"created {since(existence.since, as_of)}, within {days} days",
            account_id=account_id,
            resource=resource,
        )
    source = existence.source.value if existence.source else "no evidence"
    return insufficient_evidence(
        rule,
        principal=principal,
        account_id=account_id,
        resource=resource,
        title=title,
        missing=(
            f"the creation time of {principal.name or principal.id}: it is known to exist only since "
            f"{existence.since.isoformat()} ({source}, {age} days), fewer than the {days} days the rule needs"
        ),
        evidence={**evidence, **existence.evidence()},
    )
