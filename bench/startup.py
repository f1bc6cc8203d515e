"""Time a command's start: the interpreter, the imports, and the parser, before any work.

Every `auditor` command, the nightly run included, pays this once per
process (a Lambda on each cold start); at the sandbox's small size it is a
fifth of a second night. Each command line runs in a fresh interpreter
``--runs`` times; the script prints the median and the fastest wall time,
and the third-party packages each one loaded that a nightly run does not
use (those should stay unloaded).

    python bench/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

COMMANDS = (["--version"], ["run", "--help"], ["campaign", "--help"], ["--help"])
# loaded only by the commands that use them: the reviewer web app, packet workbooks, migrations, the live display
UNUSED_BY_RUN = ("starlette", "uvicorn", "jsonschema", "openpyxl", "alembic", "rich")
PROBE = (
    "import sys; from auditor.cli import main\n"
    "try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
    "print('\\n' + __import__('json').dumps(sorted(m for m in {unused!r} if m in sys.modules)))"
)


def wall_times(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "auditor.cli", *argv], stdout=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - started)
    return times


def loaded(argv: list[str]) -> list[str]:
    code = PROBE.format(argv=argv, unused=UNUSED_BY_RUN)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="fresh interpreters per command line (default 10)")
    args = parser.parse_args()
    print(f"{'command':<26}{'median s':>10}{'fastest s':>11}  loaded of {', '.join(UNUSED_BY_RUN)}")
    for argv in COMMANDS:
        times = wall_times(argv, args.runs)
        print(
            f"{'auditor ' + ' '.join(argv):<26}{statistics.median(times):>10.2f}{min(times):>11.2f}  "
            f"{', '.join(loaded(argv)) or '-'}",
            flush=True,
        )


if __name__ == "__main__":
    main()
