"""The estate-scale figures side by side: `auditor run` on sandbox sizes, two nights each, and analysis at 100k users.

For each sandbox size (built one at a time in this process; one sandbox
lives per process) `auditor run` runs twice in a child process against the
same state store and output directory: the first night as of a day before
the sandbox's as-of, and the second night a day later, which reads what was
delivered since. `--delivery-minutes 5` lays the trail out as CloudTrail
does (an object per account, region and five minutes with events) instead
of the sandbox's default eight-hour objects. For each night it prints

  objects     CloudTrail log objects read (the manifest's objects_read)
  GetObject   requests served, over the lower bound: every log object of the window read once (the
              second night: every object delivered since the first night's as-of)
  List        ListObjectsV2 requests, over the lower bound: the root, each account's region folders,
              one page per 1,000 keys of each region's window
  other       every other request (Organizations, Identity Center, IAM, STS, ...)
  wall, CPU   of the child and its worker processes (os.wait4: user + system time)
  ms/obj      the run's CPU per log object read (everything the run does, over the objects)
  trail ms/obj  the first night's CPU less the second's, over the objects fetched less the second's:
              what fetching, decoding and reducing an object costs (the rest is done again each night)
  of night 1  the second night's wall time over the first's
  peak RSS    of the child (the largest of its processes), started from a small launcher process
  records/s   CloudTrail records read per second of wall time
  x gunzip    the run's CPU over one core's zlib gunzip of the same objects' bytes

Requests are counted by a WSGI wrapper around the sandbox's server, so
nothing sits between the product and the endpoint. Then an analysis-only
figure: a snapshot of 100,000 users, 1,000 accounts and about 1,000,000
(user, account, permission set) paths is written (bench/analysis_snapshot.py,
no emulator) and `auditor analyze` runs on it (target: < 60 s, < 4 GB).

    python bench/scale.py [SIZE ...] [--seed N] [--delivery-minutes N] [--users N] [--accounts N]
                          [--no-sandbox] [--no-analysis]

Sizes default to small and medium; large (24 accounts, 900 people) takes minutes to build and read.
"""

from __future__ import annotations

import argparse
import compileall
import io
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))  # the snapshot writer beside this script

from analysis_snapshot import paths as estate_paths  # noqa: E402
from analysis_snapshot import write as write_snapshot  # noqa: E402

import auditor  # noqa: E402
from auditor.collect.cloudtrail_s3 import parse_log_key  # noqa: E402
from auditor.sandbox import start_sandbox  # noqa: E402
from auditor.sandbox.estate import SIZES  # noqa: E402

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
LOOKBACK_DAYS = 120  # [cloudtrail] lookback_days' default, which the sandbox's config keeps
PAGE = 1000  # ListObjectsV2 keys per page


class Counting:
    """A WSGI wrapper that counts requests by (service, operation)."""

    def __init__(self, app) -> None:
        self.app = app
        self.seen: Counter = Counter()
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        service = scope.group(1) if scope else "?"
        operation = (environ.get("HTTP_X_AMZ_TARGET") or "").rsplit(".", 1)[-1]
        if not operation and service == "s3":
            path = environ.get("PATH_INFO", "").strip("/")
            query = environ.get("QUERY_STRING", "")
            if environ["REQUEST_METHOD"] == "GET" and "/" in path:
                operation = "GetObject"
            elif environ["REQUEST_METHOD"] == "GET" and "list-type=2" in query:
                operation = "ListObjectsV2"
            else:
                operation = environ["REQUEST_METHOD"]
        elif not operation:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            query = parse_qs(body.decode("utf-8", "replace")) or parse_qs(environ.get("QUERY_STRING", ""))
            operation = (query.get("Action") or ["?"])[0]
        with self._lock:
            self.seen[(service, operation)] += 1
        return self.app(environ, start_response)


def trail_objects(sandbox) -> dict[str, bytes]:
    """Every CloudTrail log object in the trail bucket, by key (read from the emulator's memory)."""
    from moto.s3.models import s3_backends

    bucket = s3_backends[sandbox.management_account_id]["aws"].get_bucket(sandbox.trail_bucket)
    return {key: bucket.keys[key].value for key in bucket.keys if parse_log_key(key) is not None}


def delivered_since(keys: list[str], moment: datetime) -> tuple[int, int]:
    """(GetObject, ListObjectsV2) of a next night: the objects delivered after ``moment`` (the time in the file
    name, as the collector reads it), listed from where the night before stopped."""
    return requests_needed(keys, lambda key: parse_log_key(key).delivered > moment)


