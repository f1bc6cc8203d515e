"""The HR feed: who should exist, their department, manager and end date.

A row that cannot be used is reported with the file name and physical line
number and skipped; the identity it names (when readable) is kept in the
source's detail so that rules never call that person orphaned or a leaver
for lack of a row. A feed that is empty or lacks a required column is
unusable as a whole: ``HrFeedError`` (the run stops with exit 2).

The feed is UTF-8 (a byte-order mark and CRLF line ends are fine). A row
with bytes that are not UTF-8 (a Latin-1 export, say) is unusable and named
with its line; the identity in it is still kept when its ASCII cells name
it. Two rows for one employee id, user name or email contradict each other,
so neither is used: taking either could call an active person a leaver.
"""

from __future__ import annotations

import csv
import io
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
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise HrFeedError(f"{path}: HR feed not found") from exc
    except OSError as exc:
        raise HrFeedError(f"{path}: cannot read the HR feed: {exc}") from exc
    # undecodable bytes become lone surrogates, found per row below; newline="" keeps
    # line ends inside quoted cells, so reader.line_num counts physical lines
    text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [column.strip().lower() for column in next(reader)]
    except StopIteration as exc:
        raise HrFeedError(f"{path}: the HR feed is empty") from exc
    except csv.Error as exc:
        raise HrFeedError(f"{path} line 1: not a CSV header: {exc}") from exc
    if any(_undecodable(column) for column in header):
        raise HrFeedError(f"{path} line 1: the header is not UTF-8 text; save the HR feed as UTF-8")
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise HrFeedError(f"{path} line 1: missing required column(s): {', '.join(missing)}")
    duplicated = sorted({column for column in header if header.count(column) > 1})
    if duplicated:
        raise HrFeedError(f"{path} line 1: duplicated column(s): {', '.join(duplicated)}")

    people: dict[int, HrPerson] = {}  # by line
    unreadable: list[Unreadable] = []
    unusable_rows: list[dict] = []
    seen: dict[tuple[str, str], int] = {}  # (column, lower-cased value) -> line of the row used

    def unusable(line: int, row: dict[str, str], problem: str) -> None:
        unreadable.append(Unreadable(what=f"{path.name} line {line}", error=problem))
        unusable_rows.append(
            {"line": line, "user_name": _clean(row.get("user_name")), "email": _clean(row.get("email"))}
        )

    previous_end = reader.line_num
    while True:
        line = previous_end + 1  # the physical line the record starts on
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a NUL byte: the rest of the file cannot be split into rows
            unreadable.append(Unreadable(what=f"{path.name} line {reader.line_num}", error=f"not CSV: {exc}"))
            break
        previous_end = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        row = dict(zip(header, (cell.strip() for cell in cells), strict=False))
        problem = _encoding_problem(header, row) or _row_problem(cells, header, row)
        if problem is not None:
            unusable(line, row, problem)
            continue
        duplicate = _duplicate_problem(row, seen)
        if duplicate is not None:
            (column, _), problem = duplicate
            unusable(line, row, problem)
            first = seen[duplicate[0]]
            withdrawn = people.pop(first, None)  # contradicting rows: the one used before is withdrawn too
            if withdrawn is not None:
                unusable(first, _as_row(withdrawn), f"{column} {row[column]!r} is also on line {line}")
            continue
        for column in ("employee_id", "user_name", "email"):
            seen[(column, row[column].lower())] = line
        people[line] = _person(row, line)

    if not people and not unreadable:
        raise HrFeedError(f"{path}: the HR feed has a header but no rows")
    unusable_rows.sort(key=lambda r: r["line"])
    status = SourceStatus(
        source="hr",
        status="partial" if unreadable else "ok",
        error=f"{len(unreadable)} row(s) of {path.name} could not be used" if unreadable else None,
        detail={"file": str(path), "rows": len(people), "unusable_rows": unusable_rows},
    )
    return SourceResult(tables={"hr_people": list(people.values())}, statuses=[status], unreadable=unreadable)


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


def _duplicate_problem(row: dict[str, str], seen: dict[tuple[str, str], int]) -> tuple[tuple[str, str], str] | None:
    """The first of employee id, user name and email an earlier row already has: (its key, the problem)."""
    for column in ("employee_id", "user_name", "email"):
        key = (column, row[column].lower())
        if key in seen:
            return key, f"{column} {row[column]!r} already on line {seen[key]}"
    return None


def _undecodable(text: str) -> bool:
    """Whether ``text`` holds bytes that were not UTF-8 (decoded as lone surrogates)."""
    return any("\udc80" <= char <= "\udcff" for char in text)


def _encoding_problem(header: list[str], row: dict[str, str]) -> str | None:
    bad = [column for column in header if _undecodable(row.get(column, ""))]
    if not bad:
        return None
    sample = next(c for c in row[bad[0]] if _undecodable(c))
    return (
        f"{', '.join(bad)} not UTF-8 (byte 0x{ord(sample) - 0xDC00:02x}); save the HR feed as UTF-8 "
        "(a Latin-1 or Windows-1252 export, maybe)"
    )


def _clean(value: str | None) -> str | None:
    """An identity cell as kept for matching, or None when it is empty or not UTF-8."""
    return value if value and not _undecodable(value) else None


def _as_row(person: HrPerson) -> dict[str, str]:
    return {"user_name": person.user_name, "email": person.email}


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
