"""The population the circuit breaker measures a plan against, counted from a snapshot.

The population is every identity that can hold access: Identity Center users
plus IAM users. A plan touching a group touches every member of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from auditor import snapshot as snapshots
from auditor.access import AccessModel
from auditor.snapshot import Snapshot
from auditor.store import Store


@dataclass(frozen=True)
class Population:
    size: int
    group_members: dict[str, frozenset[str]] = field(default_factory=dict)
    source: str = ""  # where it was counted, for messages

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot, source: str = "") -> Population:
        members = AccessModel(snapshot).members_by_group
        size = len(snapshot.table("idc_users")) + len(snapshot.table("iam_users"))
        return cls(size=size, group_members={g: frozenset(u) for g, u in members.items()}, source=source)

    def touched(self, subjects: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Distinct principals changed; a group stands for its members (itself when it has none known)."""
        principals: set[tuple[str, str]] = set()
        for kind, key in subjects:
            members = self.group_members.get(key) if kind == "idc_group" else None
            if members:
                principals.update(("idc_user", user_id) for user_id in members)
            else:
                principals.add((kind, key))
        return principals


def latest_snapshot(store: Store) -> tuple[Snapshot, dict] | None:
    """The snapshot of the latest recorded run, with the run; None when there is none to read."""
    run = store.latest_run()
    if run is None or not run.get("out_dir"):
        return None
    directory = Path(run["out_dir"]) / "snapshot"
    if not (directory / "manifest.json").is_file():
        return None
    return snapshots.load(directory), run


def population_from_store(store: Store) -> Population | None:
    found = latest_snapshot(store)
    if found is None:
        return None
    snapshot, run = found
    return Population.from_snapshot(snapshot, f"run {run['id']} as of {run['as_of'].isoformat()}")
