"""What a task is handed and what it answers: the types the runner and every task share."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from auditor.config import Settings
from auditor.schedule.clock import Clock
from auditor.schedule.jobs import Job
from auditor.store import Store


@dataclass(frozen=True)
class Outcome:
    """What a task did: ok, incomplete (it ran, something could not be read or sent) or failed."""

    status: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class JobContext:
    """What every task is handed: nothing global, the clock included."""

    settings: Settings
    store: Store
    clock: Clock
    stop: threading.Event
    actor: str
    run_pipeline: Callable[..., Any]  # pipeline.run, or a stand-in without AWS
    publish: Callable[[Path], str]  # a finished run directory -> where readers find it (path or URL)


Task = Callable[[JobContext, Job, datetime], Outcome]
