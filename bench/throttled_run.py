"""Time `auditor run` on the sandbox with and without throttling, side by side.

For each size a sandbox is built (one at a time: one sandbox lives per
process) and audited twice by `auditor run` in a child process, both times
through the loopback fault proxy so the proxy's own cost is on both sides:
once without faults, once with a share of every service's requests throttled
(S3 ``SlowDown``, the APIs ``Throttling``/``ThrottlingException``) plus a few
HTTP 500/503. The script prints the wall times, their ratio (the target is
at most 3x), the requests each run made and the faults it met, and whether
both runs ended with the same exit status and the same findings. The
throttled time varies from run to run: a phase ends with its unluckiest call,
and a call throttled many times in a row waits out its whole backoff.

    python bench/throttled_run.py [SIZE ...] [--rate 0.3] [--server-errors 0.02] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fault proxy lives beside the end-to-end tests

from auditor.sandbox import start_sandbox  # noqa: E402
from auditor.sandbox.estate import SIZES  # noqa: E402
from tests.e2e.fault_proxy import FaultProxy, server_errors, throttle  # noqa: E402


def audit(sandbox, endpoint: str, out: Path) -> tuple[float, int, list[str]]:
    """One `auditor run` in a child process against ``endpoint``: seconds, exit status, finding ids."""
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_SESSION_TOKEN")}
    env.update(sandbox.env())
    env["AWS_ENDPOINT_URL"] = endpoint
    command = [
        sys.executable,
        "-m",
        "auditor.cli",
        "run",
        "--config",
        str(sandbox.config_file),
        "--hr-feed",
        str(sandbox.hr_feed),
        "--out",
        str(out),
        "--as-of",
        sandbox.as_of.isoformat(),
        "--state",
        str(out.parent / f"{out.name}.db"),
    ]
    started = time.perf_counter()
    finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if finished.returncode not in (0, 1, 3):
        raise SystemExit(f"auditor run failed ({finished.returncode}):\n{finished.stderr[-2000:]}")
    findings = json.loads((out / "findings.json").read_text())
    return seconds, finished.returncode, sorted(f["finding_id"] for f in findings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", metavar="SIZE", help=f"any of {', '.join(SIZES)} (default: tiny small)")
    parser.add_argument("--rate", type=float, default=0.3, help="share of requests throttled (default 0.3)")
    parser.add_argument("--server-errors", type=float, default=0.02, help="share answered 500/503 (default 0.02)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    unknown = set(args.sizes) - set(SIZES)
    if unknown:
        parser.error(f"unknown size {', '.join(sorted(unknown))}")
    print(
        f"{'size':<8}{'requests':>10}{'clean s':>9}{'throttled s':>13}{'ratio':>7}"
        f"{'faults':>8}{'exit':>7}{'same findings':>15}"
    )
    for size in args.sizes or ["tiny", "small"]:
        with tempfile.TemporaryDirectory() as workdir:
            work = Path(workdir)
            with start_sandbox(size=size, seed=args.seed, workdir=work / "sandbox") as sandbox:
                with FaultProxy(sandbox.endpoint_url) as proxy:
                    clean_seconds, clean_exit, clean = audit(sandbox, proxy.endpoint, work / "clean")
                requests = proxy.forwarded.total()
                faults = [throttle(args.rate), server_errors(args.server_errors)]
                with FaultProxy(sandbox.endpoint_url, faults=faults, seed=args.seed) as proxy:
                    slow_seconds, slow_exit, slow = audit(sandbox, proxy.endpoint, work / "throttled")
                print(
                    f"{size:<8}{requests:>10}{clean_seconds:>9.1f}{slow_seconds:>13.1f}"
                    f"{slow_seconds / clean_seconds:>6.1f}x{proxy.injected.total():>8}"
                    f"{f'{clean_exit}/{slow_exit}':>7}{'yes' if clean == slow else 'NO':>15}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
