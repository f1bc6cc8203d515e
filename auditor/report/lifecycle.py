"""The "Lifecycle effectiveness" section (reports/templates/lifecycle.html.j2): in report.html, or a page of its own.

Only the report's own stylesheet is used (its classes), so the page's
Content Security Policy admits the same single hashed style.
"""

from __future__ import annotations

from auditor.report.pages import render_page, template_source


def render_metrics_page(metrics: dict) -> str:
    """``auditor metrics --format html``: the section alone, as a self-contained page."""
    return render_page(
        "lifecycle_page.html.j2",
        style=template_source("report.css"),
        title="Lifecycle effectiveness",
        lifecycle=metrics,
    )
