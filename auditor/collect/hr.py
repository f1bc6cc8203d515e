"""The HR feed: who should exist, their department, manager and end date.

A row that cannot be used is reported with the file name and physical line
number and skipped; the identity it names (when readable) is kept in the
source's detail so that rules never call that person orphaned or a leaver
for lack of a row. A feed that is empty or lacks a required column is
unusable as a whole: ``HrFeedError`` (the run stops with exit 2).
"""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path

from auditor.model import HrPerson
from auditor.snapshot import SourceResult, SourceStatus, Unreadable

REQUIRED_COLUMNS = (
    "employee_id",
    "email",
    "user_name",
    "display_name",
    "department",
    "title",
    "manager_email",
    "status",
    "employment_type",
    "start_date",
    "end_date",
)
OPTIONAL_COLUMNS = ("previous_department",)
STATUSES = ("active", "leave", "terminated")
EMPLOYMENT_TYPES = ("employee", "contractor", "vendor")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


class HrFeedError(Exception):
    """The feed as a whole is unusable (missing, empty, a required column missing)."""


def collect_hr(path: Path) -> SourceResult:
    """Read the HR CSV at ``path`` into ``hr_people`` records."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise HrFeedError(f"{path}: HR feed not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise HrFeedError(f"{path}: cannot read the HR feed: {exc}") from exc
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = [column.strip().lower() for column in next(reader)]
    except StopIteration as exc:
        raise HrFeedError(f"{path}: the HR feed is empty") from exc
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise HrFeedError(f"{path} line 1: missing required column(s): {', '.join(missing)}")
    duplicated = sorted({column for column in header if header.count(column) > 1})
    if duplicated:
        raise HrFeedError(f"{path} line 1: duplicated column(s): {', '.join(duplicated)}")

    people: list[HrPerson] = []
    unreadable: list[Unreadable] = []
    unusable_rows: list[dict] = []
    seen_user_names: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    previous_end = reader.line_num
    for cells in reader:
        line = previous_end + 1  # the physical line the record starts on
        previous_end = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        row = dict(zip(header, (cell.strip() for cell in cells), strict=False))
        problem = _row_problem(cells, header, row)
        if problem is None:
            problem = _duplicate_problem(row, seen_user_names, seen_emails)
        if problem is not None:
            unreadable.append(Unreadable(what=f"{path.name} line {line}", error=problem))
            unusable_rows.append(
                {"line": line, "user_name": row.get("user_name") or None, "email": row.get("email") or None}
            )
            continue
        seen_user_names[row["user_name"].lower()] = line
        seen_emails[row["email"].lower()] = line
        people.append(_person(row, line))

    if not people and not unreadable:
        raise HrFeedError(f"{path}: the HR feed has a header but no rows")
    status = SourceStatus(
        source="hr",
        status="partial" if unreadable else "ok",
        error=f"{len(unreadable)} row(s) of {path.name} could not be used" if unreadable else None,
        detail={"file": str(path), "rows": len(people), "unusable_rows": unusable_rows},
    )
    return SourceResult(tables={"hr_people": people}, statuses=[status], unreadable=unreadable)


def _row_problem(cells: list[str], header: list[str], row: dict[str, str]) -> str | None:
    if len(cells) != len(header):
        return f"has {len(cells)} fields, the header has {len(header)}"
    for column in ("employee_id", "user_name", "email", "status", "employment_type"):
        if not row[column]:
            return f"{column} is empty"
    if not _EMAIL.fullmatch(row["email"]):
        return f"email {row['email']!r} is not an email address"
    if row["status"].lower() not in STATUSES:
        return f"status {row['status']!r} is not one of {', '.join(STATUSES)}"
    if row["employment_type"].lower() not in EMPLOYMENT_TYPES:
        return f"employment_type {row['employment_type']!r} is not one of {', '.join(EMPLOYMENT_TYPES)}"
    for column in ("start_date", "end_date"):
        if row[column]:
            try:
                _parse_date(row[column])
            except ValueError:
                return f"{column} {row[column]!r} is not an ISO 8601 date"
    return None


def _duplicate_problem(row: dict[str, str], user_names: dict[str, int], emails: dict[str, int]) -> str | None:
    if row["user_name"].lower() in user_names:
        return f"user_name {row['user_name']!r} already on line {user_names[row['user_name'].lower()]}"
    if row["email"].lower() in emails:
        return f"email {row['email']!r} already on line {emails[row['email'].lower()]}"
    return None


def _person(row: dict[str, str], line: int) -> HrPerson:
    return HrPerson(
        line=line,
        employee_id=row["employee_id"],
        email=row["email"],
        user_name=row["user_name"],
        display_name=row["display_name"],
        department=row["department"],
        title=row["title"],
        manager_email=row["manager_email"],
        status=row["status"].lower(),
        employment_type=row["employment_type"].lower(),
        start_date=_parse_date(row["start_date"]) if row["start_date"] else None,
        end_date=_parse_date(row["end_date"]) if row["end_date"] else None,
        previous_department=row.get("previous_department") or None,
    )


def _parse_date(text: str) -> date:
    """ISO 8601 date; a full timestamp is accepted and cut to its date."""
    return date.fromisoformat(text[:10]) if len(text) > 10 and text[10] in "T " else date.fromisoformat(text)
