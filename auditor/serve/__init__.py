"""`auditor serve`: reviewers decide in a browser, campaign owners follow and close their campaigns.

``create_app(ServeConfig(...))`` is the ASGI application (Starlette);
``invite`` issues and sends the single-use sign-in links that open it.
"""

from auditor.serve.app import create_app
from auditor.serve.invite import Invitation, invite
from auditor.serve.web import ServeConfig

__all__ = ["Invitation", "ServeConfig", "create_app", "invite"]
