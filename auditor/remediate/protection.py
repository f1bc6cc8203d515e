"""Principals that are never touched: the configured allow-list and every break-glass name.

Checked when a plan is built and again, against names read live from AWS,
before anything is applied: a plan written before a principal was protected
(or edited by hand) still cannot touch it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from auditor.config import Settings
from auditor.model import Principal

# target values that name a principal (a policy ARN or an account id does not)
PRINCIPAL_KEYS = ("user_id", "user_name", "group_id", "principal_id", "access_key_id")


@dataclass(frozen=True)
class Protection:
    protected: tuple[str, ...]  # shell-style patterns over names, ids and ARNs
    break_glass: tuple[str, ...]  # case-insensitive substrings of names

    @classmethod
    def from_settings(cls, settings: Settings) -> Protection:
        return cls(
            protected=tuple(settings.get("remediation", "protected_principals")),
            break_glass=tuple(settings.get("rules", "break_glass_patterns")),
        )

    def why(self, names: Iterable[str | None]) -> str | None:
        """None when nothing named is protected; else which name and which setting protects it."""
        for name in names:
            if not name:
                continue
            lowered = name.lower()
            for pattern in self.break_glass:
                if pattern and pattern.lower() in lowered:
                    return f"{name!r} is a break-glass name ([rules] break_glass_patterns: {pattern!r})"
            for pattern in self.protected:
                if fnmatchcase(lowered, pattern.lower()):
                    return f"{name!r} is protected ([remediation] protected_principals: {pattern!r})"
        return None


def static_names(principal: Principal, target: dict[str, str]) -> list[str | None]:
    """What a revocation itself names: its principal and the principal keys of its target."""
    return [principal.id, principal.name, principal.arn, *(target.get(k) for k in PRINCIPAL_KEYS)]
