"""Rendering campaign pages: jinja2 with autoescape, templates shipped as package data.

Names, tags and justifications come from the estate and from reviewers, so
every value reaches a page as escaped text, and a Content Security Policy
admits nothing but the page's own inline style (by hash).
"""

from __future__ import annotations

import base64
import hashlib
from importlib import resources

import jinja2

TEMPLATE_PACKAGE = "auditor.templates"

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


def _source(name: str) -> str:
    return resources.files(TEMPLATE_PACKAGE).joinpath(name).read_text(encoding="utf-8")


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_source),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def content_security_policy() -> str:
    digest = base64.b64encode(hashlib.sha256(STYLE.encode("utf-8")).digest()).decode()
    return f"default-src 'none'; base-uri 'none'; form-action 'none'; style-src 'sha256-{digest}'"


def render(template: str, **context) -> str:
    return environment().get_template(template).render(style=STYLE, csp=content_security_policy(), **context)
