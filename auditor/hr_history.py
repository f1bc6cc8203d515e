"""Movers from one night to the next: compare today's HR feed with what the store remembers.

A feed that carries ``previous_department`` says so itself. Otherwise the
state store remembers each employee's department and title at the last run,
and their last change; a change since then becomes today's
``previous_department``/``previous_title``, and an earlier change is carried
forward, so a mover who still holds the old groups stays visible after the
first night (and a re-analysed snapshot still shows the move).
"""

from __future__ import annotations

import msgspec

from auditor.model import HrPerson


def roles(people: list[HrPerson]) -> dict[str, list[str | None]]:
    """What the store keeps: employee id -> [department, title, previous department, previous title]."""
    return {p.employee_id: [p.department, p.title, p.previous_department, p.previous_title] for p in people}


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
