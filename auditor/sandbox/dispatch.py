"""moto's request dispatcher, resolving each service's application once instead of on every request.

moto picks the application for each request under one lock, and on the way
lists its own package directory (a few hundred ``isdir`` calls): about a
millisecond per request during which no other request is dispatched. The
sandbox's endpoint then serves one request at a time however many a client
sends at once, which no AWS endpoint does, and a benchmark measures the
emulator's queue instead of the product. For a signed request the
application depends only on the host moto infers from it (the service and
region the signature names, and a few path and header forms), so the
dispatcher resolves each inferred host once, by moto's own code, and reuses
the answer.
"""

from __future__ import annotations

from typing import Any

from moto.server import DomainDispatcherApplication

_MOTO_PATHS = ("/moto-api", "/latest/", "/favicon.ico")  # moto's own endpoints and instance metadata


class Dispatcher(DomainDispatcherApplication):
    """``DomainDispatcherApplication`` with each signed request's application resolved once per inferred host."""

    def __init__(self, create_app) -> None:
        super().__init__(create_app)
        self._resolved: dict[str | None, Any] = {}

    def get_application(self, environ: dict[str, Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if isinstance(path, bytes):
            path = path.decode("utf-8")
        if not environ.get("HTTP_AUTHORIZATION") or path.startswith(_MOTO_PATHS):
            return super().get_application(environ)  # unsigned: moto reads the body to choose
        host = self.infer_service_region_host(environ, path)
        application = self._resolved.get(host)
        if application is None:
            application = self._resolved[host] = super().get_application(environ)
        return application