def lower_bound(keys: list[str], as_of: datetime) -> tuple[int, int]:
    """(GetObject, ListObjectsV2) the collector cannot do with fewer, for the days it lists as of ``as_of``."""
    first = (as_of - timedelta(days=LOOKBACK_DAYS + 1)).strftime("%Y/%m/%d")
    last = (as_of + timedelta(days=1)).strftime("%Y/%m/%d")
    return requests_needed(keys, lambda key: first <= key.partition("/CloudTrail/")[2].partition("/")[2][:10] <= last)


def requests_needed(keys: list[str], wanted) -> tuple[int, int]:
    """One GetObject per ``wanted`` key; one listing of the root, one per account, one page per 1,000 wanted keys
    of a region (at least one)."""
    wanted_in: Counter = Counter()
    regions, accounts = set(), set()
    for key in keys:
        head, _, rest = key.partition("/CloudTrail/")
        region = (head, rest.partition("/")[0])
        accounts.add(head)
        regions.add(region)
        if wanted(key):
            wanted_in[region] += 1
    return sum(wanted_in.values()), 1 + len(accounts) + sum(max(1, math.ceil(wanted_in[r] / PAGE)) for r in regions)


# Runs each command it reads (JSON: argv and environment) and writes back its exit status, wall, CPU and
# peak RSS. Linux counts the memory a process held when it exec'd into the peak RSS wait4 reports, so a
# child started from this process, which holds the sandbox's estate, would report this process's size.
# The launcher is started first, while this process is small.
_LAUNCHER = """
import json, os, subprocess, sys, time
for line in sys.stdin:
    job = json.loads(line)
    began = time.perf_counter()
    child = subprocess.Popen(job["argv"], env=job["env"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    print(json.dumps({
        "code": os.waitstatus_to_exitcode(status),
        "wall": time.perf_counter() - began,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_gb": usage.ru_maxrss / 1e6,
        "stderr": stderr.decode(errors="replace")[-2000:],
    }), flush=True)
"""


class Launcher:
    """Commands run by a small process of their own, so that wait4's peak RSS is theirs (see ``_LAUNCHER``)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def run(self, argv: list[str], env: dict[str, str] | None = None) -> dict:
        self.process.stdin.write(json.dumps({"argv": argv, "env": env or dict(os.environ)}) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())


LAUNCHER: Launcher | None = None  # started by main(), before any sandbox


def run_night(sandbox, out: Path, state: Path, as_of: datetime) -> dict:
    """One `auditor run` in a child: wall, CPU and peak RSS from wait4, and the manifest's CloudTrail totals."""
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_SESSION_TOKEN")}
    env.update(sandbox.env())
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
        as_of.isoformat(),
        "--state",
        str(state),
    ]
    ran = LAUNCHER.run(command, env)
    if ran["code"] not in (0, 1, 3):
        raise SystemExit(f"auditor run failed ({ran['code']}):\n{ran['stderr']}")
    manifest = json.loads((out / "snapshot" / "manifest.json").read_text())
    trail = [s["detail"] for s in manifest["sources"] if s["source"] == "cloudtrail" and s.get("account_id")]
    return {
        "wall": ran["wall"],
        "cpu": ran["cpu"],
        "rss_gb": ran["rss_gb"],
        "objects": sum(d.get("objects_read", 0) for d in trail),
        "records": sum(d.get("records", 0) for d in trail),
    }


def gunzip_seconds(blobs: list[bytes]) -> float:
    """One core's zlib inflate of ``blobs`` (best of two)."""
    best = math.inf
    for _ in range(2):
        began = time.process_time()
        for blob in blobs:
            zlib.decompress(blob, 31)
        best = min(best, time.process_time() - began)
    return best


