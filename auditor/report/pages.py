"""HTML pages: templates shipped as package data, autoescaped, under a policy that admits only their own code.

Every page this tool writes (the report, the compliance export, campaign
packets and evidence) is rendered here. Names, tags and justifications come
from the estate and from reviewers, so every value reaches a page as escaped
text; the page's own inline style and script are the only code a browser
runs, admitted by hash by a Content Security Policy with no network source.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

TEMPLATE_PACKAGE = "auditor.templates"


def template_source(name: str) -> str:
    """Templates are package data, so a wheel (or a zip) renders like a source tree."""
    return resources.files(TEMPLATE_PACKAGE).joinpath(name).read_text(encoding="utf-8")


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(template_source),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def content_security_policy(script: str | None, style: str) -> str:
    """No network source at all; only the page's own inline script and style run."""
    script_src = csp_hash(script) if script is not None else "'none'"
    return (
        f"default-src 'none'; base-uri 'none'; form-action 'none'; script-src {script_src}; style-src {csp_hash(style)}"
    )


def render_page(template: str, *, style: str, script: str | None = None, **context: Any) -> str:
    """Render ``template`` with ``csp``, ``style`` and ``script`` set so the policy's hashes match the page.

    The style and script are the tool's own text, passed through unescaped:
    escaping them would change the bytes the browser hashes, and the policy
    would then refuse them.
    """
    return (
        environment()
        .get_template(template)
        .render(
            context,
            csp=content_security_policy(script, style),
            style=Markup(style),
            script=Markup(script) if script is not None else None,
        )
    )
