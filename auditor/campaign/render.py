"""Rendering campaign pages (reviewer packets, evidence) with the report's page factory and this style.

The pages run no script; the factory's Content Security Policy admits
nothing but this inline style, by hash.
"""

from __future__ import annotations

from auditor.report.pages import render_page

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1d2330;max-width:80rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{border:1px solid #d0d5dd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f4f7}
.flag{color:#b42318;font-weight:600}.muted{color:#667085}
.kv th{width:14rem}code{background:#f2f4f7;padding:0 .2rem}
.warn{background:#fffaeb;border:1px solid #fec84b;padding:.5rem 1rem}
""".strip()


def render(template: str, **context) -> str:
    return render_page(template, style=STYLE, **context)
