"""Source problems a person can read: one line per (source, kind of error).

One optional API denied in 20 accounts is one problem, not 20 paragraphs.
The manifest keeps every error; this groups them by source and by what
went wrong (error code, service and operation), counting the accounts and
objects affected and keeping one full message as the example.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from auditor.snapshot import SOURCES, Manifest, SourceStatus

# An error as the collectors word it: "Code: message (service, Operation)", then " for <object>" when per object.
_DESCRIBED = re.compile(
    r"^(?P<code>[A-Za-z][\w.]*): .*\((?P<service>[\w.-]+), (?P<operation>[A-Za-z]\w*)\)(?: for (?P<where>.+))?$",
    re.DOTALL,
)
_ACCOUNT_IN_KEY = re.compile(r"/(\d{12})/CloudTrail/")
_ACCOUNT_NAMED = re.compile(r"account (\d{12})\b")
_NUMBER = re.compile(r"(?<![\d:.-])\d+(?![\d:.-])")


@dataclass(frozen=True)
class ProblemGroup:
    """One kind of problem of one source, with how far it reaches."""

    source: str
    kind: str  # "AccessDenied (iam, ListMFADevices)", or the message with its numbers generalised
    accounts: int  # distinct accounts affected (0 when the errors name none)
    objects: int  # distinct objects named (users, permission sets, log objects ...); 0 when none is
    example: str  # one message exactly as the manifest has it, prefixed with its account when there is one

    @property
    def line(self) -> str:
        reach = [
            f"{n} {noun}{'' if n == 1 else 's'}"
            for n, noun in ((self.accounts, "account"), (self.objects, "object"))
            if n
        ]
        where = f": {', '.join(reach)}" if reach else ""
        return f"{self.source}: {self.kind}{where}; e.g. {self.example}"


@dataclass
class _Tally:
    accounts: set[str] = field(default_factory=set)
    objects: set[tuple[str | None, str]] = field(default_factory=set)
    example: str = ""


def group_source_problems(manifest: Manifest) -> list[ProblemGroup]:
    """Every source problem and unreadable input of a manifest, grouped; the most widespread first per source."""
    tallies: dict[tuple[str, str], _Tally] = {}

    def count(source: str, kind: str, account_id: str | None, obj: str | None, example: str) -> None:
        tally = tallies.setdefault((source, kind), _Tally())
        if account_id:
            tally.accounts.add(account_id)
        if obj:
            tally.objects.add((account_id, obj))
        if not tally.example:
            tally.example = f"account {account_id}: {example}" if account_id else example

    for status in manifest.sources:
        for message in _messages(status):
            kind, where = _kind(message, status.account_id)
            named = _ACCOUNT_NAMED.match(where or "")  # an organisation-wide source's call for one account
            account_id = status.account_id or (named.group(1) if named else None)
            obj = None if named and named.group(0) == where else where
            count(status.source, kind, account_id, obj, message)
    for item in manifest.unreadable:
        found = _ACCOUNT_IN_KEY.search(item.what)
        account_id = found.group(1) if found else None
        kind, _ = _kind(item.error, account_id)
        source = "cloudtrail" if item.what.startswith("s3://") else "input"
        count(source, f"unreadable: {kind}", account_id, item.what, f"{item.what}: {item.error}")

    order = {source: index for index, source in enumerate(SOURCES)}
    groups = [
        ProblemGroup(source, kind, len(t.accounts), len(t.objects), t.example) for (source, kind), t in tallies.items()
    ]
    return sorted(groups, key=lambda g: (order.get(g.source, len(order)), g.source, -g.accounts, -g.objects, g.kind))


def _messages(status: SourceStatus) -> list[str]:
    """Each error of a source entry: the full list when the collector kept one, else its one line."""
    if status.status == "ok":
        return []
    errors = status.detail.get("errors") if isinstance(status.detail, dict) else None
    if errors:
        return [str(error) for error in errors]
    return [status.error or f"{status.status} (no error recorded)"]


def _kind(message: str, account_id: str | None) -> tuple[str, str | None]:
    """What went wrong and where: the error code and call, or the message with its specifics generalised."""
    described = _DESCRIBED.match(message)
    if described:
        return f"{described['code']} ({described['service']}, {described['operation']})", described["where"]
    if account_id:
        message = message.replace(account_id, "<account>")
    return _NUMBER.sub("N", message), None
