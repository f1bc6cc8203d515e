"""Policy documents compiled to statements over expanded actions, once per policy version.

A statement keeps what decides a request: its effect, the actions it
matches (Action expanded, or NotAction as every other action), the
resources it names (or NotResource), and whether a Condition narrows it.
Conditions are not evaluated (they depend on the request): a conditional
grant is kept and marked, never dropped and never taken as unconditional.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase

from auditor.permissions.catalog import Catalog

_VARIABLE = re.compile(r"\$\{([^}]*)\}")  # ${aws:username} and the like


class PolicyError(ValueError):
    """A policy document that is not JSON or not a policy."""


@dataclass(frozen=True)
class Statement:
    effect: str  # Allow | Deny
    actions: frozenset[str]  # canonical action names
    resources: tuple[str, ...]  # ARN patterns; with not_resource, the ones excluded
    not_resource: bool = False
    conditional: bool = False
    sid: str | None = None
    everything: bool = False  # Action "*" (every action there is)

    def matches_resource(self, resource: str, variables: dict[str, str] | None = None) -> bool:
        hit = any(resource_matches(pattern, resource, variables) for pattern in self.resources)
        return not hit if self.not_resource else hit

    @property
    def any_resource(self) -> bool:
        """Unscoped: Resource "*" (or a NotResource, which matches nearly everything)."""
        return (not self.not_resource and "*" in self.resources) or (self.not_resource and "*" not in self.resources)


def resource_matches(pattern: str, resource: str, variables: dict[str, str] | None = None) -> bool:
    """IAM's ARN matching: * and ? wildcards, case-sensitive.

    A policy variable the principal determines (``${aws:username}``) is
    replaced by its value; any other (a request's tag, say) matches anything.
    """
    if "${" in pattern:
        known = {k.lower(): v for k, v in (variables or {}).items()}
        pattern = _VARIABLE.sub(lambda m: known.get(m.group(1).lower(), "*"), pattern)
    return fnmatchcase(resource, pattern)


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def parse(document: str | dict | None) -> dict:
    if document is None:
        return {}
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise PolicyError(f"not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise PolicyError("a policy document is a JSON object")
    return document


def compile_document(document: str | dict | None, catalog: Catalog) -> tuple[Statement, ...]:
    """Every statement of an identity (or boundary) policy; raises PolicyError on a malformed document."""
    out = []
    for raw in _as_list(parse(document).get("Statement")):
        if not isinstance(raw, dict):
            raise PolicyError("a Statement element is not an object")
        effect = raw.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"Effect {effect!r} is neither Allow nor Deny")
        if "NotAction" in raw:
            excluded: frozenset[str] = frozenset().union(*(catalog.expand(str(a)) for a in _as_list(raw["NotAction"])))
            actions = catalog.everything - excluded
            everything = False
        else:
            patterns = [str(a) for a in _as_list(raw.get("Action"))]
            everything = any(p.strip() in ("*", "*:*") for p in patterns)
            actions = catalog.everything if everything else frozenset().union(*(catalog.expand(p) for p in patterns))
        not_resource = "NotResource" in raw and "Resource" not in raw
        resources = tuple(str(r) for r in _as_list(raw.get("NotResource" if not_resource else "Resource")))
        out.append(
            Statement(
                effect=effect,
                actions=actions,
                resources=resources or ("*",),
                not_resource=not_resource,
                conditional=bool(raw.get("Condition")),
                sid=raw.get("Sid"),
                everything=everything,
            )
        )
    return tuple(out)