def sandbox_rows(sizes: list[str], seed: int, delivery_minutes: int | None) -> None:
    print(
        f"{'size':<8}{'night':>6}{'objects':>9}{'GetObject':>17}{'List':>13}{'other':>7}{'wall s':>8}{'CPU s':>7}"
        f"{'ms/obj':>8}{'trail ms/obj':>14}{'RSS GB':>8}{'records/s':>11}{'x gunzip':>10}{'of night 1':>12}"
    )
    for size in sizes:
        with tempfile.TemporaryDirectory() as workdir:
            work = Path(workdir)
            with start_sandbox(
                size=size, seed=seed, workdir=work / "sandbox", delivery_minutes=delivery_minutes
            ) as sandbox:
                counting = Counting(sandbox._server.app)
                sandbox._server.app = counting
                objects = trail_objects(sandbox)
                floor = gunzip_seconds(list(objects.values()))
                nights = []
                for as_of in (sandbox.as_of - timedelta(days=1), sandbox.as_of):
                    if nights:  # the next night needs only what was delivered after the night before
                        needed = delivered_since(list(objects), as_of - timedelta(days=1))
                    else:
                        needed = lower_bound(list(objects), as_of)
                    before = Counter(counting.seen)
                    figures = run_night(sandbox, work / "out", work / "state.db", as_of)
                    figures["made"], figures["needed"] = counting.seen - before, needed
                    nights.append(figures)
            # what reading an object costs: the second night does all the rest again, and reads fewer objects
            fetched = [night["made"][("s3", "GetObject")] for night in nights]
            extra = fetched[0] - fetched[1]
            trail = 1000 * (nights[0]["cpu"] - nights[1]["cpu"]) / extra if extra > 0 else math.nan
            for night, figures in enumerate(nights, 1):
                made = figures["made"]
                gets = made[("s3", "GetObject")]
                lists = made[("s3", "ListObjectsV2")]
                other = sum(made.values()) - gets - lists
                gets_needed, lists_needed = figures["needed"]
                per_object = 1000 * figures["cpu"] / figures["objects"] if figures["objects"] else math.nan
                marginal = f"{trail:.2f}" if night == 1 else "-"
                share = f"{100 * figures['wall'] / nights[0]['wall']:.1f}%" if night == 2 else "-"
                print(
                    f"{size:<8}{night:>6}{figures['objects']:>9,}{f'{gets:,}/{gets_needed:,}':>17}"
                    f"{f'{lists}/{lists_needed}':>13}{other:>7,}{figures['wall']:>8.1f}{figures['cpu']:>7.1f}"
                    f"{per_object:>8.2f}{marginal:>14}{figures['rss_gb']:>8.2f}"
                    f"{figures['records'] / figures['wall']:>11,.0f}{figures['cpu'] / floor:>9.0f}x{share:>12}",
                    flush=True,
                )


def analysis_row(users: int, accounts: int, seed: int) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        work = Path(workdir)
        began = time.perf_counter()
        counts = write_snapshot(work / "snapshot", users, accounts, seed)
        written = time.perf_counter() - began
        command = [
            sys.executable,
            "-m",
            "auditor.cli",
            "analyze",
            "--snapshot",
            str(work / "snapshot"),
            "--out",
            str(work / "out"),
            "--state",
            str(work / "state.db"),
        ]
        ran = LAUNCHER.run(command)
        if ran["code"] not in (0, 1, 3):
            raise SystemExit(f"auditor analyze failed ({ran['code']}):\n{ran['stderr']}")
        findings = len(json.loads((work / "out" / "findings.json").read_text()))
        report_mb = (work / "out" / "report.html").stat().st_size / 1e6
        print(
            f"\n{'analysis':<10}{'users':>9}{'accounts':>10}{'paths':>11}{'findings':>10}"
            f"{'wall s':>8}{'CPU s':>7}{'RSS GB':>8}{'report MB':>11}{'snapshot written s':>20}"
        )
        print(
            f"{'analyze':<10}{counts['idc_users']:>9,}{counts['accounts']:>10,}{estate_paths(users, accounts):>11,}"
            f"{findings:>10,}{ran['wall']:>8.1f}{ran['cpu']:>7.1f}{ran['rss_gb']:>8.2f}"
            f"{report_mb:>11.1f}{written:>20.1f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", metavar="SIZE", help=f"any of {', '.join(SIZES)} (default: small medium)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--delivery-minutes",
        type=int,
        help="events per log object, in minutes (CloudTrail's: 5; default: the sandbox's)",
    )
    parser.add_argument("--users", type=int, default=100_000, help="analysis snapshot: users (default 100,000)")
    parser.add_argument("--accounts", type=int, default=1_000, help="analysis snapshot: accounts (default 1,000)")
    parser.add_argument("--no-sandbox", action="store_true", help="only the analysis figure")
    parser.add_argument("--no-analysis", action="store_true", help="only the sandbox figures")
    args = parser.parse_args()
    unknown = set(args.sizes) - set(SIZES)
    if unknown:
        parser.error(f"unknown size {', '.join(sorted(unknown))} (the sandbox has {', '.join(SIZES)})")
    # A night runs from bytecode, as an installed package does (pip compiles it at install); from a source
    # checkout with PYTHONDONTWRITEBYTECODE set, each night would compile every module again (half a second).
    compileall.compile_dir(Path(auditor.__file__).parent, quiet=1)
    global LAUNCHER
    LAUNCHER = Launcher()
    if not args.no_sandbox:
        sandbox_rows(args.sizes or ["small", "medium"], args.seed, args.delivery_minutes)
    if not args.no_analysis:
        analysis_row(args.users, args.accounts, args.seed)


if __name__ == "__main__":
    main()
