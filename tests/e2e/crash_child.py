"""`auditor run` that halts at one pipeline step for a crash test: it tells the test, then waits to be killed.

    python -m tests.e2e.crash_child STEP run --config ... (STEP: a function of auditor.pipeline, e.g. conclude)

The step is replaced before the command runs; when the run reaches it, the
step's name is written to the file descriptor in ``CRASH_FD`` and the run
waits forever, so the test kills it at exactly that point (a pipe: if the
run ends early instead, the test reads end-of-file rather than waiting).
"""

from __future__ import annotations

import os
import sys
import threading

from auditor import pipeline
from auditor.cli import main


def halt_at(step: str) -> None:
    def halted(*_args, **_kwargs):
        os.write(int(os.environ["CRASH_FD"]), f"{step}\n".encode())
        threading.Event().wait()

    if not callable(getattr(pipeline, step, None)):
        raise SystemExit(f"auditor.pipeline has no step {step!r}")
    setattr(pipeline, step, halted)


if __name__ == "__main__":
    halt_at(sys.argv[1])
    sys.exit(main(sys.argv[2:]))
