"""What each collector books about completeness: per table, and per optional attribute.

A source's one-word ``status`` cannot tell a rule whether the tables it
reads are whole: a permission set whose tags could not be read leaves the
assignments complete. So every collector books, next to its errors, how
completely each of its tables was listed and which optional attributes of
which objects could not be read; both go into the source's manifest entry.
Every error still reaches ``error`` and ``detail.errors`` as before.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import msgspec

from auditor.aws import describe_error
from auditor.collect.concurrency import Problems
from auditor.snapshot import COMPLETE, FAILED, TABLE_STATES, AttributeGap, SourceStatus


class Completeness:
    """The books of one source (for one account); thread-safe.

    Tables start complete and only get worse: a failed listing makes its
    table ``failed``, a failed call for some of its items ``partial``.
    """

    def __init__(self, tables: Iterable[str], problems: Problems | None = None) -> None:
        self.problems = problems if problems is not None else Problems()
        self._lock = threading.Lock()
        self._tables = dict.fromkeys(tables, COMPLETE)
        self._gaps: dict[tuple[str, str], dict[str, None]] = {}  # (what, error) -> objects, in order

    def mark(self, table: str, state: str) -> None:
        """Record ``state`` for ``table`` without an error of its own (it depends on another listing)."""
        if table not in self._tables:
            raise KeyError(f"table {table!r} is not one this source lists")
        with self._lock:
            if TABLE_STATES.index(state) > TABLE_STATES.index(self._tables[table]):
                self._tables[table] = state

    def table_error(
        self, table: str, state: str, exc: BaseException, service: str, operation: str, where: str | None = None
    ) -> str:
        """A listing behind ``table`` failed: entirely (``failed``) or for some items (``partial``).

        Returns the error as booked (without ``where``), for gaps it causes elsewhere.
        """
        error = describe_error(exc, service, operation)
        self.problems.note(f"{error} for {where}" if where else error)
        self.mark(table, state)
        return error

    def attribute_error(
        self,
        what: str,
        objects: Iterable[str],
        exc: BaseException,
        service: str,
        operation: str,
        where: str | None = None,
    ) -> None:
        """Attribute ``what`` (``"<record>.<field>"``) of ``objects`` could not be read; their tables stand."""
        error = describe_error(exc, service, operation)
        self.problems.note(f"{error} for {where}" if where else error)
        self.attribute_unknown(what, objects, error)

    def attribute_unknown(self, what: str, objects: Iterable[str], error: str) -> None:
        """Attribute ``what`` of ``objects`` is unknown because of an error already booked (``error``)."""
        objects = list(objects)
        if not objects:
            return
        with self._lock:
            self._gaps.setdefault((what, error), {}).update(dict.fromkeys(objects))

    @property
    def tables(self) -> dict[str, str]:
        with self._lock:
            return dict(self._tables)

    @property
    def attributes(self) -> list[AttributeGap]:
        with self._lock:
            return [
                AttributeGap(what=what, error=error, objects=list(objects))
                for (what, error), objects in sorted(self._gaps.items())
            ]

    def status(self, source: str, account_id: str | None, *, failed: bool, detail: dict) -> SourceStatus:
        """The manifest entry: ``Problems.status`` plus the per-table states and the attribute gaps."""
        status = self.problems.status(source, account_id, failed=failed, detail=detail)
        return msgspec.structs.replace(status, tables=self.tables, attributes=self.attributes)


def all_failed(status: SourceStatus, tables: Iterable[str]) -> SourceStatus:
    """``status`` of a source that could not list anything: every one of its tables failed."""
    return msgspec.structs.replace(status, tables=dict.fromkeys(tables, FAILED))
