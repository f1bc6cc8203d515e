"""Structured logs for an unattended scheduler: text for people, one JSON object per line for shippers.

Fields given with ``extra={...}`` (job, kind, status, detail ...) become
keys of the JSON object, or ``key=value`` pairs after the text message.
A database URL's password is masked in every line (a failed job's error
can quote the state store's URL).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

from auditor.store.urls import redact

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def _fields(record: logging.LogRecord) -> dict:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str, sort_keys=False))


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging API
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="seconds")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = " ".join(f"{k}={json.dumps(v, default=str)}" for k, v in _fields(record).items())
        return redact(f"{text} {extra}" if extra else text)


def configure_logging(fmt: str = "text", stream: TextIO | None = None, level: int = logging.INFO) -> logging.Handler:
    """Send the auditor's and APScheduler's logs to ``stream`` (stderr) in ``fmt``; returns the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    for name in ("auditor", "apscheduler"):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, "_auditor", False)]:
            logger.removeHandler(old)
        handler._auditor = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
    return handler
