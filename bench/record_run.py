"""Time recording a run's findings in the state store, nightly at estate scale.

A nightly run ends by writing every finding's latest state and its row of
the run (``Store.record_run``). At 100,000 people a night has about 135,000
findings (bench/scale.py's analysis row). The script records a first night
(every finding new), a second (every finding seen again) and a third (a
tenth resolved, a tenth new) into a fresh SQLite store, and prints each
night's seconds.

    python bench/record_run.py [--findings N] [--store URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from auditor.model import Finding, Principal
from auditor.store import Store

AS_OF = datetime(2026, 6, 30, 6, tzinfo=UTC)


def findings(count: int, start: int = 0) -> list[Finding]:
    """Findings shaped as the rules make them (a principal, evidence, controls), one per synthetic user."""
    return [
        Finding(
            finding_id=f"{number:064x}",
            rule_id="idc-user-inactive",
            category="inactive",
            severity="medium",
            principal=Principal(type="idc_user", id=f"u-{number}", name=f"user{number}@example.com"),
            account_id=f"{100000000000 + number % 1000}",
            resource=None,
            title=f"user{number}@example.com has not signed in for 120 days",
            evidence={"last_sign_in": "2026-02-28T09:00:00Z", "threshold_days": 90, "assignments": 10},
            controls=["SOC2-CC6.2", "ISO27001-A.5.18"],
        )
        for number in range(start, start + count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--findings", type=int, default=135_000)
    parser.add_argument("--store", help="a SQLAlchemy URL (default: a SQLite file in a temporary directory)")
    args = parser.parse_args()
    first = findings(args.findings)
    tenth = args.findings // 10
    resolved = [
        msgspec.structs.replace(f, status="resolved", resolved_at=AS_OF + timedelta(days=2)) for f in first[:tenth]
    ]
    nights = [
        ("first: all new", first),
        ("second: all seen again", [msgspec.structs.replace(f, status="open", first_seen=AS_OF) for f in first]),
        ("third: a tenth resolved, a tenth new", resolved + first[tenth:] + findings(tenth, args.findings)),
    ]
    with tempfile.TemporaryDirectory() as workdir:
        store = Store.open(args.store or str(Path(workdir) / "state.db"))
        print(f"{'night':<40}{'findings':>10}{'seconds':>9}")
        for number, (label, now) in enumerate(nights):
            started = time.perf_counter()
            store.record_run(
                kind="run",
                started_at=AS_OF,
                as_of=AS_OF + timedelta(days=number),
                config_hash=None,
                tool_version="bench",
                exit_code=0,
                duration=0.0,
                findings_now=now,
                counts={},
                sources=[],
            )
            print(f"{label:<40}{len(now):>10,}{time.perf_counter() - started:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
