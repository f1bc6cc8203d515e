"""The trend over the last runs, drawn as an inline SVG stacked bar chart.

Drawn on the server (plain rectangles with CSS classes, no script, no
fonts, no network) so the chart prints, survives a strict Content Security
Policy and reads the same in every browser. Each bar is one run's
unresolved findings by severity, as the state store counted them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from auditor.exit_codes import EXIT_INCOMPLETE
from auditor.model import Finding
from auditor.report.common import UNRESOLVED_STATUSES
from auditor.report.views import SEVERITIES

WIDTH, HEIGHT = 760, 230
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 42


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def _day(as_of: str | datetime | None) -> str:
    if isinstance(as_of, datetime):
        return as_of.strftime("%Y-%m-%d")
    if not as_of:
        return "?"
    try:
        return datetime.fromisoformat(as_of.replace("Z", "+00:00")).strftime("%Y-%m-%d")
    except ValueError:
        return as_of[:10]


def _points(history: Mapping[str, Any], findings: Sequence[Finding], run_info: Mapping[str, Any]) -> list[dict]:
    """The recorded runs, plus this report when it is not one of them (an offline re-analysis)."""
    runs = [dict(run) for run in history.get("runs") or []]
    if run_info.get("run_id") not in {run.get("id") for run in runs}:
        runs.append(
            {
                "id": None,
                "as_of": run_info.get("as_of"),
                "exit_code": run_info.get("exit_status"),
                "by_severity": Counter(f.severity for f in findings if f.status in UNRESOLVED_STATUSES),
            }
        )
    return runs


def trend_chart(history: Mapping[str, Any], findings: Sequence[Finding], run_info: Mapping[str, Any]) -> dict[str, Any]:
    """Geometry and labels of the chart, plus the same numbers as a table for screen readers."""
    points = _points(history, findings, run_info)
    totals = [sum((run.get("by_severity") or {}).values()) for run in points]
    top = _nice_ceiling(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    band = plot_w / max(len(points), 1)
    bar = min(40.0, band * 0.7)
    label_every = max(1, math.ceil(len(points) / 12))
    days = [_day(run.get("as_of")) for run in points]
    repeated = len(set(days)) < len(days)  # several runs a day: the axis names the runs too
    bars = []
    for index, (run, total) in enumerate(zip(points, totals, strict=True)):
        counts = run.get("by_severity") or {}
        day = days[index]
        name = f"run {run['id']}" if run.get("id") is not None else "this report"
        label = day[5:] + (f" #{run['id']}" if repeated and run.get("id") is not None else "")
        incomplete = run.get("exit_code") == EXIT_INCOMPLETE
        x = LEFT + index * band + (band - bar) / 2
        y = TOP + plot_h
        segments = []
        for severity in reversed(SEVERITIES):  # info at the bottom, critical on top
            count = counts.get(severity, 0)
            if not count:
                continue
            height = plot_h * count / top
            y -= height
            segments.append({"severity": severity, "count": count, "y": round(y, 2), "height": round(height, 2)})
        segments.reverse()
        bars.append(
            {
                "x": round(x, 2),
                "width": round(bar, 2),
                "center": round(x + bar / 2, 2),
                "segments": segments,
                "total": total,
                "day": day,
                "label": label,
                "name": name,
                "incomplete": incomplete,
                "show_label": index % label_every == 0 or index == len(points) - 1,
                "counts": [counts.get(s, 0) for s in SEVERITIES],
            }
        )
    ticks = [
        {"value": value, "y": round(TOP + plot_h - plot_h * value / top, 2)}
        for value in sorted({0, top // 2, top} if top >= 2 else {0, top})
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "baseline": TOP + plot_h,
        "label_y": TOP + plot_h + 16,
        "ticks": ticks,
        "bars": bars,
        "any_incomplete": any(b["incomplete"] for b in bars),
    }


def resolve_times(history: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Time to resolve per severity, worst first, as the state store measured it."""
    times = history.get("time_to_resolve") or {}
    known = [s for s in SEVERITIES if s in times] + sorted(s for s in times if s not in SEVERITIES)
    return [{"severity": s, **times[s]} for s in known]
