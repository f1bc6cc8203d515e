"""Time building the sandbox organisation, per size.

Each size is built and closed in turn in this process (one sandbox lives
per process), with the same seed and as-of, and the script prints the
wall time and what was built.

    python bench/sandbox_build.py [SIZE ...] [--seed N] [--as-of ISO]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from moto.s3.models import s3_backends

from auditor.sandbox import start_sandbox
from auditor.sandbox.estate import SIZES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", metavar="SIZE", help=f"any of {', '.join(SIZES)} (default: all)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", type=datetime.fromisoformat, default=None)
    args = parser.parse_args()
    unknown = set(args.sizes) - set(SIZES)
    if unknown:
        parser.error(f"unknown size {', '.join(sorted(unknown))}")
    print(f"{'size':<8}{'seconds':>9}{'accounts':>10}{'people':>8}{'planted':>9}{'clean':>7}{'log objects':>13}")
    for size in args.sizes or list(SIZES):
        with tempfile.TemporaryDirectory() as workdir:
            started = time.perf_counter()
            sandbox = start_sandbox(size=size, seed=args.seed, as_of=args.as_of, workdir=Path(workdir))
            seconds = time.perf_counter() - started
            with sandbox:
                people = sandbox.hr_feed.read_text(encoding="utf-8").count("\n") - 1
                bucket = s3_backends[sandbox.management_account_id]["aws"].get_bucket(sandbox.trail_bucket)
                objects = sum(1 for key in bucket.keys if "/CloudTrail/" in key)
                problems = Counter(p.problem for p in sandbox.planted)
                print(
                    f"{size:<8}{seconds:>9.1f}{len(sandbox.accounts):>10}{people:>8}{sum(problems.values()):>9}"
                    f"{len(sandbox.clean):>7}{objects:>13}"
                )


if __name__ == "__main__":
    main()
