"""Showing a database URL without its password: the one helper every message, log line and listing uses."""

from __future__ import annotations

import re

import sqlalchemy as sa

# scheme://user:password@ anywhere in a text (an error message, a traceback)
_CREDENTIALS = re.compile(r"(?P<head>\b[a-zA-Z][\w+.-]*://[^\s:/@]*:)[^\s@/]+@")


def display_url(url: str) -> str:
    """The URL with its password masked (``***``), as SQLAlchemy renders it; unparsable text is redacted."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        return redact(url)


def redact(text: str) -> str:
    """Any ``scheme://user:password@`` in ``text`` with the password masked."""
    return _CREDENTIALS.sub(r"\g<head>***@", text)
