"""What a run prints: findings by severity and category, the sources' completeness, what changed, the outputs."""

from __future__ import annotations

from collections import Counter

from auditor import __version__
from auditor.model import SEVERITY_ORDER
from auditor.pipeline import RunResult
from auditor.snapshot import Snapshot
from auditor.summary import group_source_problems

SEVERITIES = [s.value for s in reversed(SEVERITY_ORDER)]


def print_summary(result: RunResult) -> None:
    severities = Counter(f.severity for f in result.findings)
    categories = Counter(f.category for f in result.findings)
    print(f"auditor {__version__}: {len(result.findings)} findings as of {result.snapshot.manifest.as_of.isoformat()}")
    print()
    print(f"  {'severity':<10} {'count':>6}")
    for severity in SEVERITIES:
        print(f"  {severity:<10} {severities.get(severity, 0):>6}")
    print()
    print(f"  {'category':<20} {'count':>6}")
    for category, count in sorted(categories.items(), key=lambda item: (-item[1], item[0])):
        print(f"  {category:<20} {count:>6}")
    print()
    print_sources(result.snapshot)
    statuses = Counter(f.status for f in result.findings)
    print(
        f"since the previous run: {statuses.get('new', 0)} new, {statuses.get('resolved', 0)} resolved, "
        f"{statuses.get('open', 0)} still open, {statuses.get('suppressed', 0)} suppressed"
    )
    for micro in result.micro_campaigns:
        print(f"micro-certification opened: {micro}")
    for name, path in result.outputs.items():
        print(f"{name}: {path}")


def print_sources(snapshot: Snapshot) -> None:
    """What could not be read, one line per (source, kind of problem); the manifest keeps every error."""
    groups = group_source_problems(snapshot.manifest)
    if not groups:
        print("All sources read completely.")
        return
    print("Incomplete sources (every error: snapshot/manifest.json):")
    for group in groups:
        print(f"  {group.line}")
