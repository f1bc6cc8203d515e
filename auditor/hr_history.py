"""Movers, and a feed cut short, from one night to the next: compare today's HR feed with what the store remembers.

A feed that carries ``previous_department`` says so itself. Otherwise the
state store remembers each employee's department and title at the last run,
and their last change; a change since then becomes today's
``previous_department``/``previous_title``, and an earlier change is carried
forward, so a mover who still holds the old groups stays visible after the
first night (and a re-analysed snapshot still shows the move).

An HR export cut short (a job that died halfway, a filter changed) still
parses: everyone after the cut would be "not in HR" tonight. When more of
the last run's employees who still have Identity Center users are missing
than ``[hr] max_dropped_share`` allows, the feed is marked partial, so no
rule takes absence from it as a fact (rules say "insufficient evidence"
instead of calling people orphans).
"""

from __future__ import annotations

import msgspec

from auditor.model import HrPerson
from auditor.snapshot import FAILED, PARTIAL, SourceStatus

DROPPED_FLOOR = 5  # fewer missing people than this are ordinary leavers, whatever their share


def roles(people: list[HrPerson]) -> dict[str, list[str | None]]:
    """What the store keeps: employee id -> [department, title, previous department, previous title,
    user name, email] (runs recorded before names were kept have the first four)."""
    return {
        p.employee_id: [p.department, p.title, p.previous_department, p.previous_title, p.user_name, p.email]
        for p in people
    }


def with_moves(people: list[HrPerson], remembered: dict[str, list[str | None]]) -> list[HrPerson]:
    moved = []
    for person in people:
        before = remembered.get(person.employee_id)
        if before is None:
            moved.append(person)
            continue
        department, title, earlier_department, earlier_title = (list(before) + [None, None])[:4]
        changes = {}
        if person.previous_department is None:
            if department and department.lower() != person.department.lower():
                changes["previous_department"] = department
            elif earlier_department and earlier_department.lower() != person.department.lower():
                changes["previous_department"] = earlier_department
        if person.previous_title is None:
            if title and title.lower() != person.title.lower():
                changes["previous_title"] = title
            elif earlier_title and earlier_title.lower() != person.title.lower():
                changes["previous_title"] = earlier_title
        moved.append(msgspec.structs.replace(person, **changes) if changes else person)
    return moved


def cut_short(
    status: SourceStatus,
    people: list[HrPerson],
    remembered: dict[str, list[str | None]],
    directory: set[str],
    max_share: float,
) -> SourceStatus:
    """The HR feed's status, made partial when too many remembered employees are missing from ``people``.

    Only the missing who still have an Identity Center user count (``directory``: its user names and
    emails, lower-cased): they are who would be reported as orphans. Someone who left both the feed
    and the directory is an ordinary leaver, and a feed of a different estate has no one to miss.
    """
    if not remembered or status.status == FAILED:  # nothing to compare with, or no feed read
        return status
    present = {p.employee_id for p in people}
    missing = sorted(e for e, kept in remembered.items() if e not in present and _in_directory(kept, directory))
    unreadable = len(status.detail.get("unusable_rows", []))  # rows still there, only unusable
    dropped = len(missing) - unreadable
    if dropped < DROPPED_FLOOR or dropped <= max_share * len(remembered):
        return status
    name = status.detail.get("file", "the HR feed")
    error = (
        f"{len(missing)} of the {len(remembered)} employees of the last run's HR feed still have Identity "
        f"Center users but are not in {name} ({len(missing) / len(remembered):.0%}, more than [hr] "
        f"max_dropped_share {max_share:.0%}): the feed looks cut short, so nobody's absence from it is "
        "taken as a fact this run"
    )
    return msgspec.structs.replace(
        status,
        status=PARTIAL,
        error="; ".join(e for e in (status.error, error) if e),
        tables={**status.tables, "hr_people": PARTIAL},
        detail={
            **status.detail,
            "dropped_since_last_run": {"previous": len(remembered), "missing": len(missing), "examples": missing[:5]},
        },
    )


def _in_directory(kept: list[str | None], directory: set[str]) -> bool:
    """Whether a remembered employee still has a user; unknown (kept before names were) counts as yes."""
    names = {(n or "").lower() for n in kept[4:6]} - {""}
    return not names or bool(names & directory)


def is_cut_short(status: SourceStatus | None) -> bool:
    """Whether ``cut_short`` marked this HR status (its people are not remembered for tomorrow)."""
    return status is not None and "dropped_since_last_run" in status.detail
