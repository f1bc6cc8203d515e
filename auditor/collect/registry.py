"""The collectors that call AWS, by source name, with the permissions each declares.

Each collector registers itself with ``@collector(source, permissions)``
(an explicit registry: no discovery). The pipeline takes its sources in
this order and the read-only IAM policy is the union of these permissions,
so a collector cannot run without its permissions being shipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Collector:
    source: str  # the manifest's source name
    permissions: tuple[str, ...]  # IAM actions, e.g. "iam:GetCredentialReport"
    collect: Callable[..., Any]


COLLECTORS: dict[str, Collector] = {}


def collector(source: str, permissions: Iterable[str]) -> Callable[[F], F]:
    """Register ``collect`` as the collector of ``source``; it must declare what it calls."""
    declared = tuple(permissions)

    def register(collect: F) -> F:
        if source in COLLECTORS:
            raise ValueError(f"collector {source!r} is registered twice")
        if not declared or any(":" not in permission for permission in declared):
            raise ValueError(f"collector {source!r} must declare its permissions as service:Action")
        COLLECTORS[source] = Collector(source, declared, collect)
        return collect

    return register


def collector_permissions() -> list[str]:
    """The union of every registered collector's permissions, sorted."""
    return sorted({permission for entry in COLLECTORS.values() for permission in entry.permissions})
